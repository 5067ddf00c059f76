/** The selected VPC as a picture: member hosts on a circle, one edge per host pair, coloured by tunnel health. */
import type { Pair } from './api';
import { edgeOf, rttText, type HostReports, type TunnelMap } from '../../src/console/health.js';

export { tunnelKey, type HostReports, type TunnelMap } from '../../src/console/health.js';

const SIZE = 320;
const C = SIZE / 2;

export function Topology(props: { vpc: string; members: string[]; pairs: Pair[]; tunnels: TunnelMap; hosts: HostReports; self: string | null }) {
  const { members, pairs } = props;
  const n = members.length;
  const R = n <= 1 ? 0 : 112;
  const pos = new Map(
    members.map((m, i) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1);
      return [m, { x: C + R * Math.cos(angle), y: C + R * Math.sin(angle) }];
    }),
  );
  const edges = pairs.map((p) => edgeOf(p, props.tunnels, props.hosts));
  // Fit the picture to the hosts (a triangle leaves the bottom of the circle empty).
  const xs = [...pos.values()].map((p) => p.x);
  const ys = [...pos.values()].map((p) => p.y);
  const M = 34;
  const box = xs.length ? [Math.min(...xs) - M, Math.min(...ys) - M, Math.max(...xs) - Math.min(...xs) + 2 * M, Math.max(...ys) - Math.min(...ys) + 2 * M] : [0, 0, SIZE, SIZE];
  return (
    <div class="topology">
      <svg
        data-testid="topology"
        data-vpc={props.vpc}
        viewBox={box.map((b) => b.toFixed(1)).join(' ')}
        role="img"
        aria-label={`Topology of ${props.vpc}: ${n} hosts, ${edges.length} host pairs, ${edges.filter((e) => e.health === 'up').length} up`}
      >
        {edges.map((e) => {
          const a = pos.get(e.pair.a);
          const b = pos.get(e.pair.b);
          if (!a || !b) return null;
          const mx = (a.x + b.x) / 2;
          const my = (a.y + b.y) / 2;
          const label = rttText(e.rtt);
          return (
            <g
              key={`${e.pair.vni}`}
              class={`edge ${e.health}`}
              data-testid="topo-edge"
              data-a={e.pair.a}
              data-b={e.pair.b}
              data-vni={String(e.pair.vni)}
              data-health={e.health}
              data-rtt={e.rtt === null ? '' : String(e.rtt)}
            >
              <title>{`${e.pair.a} ↔ ${e.pair.b} (VNI ${e.pair.vni}): ${e.health}. ${e.why}`}</title>
              <line x1={a.x} y1={a.y} x2={b.x} y2={b.y} />
              {label && (
                <g class="rtt">
                  <rect x={mx - 26} y={my - 9} width="52" height="18" rx="9" />
                  <text x={mx} y={my + 4} text-anchor="middle">
                    {label}
                  </text>
                </g>
              )}
            </g>
          );
        })}
        {members.map((m) => {
          const p = pos.get(m);
          if (!p) return null;
          const h = props.hosts.get(m);
          const state = h ? (h.ok ? 'ok' : 'bad') : 'unknown';
          const name = m.length > 10 ? `${m.slice(0, 9)}…` : m;
          return (
            <g key={m} class={`node ${state}${m === props.self ? ' self' : ''}`} data-testid="topo-node" data-node={m}>
              <title>{`${m}${m === props.self ? ' (this host)' : ''}: ${h ? (h.ok ? 'answered' : (h.error ?? 'did not answer')) : 'not reported yet'}`}</title>
              <circle cx={p.x} cy={p.y} r="26" />
              <text x={p.x} y={p.y + 4} text-anchor="middle">
                {name}
              </text>
            </g>
          );
        })}
      </svg>
      <ul class="legend" aria-label="Legend">
        <li><span class="swatch up" /> both ends up</li>
        <li><span class="swatch down" /> down or missing</li>
        <li><span class="swatch unknown" /> unknown</li>
      </ul>
      <ul class="edge-list">
        {edges.map((e) => (
          <li key={e.pair.vni} class={e.health}>
            <strong>{e.pair.a} ↔ {e.pair.b}</strong> VNI {e.pair.vni} · {e.health}
            {e.rtt !== null ? ` · ${rttText(e.rtt)}` : ''}
            {e.health !== 'up' && <span class="why"> — {e.why}</span>}
          </li>
        ))}
      </ul>
    </div>
  );
}
