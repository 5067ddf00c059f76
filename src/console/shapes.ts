/** Shapes of the API's answers (docs/api.md) as the web console reads them; pure, see sse-parse.ts. */

export interface Member {
  node: string;
  underlay: string;
}

export interface Pair {
  vni: number;
  a: string;
  b: string;
  addrA: string;
  addrB: string;
  prefix: number;
}

export interface VpcDetail {
  name?: string;
  members?: (Member | string)[];
  pairs?: Pair[];
  vpc?: { members?: (Member | string)[]; pairs?: Pair[] };
  [k: string]: unknown;
}

export interface TunnelStatus {
  node: string;
  tunnel: string;
  peer: string;
  vni?: number;
  present: boolean;
  up: boolean;
  mtu?: number | null;
  isolated?: boolean;
  rtt_ms: number | null;
}

export interface Operation {
  id: string;
  op: string;
  vpc: string;
  status: 'running' | 'success' | 'failure';
  events?: unknown[];
  result?: unknown;
  error?: unknown;
}

/** `GET /host`'s `token`: the caller's own token. Older servers do not send it. */
export interface TokenInfo {
  name: string;
  role: 'admin' | 'read' | string;
}

/** Why a control is disabled for a read token (its `title`). */
export const READ_ONLY_WHY = 'this token may only read';

/** Only a token the server names `read` is read-only; an unknown role is left to the server to refuse. */
export const isReadOnly = (token: TokenInfo | null | undefined): boolean => token?.role === 'read';

/** Members and pairs of a VPC, wherever the detail answer puts them. */
export function mapOf(d: VpcDetail | null): { members: string[]; pairs: Pair[] } {
  if (!d) return { members: [], pairs: [] };
  const raw = d.members ?? d.vpc?.members ?? [];
  const members = raw.map((m) => (typeof m === 'string' ? m : m.node)).filter(Boolean);
  const pairs = d.pairs ?? d.vpc?.pairs ?? [];
  for (const p of pairs) for (const n of [p.a, p.b]) if (!members.includes(n)) members.push(n);
  return { members: [...members].sort(), pairs };
}
