/** The meshvpc HTTP API (docs/api.md) as the console uses it. */
import type { TokenInfo, TunnelStatus } from '../../src/console/shapes.js';

export { isReadOnly, mapOf, READ_ONLY_WHY, type Member, type Operation, type Pair, type TokenInfo, type TunnelStatus, type VpcDetail } from '../../src/console/shapes.js';

const TOKEN_KEY = 'meshvpc.token';

export const storedToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const storeToken = (t: string | null): void => {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
};

/** A refusal, carrying the API's own words. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly kind: string, message: string) {
    super(message);
  }
}

let onUnauthorized: (message: string) => void = () => undefined;
/** Called when the server refuses the token (401): the console goes back to its login. */
export function setUnauthorizedHandler(fn: (message: string) => void): void {
  onUnauthorized = fn;
}

export const TOKEN_REFUSED = 'That token was not accepted. Paste a valid API token (meshvpc token mode=create on the server host).';

/** Read `{"error":{"kind","message"}}`, or say what came back instead. */
async function refusal(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { kind?: string; message?: string } };
    if (body.error?.message) return new ApiError(res.status, body.error.kind ?? 'failed', body.error.message);
  } catch {
    /* not JSON: described below */
  }
  const retry = res.headers.get('Retry-After');
  const extra = res.status === 429 ? ` Too many attempts${retry ? `: try again in ${retry} s` : ''}.` : '';
  return new ApiError(res.status, 'failed', `The server answered ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ''}.${extra}`);
}

export async function call<T>(method: string, path: string, body?: unknown, token: string | null = storedToken()): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        Accept: 'application/json',
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw new ApiError(0, 'unreachable', `The meshvpc server did not answer (${e instanceof Error ? e.message : String(e)}).`);
  }
  if (res.status === 401) {
    // Only a token that was sent can be refused (a late answer after logout sent none).
    if (token) onUnauthorized(TOKEN_REFUSED);
    throw new ApiError(401, 'unauthorized', TOKEN_REFUSED);
  }
  if (!res.ok) throw await refusal(res);
  const text = await res.text();
  return (text ? JSON.parse(text) : null) as T;
}

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

// ---- shapes (lenient: every field the console reads is optional or checked) ----

export interface HostInfo {
  nodename: string;
  ip4: string | null;
  ip6: string | null;
  platform: string;
  version: string;
  /** The caller's own token (older servers leave it out); role `read` may only GET. */
  token?: TokenInfo;
}

export interface NodeRow {
  name: string;
  ip4: string | null;
  ip6: string | null;
  ssh?: string;
  platform?: string;
}

export interface VpcRow {
  name: string;
  peer_network: string;
  underlay: string;
  mtu: number | string;
  firewall: boolean;
  /** Absent from a server before 0.4. */
  encrypt?: string;
  /** control or learn; absent from a server before 0.5. */
  fdb?: string;
  members: string;
  pairs: number;
  vxlan: boolean;
  bridge: boolean;
}

export interface VpcStatus {
  vpc: string;
  ok: boolean;
  hosts: { node: string; ok: boolean; error: string | null; tunnels: TunnelStatus[] }[];
}

export interface Container {
  jname: string;
  node: string;
  interface: string;
  ip4_addr: string;
  ip6_addr: string;
  vnet?: boolean;
  status: string;
  host_if?: string;
}

export interface ContainerList {
  containers: Container[];
  unreachable: { node: string; error: string }[];
}

export interface Accepted {
  operation: string;
  id: string;
}
