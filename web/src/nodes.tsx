/** This host and its known peers. */
import type { HostInfo, NodeRow } from './api';

export function Nodes(props: { host: HostInfo | null; nodes: NodeRow[] | null }) {
  const { host, nodes } = props;
  if (!nodes && !host) return <p class="muted">loading…</p>;
  const rows: (NodeRow & { self?: boolean })[] = [
    ...(host ? [{ name: host.nodename, ip4: host.ip4, ip6: host.ip6, platform: host.platform, ssh: '', self: true }] : []),
    ...(nodes ?? []),
  ];
  return (
    <>
      <table class="stack" data-testid="nodes">
        <thead>
          <tr>
            <th>name</th>
            <th>IPv4</th>
            <th>IPv6</th>
            <th>platform</th>
            <th>ssh</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((n) => (
            <tr key={n.name} data-node={n.name}>
              <td data-label="name"><div>
                <strong>{n.name}</strong>
                {n.self && <span class="tag">this host</span>}
              </div></td>
              <td data-label="IPv4"><div>{n.ip4 ?? '—'}</div></td>
              <td data-label="IPv6"><div>{n.ip6 ?? '—'}</div></td>
              <td data-label="platform"><div>{n.platform ?? '—'}</div></td>
              <td data-label="ssh"><div>{n.self ? '—' : (n.ssh ?? '—')}</div></td>
            </tr>
          ))}
        </tbody>
      </table>
      {nodes && nodes.length === 0 && <p class="muted">No peers yet: join hosts with <code>meshvpc node mode=add node=ADDRESS</code>.</p>}
    </>
  );
}
