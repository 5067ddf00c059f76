/** VPCs: the list with per-VPC operations, the create form, and live progress of long operations. */
import { useState } from 'preact/hooks';
import { call, type VpcRow } from './api';
import type { OpView } from '../../src/console/ops.js';
import { ErrorLine, FormFooter, guard, useAction, useForm, yesNo } from './ui';

export type StartOp = (op: string, vpc: string, method: string, path: string, body: unknown, expect: string[]) => Promise<void>;

const splitNodes = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);

export function VpcList(props: { vpcs: VpcRow[] | null; selected: string | null; onSelect: (name: string) => void; startOp: StartOp; readOnly: boolean }) {
  if (!props.vpcs) return <p class="muted">loading…</p>;
  if (props.vpcs.length === 0) return <p class="muted">No VPC defined on this host yet.</p>;
  return (
    <ul class="vpcs">
      {props.vpcs.map((v) => (
        <VpcCard key={v.name} vpc={v} selected={v.name === props.selected} onSelect={() => props.onSelect(v.name)} startOp={props.startOp} readOnly={props.readOnly} />
      ))}
    </ul>
  );
}

function VpcCard(props: { vpc: VpcRow; selected: boolean; onSelect: () => void; startOp: StartOp; readOnly: boolean }) {
  const { vpc } = props;
  const ro = props.readOnly;
  const [node, setNode] = useState('');
  const [confirm, setConfirm] = useState(false);
  const act = useAction();
  const members = splitNodes(vpc.members ?? '');
  const base = `/vpcs/${encodeURIComponent(vpc.name)}`;
  const op = (name: string, method: string, path: string, body: unknown, expect: string[]) => () =>
    act.run(async () => {
      await props.startOp(name, vpc.name, method, path, body, expect);
      setConfirm(false);
    });
  const needNode = (name: 'join' | 'leave') => () => {
    const nodes = splitNodes(node);
    if (nodes.length === 0) {
      void act.run(async () => {
        throw new Error(`Name the node(s) to ${name} in the node field (e.g. host4 or host4,host5).`);
      });
      return;
    }
    void op(name, 'POST', `${base}/${name}`, { node: nodes.join(',') }, name === 'join' ? [...members, ...nodes] : members)();
  };
  return (
    <li class={`vpc${props.selected ? ' selected' : ''}`} data-testid="vpc" data-vpc={vpc.name}>
      <div class="vpc-head">
        <button type="button" class="link" onClick={props.onSelect} aria-pressed={props.selected} title="Show its topology">
          {vpc.name}
        </button>
        <span class="muted">
          {vpc.peer_network} · {vpc.underlay} · MTU {String(vpc.mtu)} · firewall {yesNo(vpc.firewall)}
          {vpc.encrypt === 'wireguard' ? ' · encrypted (WireGuard)' : ''}
          {vpc.fdb ? ` · FDB ${vpc.fdb}` : ''}
        </span>
      </div>
      <dl class="facts">
        <dt>members</dt>
        <dd>{vpc.members || '—'}</dd>
        <dt>pairs</dt>
        <dd>{vpc.pairs}</dd>
        <dt>here</dt>
        <dd>
          tunnels {yesNo(vpc.vxlan)}, bridge {yesNo(vpc.bridge)}
        </dd>
      </dl>
      <div class="actions">
        <button type="button" class="primary" {...guard(ro, act.busy)} onClick={op('deploy', 'POST', `${base}/deploy`, {}, members)}>
          Deploy
        </button>
        <button type="button" {...guard(ro, act.busy)} onClick={op('collapse', 'POST', `${base}/collapse`, {}, members)}>
          Collapse
        </button>
        <button type="button" class="danger" {...guard(ro, act.busy)} onClick={() => setConfirm(true)}>
          Destroy
        </button>
      </div>
      <div class="actions node-ops">
        <label class="grow">
          <span class="sr-only">node(s) for {vpc.name}</span>
          <input type="text" placeholder="node(s), e.g. host4" value={node} onInput={(e) => setNode((e.target as HTMLInputElement).value)} aria-label={`node for ${vpc.name}`} {...guard(ro)} />
        </label>
        <button type="button" {...guard(ro, act.busy)} onClick={needNode('join')}>
          Join
        </button>
        <button type="button" {...guard(ro, act.busy)} onClick={needNode('leave')}>
          Leave
        </button>
      </div>
      {confirm && !ro && (
        <div class="confirm" role="group" aria-label="Confirm destroy">
          <p>
            Destroy <strong>{vpc.name}</strong> on every member? Its tunnels, bridge and definition go away everywhere.
          </p>
          <div class="actions">
            <button type="button" class="danger" {...guard(ro, act.busy)} onClick={op('destroy', 'DELETE', base, undefined, members)}>
              Yes, destroy {vpc.name}
            </button>
            <button type="button" onClick={() => setConfirm(false)}>
              Cancel
            </button>
          </div>
        </div>
      )}
      <ErrorLine error={act.error} />
    </li>
  );
}

export function Operations(props: { ops: OpView[]; onDismiss: (id: string) => void }) {
  if (props.ops.length === 0) return null;
  return (
    <div class="ops" aria-live="polite">
      <h3>Operations</h3>
      {props.ops.map((o) => (
        <article key={o.id} class={`op ${o.status}`} data-testid="operation" data-op-id={o.id} data-op={o.op} data-vpc={o.vpc} data-status={o.status}>
          <div class="op-head">
            <span>
              <strong>{o.op || 'operation'}</strong> {o.vpc}
            </span>
            <span class={`badge ${o.status}`} data-testid="op-status">
              {o.status === 'running' ? 'running…' : o.status}
            </span>
            {o.status !== 'running' && (
              <button type="button" class="small" onClick={() => props.onDismiss(o.id)} aria-label={`Dismiss ${o.op} ${o.vpc}`}>
                ✕
              </button>
            )}
          </div>
          <ol class="op-hosts" data-testid="op-hosts">
            {o.hosts.map((h) => (
              <li key={h.host} class={h.state} data-testid="op-host" data-host={h.host} data-state={h.state}>
                <span class="mark" aria-hidden="true">
                  {h.state === 'ok' ? '✓' : h.state === 'failed' ? '✗' : '…'}
                </span>
                <strong>{h.host}</strong> <span>{h.text}</span>
              </li>
            ))}
          </ol>
          {o.notes.length > 0 && (
            <ul class="notes muted small">
              {o.notes.map((n, i) => (
                <li key={i}>{n}</li>
              ))}
            </ul>
          )}
          {o.status === 'failure' && (
            <ErrorLine
              error={o.error ?? `${o.op} ${o.vpc} failed on ${o.hosts.filter((h) => h.state === 'failed').map((h) => h.host).join(', ') || 'some host'}: see the lines above.`}
            />
          )}
          {o.status !== 'failure' && o.error && <ErrorLine error={o.error} />}
        </article>
      ))}
    </div>
  );
}

export function VpcCreate(props: { onCreated: (name: string) => void; readOnly: boolean }) {
  const ro = props.readOnly;
  const { f, setF, act, done, setDone, field } = useForm({ vpc_name: '', node_member: 'all', peer_network: '', mtu: '', underlay: '', firewall: true, encrypt: false, learn: false });
  const submit = (e: Event): void => {
    e.preventDefault();
    setDone(null);
    void act.run(async () => {
      const body: Record<string, unknown> = { vpc_name: f.vpc_name.trim(), node_member: f.node_member.trim() || 'all', peer_network: f.peer_network.trim() };
      if (f.mtu.trim()) {
        const mtu = Number(f.mtu.trim());
        if (!Number.isInteger(mtu)) throw new Error(`MTU must be a whole number, not ${f.mtu.trim()}`);
        body.mtu = mtu;
      }
      if (f.underlay) body.underlay = f.underlay;
      if (!f.firewall) body.firewall = false;
      if (f.encrypt) body.encrypt = 'wireguard';
      if (f.learn) body.fdb = 'learn';
      await call('POST', '/vpcs', body);
      setDone(`${body.vpc_name as string} defined. Deploy it to bring it up on every member.`);
      props.onCreated(body.vpc_name as string);
      setF({ ...f, vpc_name: '', peer_network: '' });
    });
  };
  return (
    <details class="create" open>
      <summary>Define a VPC</summary>
      <form onSubmit={submit} aria-label="Define a VPC" data-testid="vpc-form">
        <fieldset class="fields" disabled={ro}>
          <label>
            vpc_name
            <input name="vpc_name" required value={f.vpc_name} onInput={field('vpc_name')} placeholder="vpc1" autocomplete="off" />
          </label>
          <label>
            node_member
            <input name="node_member" value={f.node_member} onInput={field('node_member')} placeholder="all" autocomplete="off" />
          </label>
          <label>
            peer_network
            <input name="peer_network" required value={f.peer_network} onInput={field('peer_network')} placeholder="10.100.0.0/24" autocomplete="off" />
          </label>
          <label>
            <span>
              mtu <span class="muted">(optional)</span>
            </span>
            <input name="mtu" inputMode="numeric" value={f.mtu} onInput={field('mtu')} placeholder="auto" autocomplete="off" />
          </label>
          <label>
            underlay
            <select name="underlay" value={f.underlay} onChange={field('underlay')}>
              <option value="">auto</option>
              <option value="v4">v4</option>
              <option value="v6">v6</option>
            </select>
          </label>
          <label class="check">
            <input type="checkbox" name="firewall" checked={f.firewall} onChange={field('firewall')} /> firewall (drop VXLAN from non-members)
          </label>
          <label class="check">
            <input type="checkbox" name="encrypt" checked={f.encrypt} onChange={field('encrypt')} /> encrypt (every tunnel inside WireGuard)
          </label>
          <label class="check">
            <input type="checkbox" name="learn" checked={f.learn} onChange={field('learn')} /> flood and learn (instead of control-plane FDB with ARP/ND suppression)
          </label>
        </fieldset>
        <FormFooter readOnly={ro} busy={act.busy} error={act.error} done={done} label="Define VPC" busyLabel="Defining…" what="defining a VPC" />
      </form>
    </details>
  );
}
