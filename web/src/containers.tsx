/** Containers across the cluster; create, start, stop and remove act on the server's own host. */
import { useEffect, useState } from 'preact/hooks';
import { call, type Container, type ContainerList, type VpcRow } from './api';
import { ErrorLine, FormFooter, guard, useAction, useForm } from './ui';

const shown = (a: string | undefined | null): string | null => (a && a !== '0' ? a : null);

export function Containers(props: { list: ContainerList | null; vpcs: VpcRow[]; self: string | null; readOnly: boolean; onChanged: () => void }) {
  const { list } = props;
  return (
    <>
      {!list ? (
        <p class="muted">loading…</p>
      ) : list.containers.length === 0 ? (
        <p class="muted">No containers yet.</p>
      ) : (
        <table class="stack" data-testid="containers">
          <thead>
            <tr>
              <th>jname</th>
              <th>node</th>
              <th>interface</th>
              <th>addresses</th>
              <th>status</th>
              <th>
                <span class="sr-only">actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {[...list.containers]
              .sort((a, b) => (a.node === b.node ? a.jname.localeCompare(b.jname) : a.node.localeCompare(b.node)))
              .map((c) => (
                <Row key={`${c.node}/${c.jname}`} c={c} self={props.self} readOnly={props.readOnly} onChanged={props.onChanged} />
              ))}
          </tbody>
        </table>
      )}
      {list && list.unreachable.length > 0 && (
        <div class="warn" role="status">
          {list.unreachable.map((u) => (
            <p key={u.node}>
              {u.node} did not answer, its containers are not listed: {u.error}
            </p>
          ))}
        </div>
      )}
      <ContainerCreate vpcs={props.vpcs} self={props.self} readOnly={props.readOnly} onCreated={props.onChanged} />
    </>
  );
}

function Row(props: { c: Container; self: string | null; readOnly: boolean; onChanged: () => void }) {
  const { c } = props;
  const ro = props.readOnly;
  const act = useAction();
  const [confirm, setConfirm] = useState(false);
  const local = props.self !== null && c.node === props.self;
  const on = c.status === 'On';
  const path = `/containers/${encodeURIComponent(c.jname)}`;
  const run = (method: string, p: string) => () =>
    act.run(async () => {
      await call(method, p);
      setConfirm(false);
      props.onChanged();
    });
  const addrs = [shown(c.ip4_addr), shown(c.ip6_addr)].filter(Boolean);
  return (
    <tr data-testid="container" data-jname={c.jname} data-node={c.node} data-status={c.status}>
      <td data-label="jname"><div>
        <strong>{c.jname}</strong>
      </div></td>
      <td data-label="node"><div>{c.node}</div></td>
      <td data-label="interface"><div>{c.interface}</div></td>
      <td data-label="addresses"><div>{addrs.length ? addrs.join(', ') : <span class="muted">none (set inside)</span>}</div></td>
      <td data-label="status"><div>
        <span class={`badge ${on ? 'success' : 'off'}`}>{c.status}</span>
      </div></td>
      <td data-label="actions" class="row-actions">
        <div class="actions">
          {on ? (
            <button type="button" {...guard(ro, !local || act.busy)} onClick={run('POST', `${path}/stop`)}>
              Stop
            </button>
          ) : (
            <button type="button" {...guard(ro, !local || act.busy)} onClick={run('POST', `${path}/start`)}>
              Start
            </button>
          )}
          {confirm && !ro ? (
            <>
              <button type="button" class="danger" {...guard(ro, act.busy)} onClick={run('DELETE', path)}>
                Yes, remove
              </button>
              <button type="button" onClick={() => setConfirm(false)}>
                Keep
              </button>
            </>
          ) : (
            <button type="button" class="danger" {...guard(ro, !local || act.busy)} onClick={() => setConfirm(true)}>
              Remove
            </button>
          )}
        </div>
        {!local && !ro && (
          <p class="muted small">
            On {c.node}: this console acts on {props.self ?? 'its own host'} only. Use {c.node}'s console or <code>meshvpc jstart/jstop/jremove</code> there.
          </p>
        )}
        <ErrorLine error={act.error} />
      </td>
    </tr>
  );
}

function ContainerCreate(props: { vpcs: VpcRow[]; self: string | null; readOnly: boolean; onCreated: () => void }) {
  const ro = props.readOnly;
  const { f, setF, act, done, setDone, field } = useForm({ jname: '', interface: '', ip4_addr: '', ip6_addr: '', runasap: true });
  const names = props.vpcs.map((v) => v.name);
  useEffect(() => {
    if (!names.includes(f.interface) && names[0]) setF((x) => ({ ...x, interface: names[0] as string }));
  }, [names.join(',')]);
  const submit = (e: Event): void => {
    e.preventDefault();
    setDone(null);
    void act.run(async () => {
      if (!f.interface) throw new Error('Choose the VPC the container plugs into (define a VPC first).');
      const body: Record<string, unknown> = { jname: f.jname.trim(), interface: f.interface, runasap: f.runasap };
      if (f.ip4_addr.trim()) body.ip4_addr = f.ip4_addr.trim();
      if (f.ip6_addr.trim()) body.ip6_addr = f.ip6_addr.trim();
      await call('POST', '/containers', body);
      setDone(`${body.jname as string} created on ${props.self ?? 'this host'}${f.runasap ? ' and started' : ''}.`);
      setF({ ...f, jname: '', ip4_addr: '', ip6_addr: '' });
      props.onCreated();
    });
  };
  return (
    <details class="create" open>
      <summary>Create a container on {props.self ?? 'this host'}</summary>
      <form onSubmit={submit} aria-label="Create a container" data-testid="container-form">
        <fieldset class="fields" disabled={ro}>
          <label>
            jname
            <input name="jname" required value={f.jname} onInput={field('jname')} placeholder="web1" autocomplete="off" />
          </label>
          <label>
            interface (VPC)
            <select name="interface" value={f.interface} onChange={field('interface')} disabled={names.length === 0}>
              {names.length === 0 && <option value="">define a VPC first</option>}
              {names.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <label>
            <span>
              ip4_addr <span class="muted">(optional)</span>
            </span>
            <input name="ip4_addr" value={f.ip4_addr} onInput={field('ip4_addr')} placeholder="10.10.11.1/24" autocomplete="off" />
          </label>
          <label>
            <span>
              ip6_addr <span class="muted">(optional)</span>
            </span>
            <input name="ip6_addr" value={f.ip6_addr} onInput={field('ip6_addr')} placeholder="fd00::1/64" autocomplete="off" />
          </label>
          <label class="check">
            <input type="checkbox" name="runasap" checked={f.runasap} onChange={field('runasap')} /> runasap (start it now)
          </label>
        </fieldset>
        <FormFooter readOnly={ro} busy={act.busy} error={act.error} done={done} label="Create container" busyLabel="Creating…" what="creating a container" />
      </form>
    </details>
  );
}
