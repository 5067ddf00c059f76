/** The console: login, then this host, its peers, the VPCs (with topology and live operations) and the containers. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  call,
  errorText,
  isReadOnly,
  mapOf,
  READ_ONLY_WHY,
  setUnauthorizedHandler,
  storedToken,
  storeToken,
  type Accepted,
  type ContainerList,
  type HostInfo,
  type NodeRow,
  type Operation,
  type VpcDetail,
  type VpcRow,
  type VpcStatus,
} from './api';
import { openEvents, readEvent, type ServerEvent, type StreamState } from './sse';
import { applyEvent, applyFinal, newOp, shortOp, type OpView } from '../../src/console/ops.js';
import { Topology, tunnelKey, type HostReports, type TunnelMap } from './topology';
import { ErrorLine } from './ui';
import { Nodes } from './nodes';
import { Operations, VpcCreate, VpcList } from './vpcs';
import { Containers } from './containers';

export function App() {
  const [token, setToken] = useState<string | null>(storedToken());
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => {
    setUnauthorizedHandler((m) => {
      storeToken(null);
      setToken(null);
      setMessage(m);
    });
  }, []);
  if (!token)
    return (
      <Login
        message={message}
        onLogin={(t) => {
          storeToken(t);
          setMessage(null);
          setToken(t);
        }}
      />
    );
  return (
    <Console
      key={token}
      token={token}
      onLogout={() => {
        storeToken(null);
        setToken(null);
        setMessage('Logged out.');
      }}
    />
  );
}

function Login(props: { message: string | null; onLogin: (token: string) => void }) {
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const t = value.trim();
    if (!t) {
      setError('Paste an API token first.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await call<HostInfo>('GET', '/host', undefined, t);
      props.onLogin(t);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const shown = error ?? props.message;
  return (
    <main class="login">
      <form onSubmit={submit} class="card" aria-label="Log in">
        <h1>meshvpc console</h1>
        <p class="muted">
          Paste an API token. Make one on the server's host with <code>meshvpc token mode=create name=me role=admin</code>.
        </p>
        <label>
          API token
          <input
            type="password"
            name="token"
            autocomplete="off"
            spellcheck={false}
            value={value}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Log in'}
        </button>
        {shown &&
          (shown === 'Logged out.' ? (
            <p class="muted" role="status">
              {shown}
            </p>
          ) : (
            <ErrorLine error={shown} testid="login-error" />
          ))}
      </form>
    </main>
  );
}

type Loads = Partial<Record<'host' | 'nodes' | 'vpcs' | 'containers' | 'detail' | 'status', string>>;

function Console(props: { token: string; onLogout: () => void }) {
  const [host, setHost] = useState<HostInfo | null>(null);
  const [nodes, setNodes] = useState<NodeRow[] | null>(null);
  const [vpcs, setVpcs] = useState<VpcRow[] | null>(null);
  const [containers, setContainers] = useState<ContainerList | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [detail, setDetail] = useState<VpcDetail | null>(null);
  const [tunnels, setTunnels] = useState<TunnelMap>(new Map());
  const [reports, setReports] = useState<HostReports>(new Map());
  const [statusAt, setStatusAt] = useState<number | null>(null);
  const [ops, setOps] = useState<OpView[]>([]);
  const [stream, setStream] = useState<StreamState>('connecting');
  const [loadErrors, setLoadErrors] = useState<Loads>({});
  const selectedRef = useRef<string | null>(null);
  selectedRef.current = selected;
  const finalized = useRef(new Set<string>());
  const alive = useRef(true);
  useEffect(
    () => () => {
      alive.current = false;
    },
    [],
  );

  const load = useCallback(async <T,>(key: keyof Loads, path: string, set: (v: T) => void): Promise<void> => {
    try {
      set(await call<T>('GET', path));
      setLoadErrors((l) => (l[key] ? { ...l, [key]: undefined } : l));
    } catch (e) {
      setLoadErrors((l) => ({ ...l, [key]: errorText(e) }));
    }
  }, []);

  const loadVpcs = useCallback(() => load<VpcRow[]>('vpcs', '/vpcs', setVpcs), [load]);
  const loadContainers = useCallback(() => load<ContainerList>('containers', '/containers', setContainers), [load]);
  const loadNodes = useCallback(() => load<NodeRow[]>('nodes', '/nodes', setNodes), [load]);

  const statusBusy = useRef(false);
  const loadSelected = useCallback(
    async (withStatus = true): Promise<void> => {
      const name = selectedRef.current;
      if (!name) return;
      const path = `/vpcs/${encodeURIComponent(name)}`;
      await load<VpcDetail>('detail', path, (d) => {
        if (selectedRef.current === name) setDetail(d);
      });
      if (!withStatus || statusBusy.current) return;
      statusBusy.current = true;
      try {
        await load<VpcStatus>('status', `${path}/status`, (s) => {
          if (selectedRef.current !== name) return;
          setReports(new Map((s.hosts ?? []).map((h) => [h.node, { ok: h.ok, error: h.error }])));
          setTunnels(new Map((s.hosts ?? []).flatMap((h) => (h.tunnels ?? []).map((t) => [tunnelKey(t.node ?? h.node, t.peer), t] as const))));
          setStatusAt(Date.now());
        });
      } finally {
        statusBusy.current = false;
      }
    },
    [load],
  );

  const refreshAll = useCallback((): void => {
    void load<HostInfo>('host', '/host', setHost);
    void loadNodes();
    void loadVpcs();
    void loadContainers();
    void loadSelected();
  }, [load, loadNodes, loadVpcs, loadContainers, loadSelected]);

  /** The operation's final word, once: GET /operations/{id}, then everything it may have changed. */
  const finish = useCallback(
    async (id: string): Promise<void> => {
      if (finalized.current.has(id) || !alive.current) return;
      try {
        const op = await call<Operation>('GET', `/operations/${encodeURIComponent(id)}`);
        if (op.status === 'running') return;
        finalized.current.add(id);
        setOps((all) => all.map((o) => (o.id === id ? applyFinal(o, op) : o)));
      } catch (e) {
        const gone = e instanceof ApiError && e.status === 404;
        if (gone) finalized.current.add(id);
        setOps((all) =>
          all.flatMap((o) => {
            if (o.id !== id) return [o];
            // Never started (refused before any work): nothing to show.
            if (gone && o.hosts.every((h) => h.state === 'waiting') && o.notes.length === 0) return [];
            return [{ ...o, error: `Could not read the operation's outcome: ${errorText(e)}` }];
          }),
        );
        return;
      }
      void loadVpcs();
      void loadSelected();
      void loadContainers();
    },
    [loadVpcs, loadSelected, loadContainers],
  );

  // Server-sent events: operation progress and tunnel changes, live.
  useEffect(() => {
    const onEvent = (e: ServerEvent): void => {
      const d = readEvent(e);
      if (d?.kind === 'operation') {
        const id = d.id;
        setOps((all) => {
          const known = all.find((o) => o.id === id);
          const base = known ?? newOp(id, d.op, d.vpc);
          const next = applyEvent(base, d.event);
          return known ? all.map((o) => (o.id === id ? next : o)) : [next, ...all];
        });
      } else if (d?.kind === 'operation_done') {
        const { id, status } = d;
        // Only operations already seen: a refusal answered at once (no such node) still ends on the
        // stream, for an id the server then does not keep.
        setOps((all) => all.map((o) => (o.id === id ? { ...o, status } : o)));
        void finish(id);
      } else if (d?.kind === 'tunnel') {
        if (d.vpc !== selectedRef.current) return;
        setTunnels((m) => new Map(m).set(tunnelKey(d.node, d.peer), { present: d.present, up: d.up, rtt_ms: d.rtt_ms }));
      }
    };
    let first = true;
    return openEvents(
      props.token,
      onEvent,
      (s) => {
        setStream(s);
        // Back after a drop: whatever happened meanwhile is read again.
        if (s === 'live' && !first) refreshAll();
        if (s === 'live') first = false;
      },
      () => {
        storeToken(null);
        props.onLogout();
      },
    );
  }, [props.token]);

  useEffect(() => {
    refreshAll();
    const slow = setInterval(() => {
      void loadNodes();
      void loadVpcs();
      void loadContainers();
    }, 15_000);
    return () => clearInterval(slow);
  }, []);

  // The selected VPC: its map, and its status every 5 s.
  useEffect(() => {
    setDetail(null);
    setTunnels(new Map());
    setReports(new Map());
    setStatusAt(null);
    setLoadErrors((l) => (l.detail || l.status ? { ...l, detail: undefined, status: undefined } : l));
    if (!selected) return;
    void loadSelected();
    const t = setInterval(() => void loadSelected(), 5000);
    return () => clearInterval(t);
  }, [selected, loadSelected]);

  // Keep a VPC selected while there is one.
  useEffect(() => {
    if (!vpcs) return;
    if (!selected || !vpcs.some((v) => v.name === selected)) setSelected(vpcs[0]?.name ?? null);
  }, [vpcs, selected]);

  /** Start a long operation; its progress comes from SSE, and from polling when the stream is down. */
  const startOp = useCallback(
    async (op: string, vpc: string, method: string, path: string, body: unknown, expect: string[]): Promise<void> => {
      const a = await call<Accepted>(method, path, body);
      setOps((all) => {
        const known = all.find((o) => o.id === a.id);
        if (!known) return [newOp(a.id, op, vpc, expect), ...all].slice(0, 10);
        const waiting = expect.filter((h) => !known.hosts.some((l) => l.host === h)).map((h) => ({ host: h, state: 'waiting' as const, text: 'waiting…' }));
        return all.map((o) => (o.id === a.id ? { ...o, op: o.op || shortOp(op), vpc: o.vpc || vpc, hosts: [...o.hosts, ...waiting] } : o));
      });
      void (async () => {
        for (let i = 0; i < 900 && alive.current && !finalized.current.has(a.id); i++) {
          await new Promise((r) => setTimeout(r, 2000));
          await finish(a.id);
        }
      })();
    },
    [finish],
  );

  const { members, pairs } = mapOf(detail);
  const self = host?.nodename ?? null;
  const readOnly = isReadOnly(host?.token);
  const loadError = Object.entries(loadErrors).filter(([, v]) => v);

  return (
    <div class="console">
      <header class="top">
        <div class="brand">
          <strong>meshvpc</strong>
          {host ? (
            <span class="host" data-testid="this-host">
              <span class="name">{host.nodename}</span>
              <span class="muted">
                {[host.ip4, host.ip6].filter(Boolean).join(' · ')} · {host.platform} · v{host.version}
              </span>
            </span>
          ) : (
            <span class="muted">loading…</span>
          )}
          {readOnly && (
            <span class="badge read-only" data-testid="read-only" role="status" title={`Token ${host?.token?.name ?? ''}: ${READ_ONLY_WHY}; defining, deploying and changing containers need an admin token.`}>
              read-only token
            </span>
          )}
        </div>
        <div class="top-actions">
          <span class={`stream ${stream}`} role="status" title="Live updates (server-sent events)">
            {stream === 'live' ? '● live' : stream === 'connecting' ? '○ connecting' : '○ reconnecting…'}
          </span>
          <button type="button" onClick={props.onLogout}>
            Log out
          </button>
        </div>
      </header>
      {loadError.length > 0 && (
        <div class="error banner" role="alert" data-testid="load-error">
          {loadError.map(([k, v]) => (
            <p key={k}>
              Could not load {k}: {v}
            </p>
          ))}
        </div>
      )}
      <main class="grid">
        <section class="card" aria-labelledby="h-vpcs">
          <h2 id="h-vpcs">VPCs</h2>
          <VpcList vpcs={vpcs} selected={selected} onSelect={setSelected} startOp={startOp} readOnly={readOnly} />
          <Operations ops={ops} onDismiss={(id) => setOps((all) => all.filter((o) => o.id !== id))} />
          <VpcCreate
            readOnly={readOnly}
            onCreated={(name) => {
              void loadVpcs();
              setSelected(name);
            }}
          />
        </section>
        <section class="card" aria-labelledby="h-topo">
          <h2 id="h-topo">Topology{selected ? ` of ${selected}` : ''}</h2>
          {vpcs && vpcs.length > 1 && (
            <label class="inline">
              VPC{' '}
              <select value={selected ?? ''} onChange={(e) => setSelected((e.target as HTMLSelectElement).value)}>
                {vpcs.map((v) => (
                  <option key={v.name} value={v.name}>
                    {v.name}
                  </option>
                ))}
              </select>
            </label>
          )}
          {!selected ? (
            <p class="muted">No VPC yet: define one below the VPC list.</p>
          ) : members.length === 0 ? (
            <p class="muted">{detail ? `${selected} has no members.` : 'loading…'}</p>
          ) : (
            <>
              {pairs.length === 0 && <p class="muted">No peer map yet: deploy {selected} to allocate one tunnel per host pair.</p>}
              <Topology vpc={selected} members={members} pairs={pairs} tunnels={tunnels} hosts={reports} self={self} />
              <p class="muted small">{statusAt ? `Status read ${new Date(statusAt).toLocaleTimeString()}; refreshed every 5 s and live from the event stream.` : 'Reading status…'}</p>
            </>
          )}
        </section>
        <section class="card wide" aria-labelledby="h-containers">
          <h2 id="h-containers">Containers</h2>
          <Containers list={containers} vpcs={vpcs ?? []} self={self} readOnly={readOnly} onChanged={() => void loadContainers()} />
        </section>
        <section class="card wide" aria-labelledby="h-nodes">
          <h2 id="h-nodes">Nodes</h2>
          <Nodes host={host} nodes={nodes} />
        </section>
      </main>
      <footer class="muted small">
        The token is kept for this browser tab only.
      </footer>
    </div>
  );
}
