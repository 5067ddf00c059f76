/** Reading `ip -json` output into the observed-state model. */
import type { LinkKind, ObservedLink } from '../../core/observed.js';

interface IpAddrInfo {
  family?: string;
  local?: string;
  prefixlen?: number;
  scope?: string;
}

interface IpLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu: number;
  operstate?: string;
  master?: string;
  ifalias?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: Record<string, unknown>;
    info_slave_kind?: string;
    info_slave_data?: Record<string, unknown>;
  };
  addr_info?: IpAddrInfo[];
  stats64?: { rx?: { bytes?: number; packets?: number }; tx?: { bytes?: number; packets?: number } };
}

const count = (n: number | undefined): number => (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : 0);

function kindOf(kind: string | undefined): LinkKind {
  return kind === 'vxlan' || kind === 'bridge' || kind === 'veth' ? kind : 'other';
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function parseIpLinks(json: string): ObservedLink[] {
  const links = JSON.parse(json) as IpLink[];
  return links.map((l): ObservedLink => {
    const kind = kindOf(l.linkinfo?.info_kind);
    const data = l.linkinfo?.info_data ?? {};
    const slave = l.linkinfo?.info_slave_kind === 'bridge' ? (l.linkinfo.info_slave_data ?? {}) : {};
    const flags = l.flags ?? [];
    return {
      name: l.ifname,
      index: l.ifindex,
      kind,
      mtu: l.mtu,
      up: flags.includes('UP'),
      running: flags.includes('UP') && flags.includes('LOWER_UP'),
      alias: l.ifalias ?? null,
      master: l.master ?? null,
      isolated: slave.isolated === true,
      vxlan:
        kind === 'vxlan'
          ? {
              vni: Number(data.id),
              local: str(data.local) ?? str(data.local6),
              remote: str(data.remote) ?? str(data.remote6),
              port: Number(data.port),
              learning: data.learning === true,
              udp6zerocsumrx: data.udp_zero_csum6_rx === true,
            }
          : null,
      addresses: (l.addr_info ?? [])
        .filter((a) => a.local && a.scope !== 'link' && (a.family === 'inet' || a.family === 'inet6'))
        .map((a) => `${a.local}/${a.prefixlen}`),
      counters: l.stats64
        ? { rxBytes: count(l.stats64.rx?.bytes), txBytes: count(l.stats64.tx?.bytes), rxPackets: count(l.stats64.rx?.packets), txPackets: count(l.stats64.tx?.packets) }
        : null,
    };
  });
}

/** `ip -json route get ADDR` -> the device and, when the route carries one, its MTU. */
export function parseRouteGet(json: string): { dev: string; mtu: number | null } {
  const routes = JSON.parse(json) as { dev?: string; metrics?: { mtu?: number }[] }[];
  const r = routes[0];
  if (!r?.dev) throw new Error('no route');
  const mtu = r.metrics?.find((m) => typeof m.mtu === 'number')?.mtu ?? null;
  return { dev: r.dev, mtu };
}

/** iputils ping: "64 bytes from ...: icmp_seq=1 ttl=64 time=0.123 ms". */
export function parsePingRtt(output: string): number | null {
  const m = /time[=<]([\d.]+) ms/.exec(output);
  return m ? Number(m[1]) : null;
}
