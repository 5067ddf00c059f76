/**
 * The HTTP API on a 3-host lab: `meshvpc server` on host 1, driven with real
 * tokens over a real socket. A VPC is created and deployed through the API
 * while its progress is read from the event stream; status carries RTTs and
 * traffic; tokens and roles are enforced; malformed requests change nothing
 * on any host; two deploys at once are serialised; a tunnel going down is an
 * event; containers are made, listed, stopped and removed.
 */
import { VERSION } from '../../src/core/version.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cmdline, ok, pidsOnHost, ppid, shOk, snapshot, withLab } from './lab-helpers.js';
import type { LabState } from '../../src/lab/lab.js';
import { systemExecutor } from '../../src/platform/exec.js';
import { startServer, type LabServer, type SseEvent } from './http-helpers.js';

const PEER_NET = '198.51.100.0/26';

/**
 * Kill -9 every SSH session a lab host's sshd has open (its children named "sshd: root..."), found
 * among the processes of that host's own network namespace: nothing else on the machine is touched.
 */
async function killSshSessions(lab: LabState, host: number): Promise<void> {
  const h = lab.hosts[host - 1];
  if (!h) throw new Error('no such host');
  const sessions = (await pidsOnHost(lab, host)).filter((p) => ppid(p) === String(h.pid) && /^sshd: root/.test(cmdline(p)));
  assert.ok(sessions.length > 0, `no SSH session open on host${host}`);
  await systemExecutor.run(['kill', '-KILL', ...sessions]);
}

interface Operation {
  status: 'running' | 'success' | 'failure';
  events: { type: string; outcome?: { host: string; ok: boolean } }[];
  result: { ok: boolean; converged: number; members: number } | null;
  error: { kind: string; message: string } | null;
}

async function follow(api: LabServer, started: { operation: string }, seconds = 120): Promise<Operation> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const r = await api.request('GET', started.operation);
    assert.equal(r.status, 200, r.text);
    const op = r.json as Operation;
    if (op.status !== 'running') return op;
    if (Date.now() > deadline) throw new Error(`operation still running after ${seconds} s`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** 20 requests the API must refuse with 400 and no change: bad JSON, unknown fields, wrong types, refused values. */
const MALFORMED: [string, string, unknown][] = [
  ['POST', '/api/v1/vpcs', '{"vpc_name":'],
  ['POST', '/api/v1/vpcs', '[1,2]'],
  ['POST', '/api/v1/vpcs', { vpc_name: 'vpc2', node_member: 'all', peer_network: PEER_NET, extra: 1 }],
  ['POST', '/api/v1/vpcs', { vpc_name: 'Bad Name', node_member: 'all', peer_network: '10.1.0.0/24' }],
  ['POST', '/api/v1/vpcs', { vpc_name: 'vpc2', node_member: 'all', peer_network: 'not-a-cidr' }],
  ['POST', '/api/v1/vpcs', { vpc_name: 'vpc2', node_member: 'all', peer_network: '10.1.0.0/24', mtu: '1400; reboot' }],
  ['POST', '/api/v1/vpcs', { vpc_name: 'vpc2', node_member: 'all', peer_network: '10.1.0.0/24', mtu: 100 }],
  ['POST', '/api/v1/vpcs', { vpc_name: 'vpc2', node_member: 'all', peer_network: '10.1.0.0/24', firewall: 'yes please' }],
  ['POST', '/api/v1/vpcs', { vpc_name: 'vpc2', node_member: 42, peer_network: '10.1.0.0/24' }],
  ['POST', '/api/v1/vpcs', { vpc_name: 'vpc2', node_member: ['host1', 'host$(id)'], peer_network: '10.1.0.0/24' }],
  ['POST', '/api/v1/vpcs', { vpc_name: 'vpc2', node_member: 'all', peer_network: '10.1.0.0/31' }],
  ['POST', '/api/v1/vpcs', { vpc_name: 'vxlan7', node_member: 'all', peer_network: '10.1.0.0/24' }],
  ['POST', '/api/v1/vpcs', { node_member: 'all', peer_network: '10.1.0.0/24' }],
  ['POST', '/api/v1/vpcs/vpc1/deploy', { concurrency: 100000 }],
  ['POST', '/api/v1/vpcs/vpc1/deploy', { vpc_name: 'vpc9' }],
  ['POST', '/api/v1/vpcs/vpc1/join', { node: ['host2', ''] }],
  ['POST', '/api/v1/vpcs/vpc1/leave', {}],
  ['POST', '/api/v1/containers', { jname: 'c-1', interface: 'vpc1', ip4_addr: '203.0.113.300/24' }],
  ['POST', '/api/v1/containers', { jname: 'c-1', interface: 'vpc1', runasap: 'soon' }],
  ['DELETE', '/api/v1/vpcs/vpc1', { force: 'x' }],
];

test('the HTTP API: tokens, a deploy followed live, status with RTTs, refusals that change nothing, serialised deploys, tunnel events, containers', { timeout: 600_000 }, async () => {
  await withLab(3, 'v4', async (lab) => {
    for (const h of [2, 3]) await ok(lab, 1, 'node', 'mode=add', `node=${lab.hosts[h - 1]?.ip4}`);
    const api = await startServer(lab, 1);
    try {
      // Tokens: none is 401, a wrong one 401, a read token may GET but not POST.
      assert.equal((await api.request('GET', '/api/v1/vpcs', undefined, null)).status, 401);
      assert.equal((await api.request('GET', '/api/v1/vpcs', undefined, 'mvpc_wrong')).status, 401);
      assert.match(api.log(), /failed login from /);
      assert.equal((await api.request('GET', '/api/v1/vpcs', undefined, api.readToken)).status, 200);
      const denied = await api.request('POST', '/api/v1/vpcs', { vpc_name: 'vpc1', node_member: 'all', peer_network: PEER_NET }, api.readToken);
      assert.equal(denied.status, 403, denied.text);
      assert.deepEqual(Object.keys((denied.json as { error: object }).error).sort(), ['kind', 'message']);

      // The OpenAPI document is served and names every path of the contract.
      const doc = (await api.request('GET', '/api/v1/openapi.json')).json as { openapi: string; paths: Record<string, unknown> };
      assert.equal(doc.openapi, '3.1.0');
      for (const p of ['/api/v1/vpcs/{name}/status', '/api/v1/operations/{id}', '/api/v1/events', '/api/v1/containers/{name}/start']) assert.ok(doc.paths[p], p);

      const created = await api.request('POST', '/api/v1/vpcs', { vpc_name: 'vpc1', node_member: 'all', peer_network: PEER_NET });
      assert.equal(created.status, 201, created.text);

      // Malformed requests: 400 each, nothing changes on any host.
      const before = await Promise.all([1, 2, 3].map((h) => snapshot(lab, h)));
      for (const [method, path, body] of MALFORMED) {
        const r = await api.request(method, path, body);
        assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
        const err = (r.json as { error: { kind: string; message: string } } | null)?.error ?? assert.fail(`${method} ${path} ${JSON.stringify(body)}: not a JSON error: ${r.text}`);
        assert.equal(err.kind, 'invalid');
        assert.ok(err.message.length > 0 && !err.message.includes('\n'), err.message);
      }
      const after = await Promise.all([1, 2, 3].map((h) => snapshot(lab, h)));
      assert.deepEqual(after, before, 'a refused request changed a host');

      // Deploy through the API, progress read from the event stream as it happens.
      const stream = await api.events();
      const started = await api.request('POST', '/api/v1/vpcs/vpc1/deploy', {});
      assert.equal(started.status, 202, started.text);
      const id = (started.json as { id: string }).id;
      const op = await follow(api, started.json as { operation: string });
      assert.equal(op.status, 'success', JSON.stringify(op));
      assert.equal(op.result?.converged, 3);
      const done = await stream.waitFor((e) => e.event === 'operation_done' && e.data.id === id, 10_000);
      const perHost = stream.events.filter((e) => e.event === 'operation' && e.data.id === id && (e.data.event as { type: string }).type === 'host');
      assert.deepEqual(perHost.map((e) => (e.data.event as { outcome: { host: string } }).outcome.host).sort(), ['host1', 'host2', 'host3']);
      assert.ok(perHost.every((e) => e.at <= done.at), 'per-host events come before the end');

      // Status: every host, every tunnel present and up, with an RTT and traffic counters.
      const st = await api.request('GET', '/api/v1/vpcs/vpc1/status');
      assert.equal(st.status, 200, st.text);
      const status = st.json as { ok: boolean; hosts: { node: string; ok: boolean; tunnels: { present: boolean; up: boolean; rtt_ms: number | null; rx_packets: number | null; tx_packets: number | null; tx_bytes: number | null; tunnel: string }[] }[] };
      assert.equal(status.ok, true);
      assert.deepEqual(status.hosts.map((h) => h.node).sort(), ['host1', 'host2', 'host3']);
      const tunnels = status.hosts.flatMap((h) => h.tunnels);
      assert.equal(tunnels.length, 6);
      for (const t of tunnels) {
        assert.ok(t.present && t.up, JSON.stringify(t));
        assert.equal(typeof t.rtt_ms, 'number', JSON.stringify(t));
        assert.equal(typeof t.tx_bytes, 'number');
        assert.ok((t.tx_bytes ?? 0) > 0, 'the RTT probe went through the tunnel');
      }

      // The server keeps its SSH connections to peers between status refreshes. A peer whose session
      // is killed (sshd restarted, a network blip) is reached again on a new connection.
      const sent = (x: typeof status, node: string): number => x.hosts.find((h) => h.node === node)?.tunnels.reduce((n, t) => n + (t.tx_packets ?? 0), 0) ?? 0;
      const before2 = sent(status, 'host2');
      await killSshSessions(lab, 2);
      const deadline = Date.now() + 30_000;
      let healed = false;
      while (!healed && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 1000));
        const again = (await api.request('GET', '/api/v1/vpcs/vpc1/status')).json as typeof status;
        healed = again.hosts.find((h) => h.node === 'host2')?.ok === true && sent(again, 'host2') > before2;
      }
      assert.ok(healed, 'host2 answered status again after its SSH session was killed');

      // Two deploys at once: both accepted, run one after the other (the VPC lock), both succeed.
      const [a, b] = await Promise.all([api.request('POST', '/api/v1/vpcs/vpc1/deploy', {}), api.request('POST', '/api/v1/vpcs/vpc1/deploy', {})]);
      assert.equal(a.status, 202, a.text);
      assert.equal(b.status, 202, b.text);
      const ids = [(a.json as { id: string }).id, (b.json as { id: string }).id];
      const [opA, opB] = await Promise.all([follow(api, a.json as { operation: string }), follow(api, b.json as { operation: string })]);
      assert.deepEqual([opA.status, opB.status], ['success', 'success']);
      await stream.waitFor((e) => e.event === 'operation_done' && e.data.id === ids[1], 10_000);
      await stream.waitFor((e) => e.event === 'operation_done' && e.data.id === ids[0], 10_000);
      // `accepted` is said before an operation waits for the VPC's lock; its work starts after it.
      const ofOp = (opId: string): SseEvent[] =>
        stream.events.filter((e) => (e.event === 'operation' || e.event === 'operation_done') && e.data.id === opId && (e.data.event as { type?: string } | undefined)?.type !== 'accepted');
      const [first, second] = (ofOp(ids[0] as string)[0]?.at ?? 0) <= (ofOp(ids[1] as string)[0]?.at ?? 0) ? ids : [ids[1], ids[0]];
      const endFirst = ofOp(first as string).at(-1) as SseEvent;
      const startSecond = ofOp(second as string)[0] as SseEvent;
      assert.equal(endFirst.event, 'operation_done');
      assert.ok(startSecond.at >= endFirst.at, `the second deploy started (${startSecond.at} ms) before the first ended (${endFirst.at} ms)`);

      // A tunnel going down on host 2 is an event within 5 s (the watcher looks every 2 s).
      const name = status.hosts.find((h) => h.node === 'host2')?.tunnels[0]?.tunnel as string;
      const cut = Date.now();
      await shOk(lab, 2, 'ip', 'link', 'set', 'dev', name, 'down');
      const down = await stream.waitFor((e) => e.event === 'tunnel' && e.data.node === 'host2' && e.data.tunnel === name && e.data.up === false, 15_000);
      assert.ok(Date.now() - cut < 8000, `tunnel down seen after ${Date.now() - cut} ms`);
      assert.equal(down.data.vpc, 'vpc1');
      await shOk(lab, 2, 'ip', 'link', 'set', 'dev', name, 'up');
      await stream.waitFor((e) => e.event === 'tunnel' && e.data.node === 'host2' && e.data.tunnel === name && e.data.up === true, 15_000);

      // Containers: made on host 1 through the API, listed cluster-wide, stopped, removed.
      const made = await api.request('POST', '/api/v1/containers', { jname: 'web1', interface: 'vpc1', ip4_addr: '203.0.113.10/24', runasap: true });
      assert.equal(made.status, 201, made.text);
      await ok(lab, 2, 'jcreate', 'jname=db2', 'interface=vpc1', 'vnet=1', 'ip4_addr=203.0.113.20/24', 'runasap=1');
      const all = (await api.request('GET', '/api/v1/containers')).json as { containers: { jname: string; node: string; status: string }[]; unreachable: unknown[] };
      assert.deepEqual(all.containers.map((c) => [c.jname, c.node, c.status]).sort(), [['db2', 'host2', 'On'], ['web1', 'host1', 'On']]);
      assert.deepEqual(all.unreachable, []);
      // One node, as this host knows it and as it answers now.
      const shown = (await api.request('GET', '/api/v1/nodes/host2')).json as { name: string; reachable: boolean; version: string; vpcs: { vpc: string }[]; containers: { jname: string; status: string }[] };
      assert.deepEqual([shown.name, shown.reachable, shown.version, shown.vpcs.map((x) => x.vpc), shown.containers.map((c) => [c.jname, c.status])], ['host2', true, VERSION, ['vpc1'], [['db2', 'On']]]);
      assert.equal((await api.request('GET', '/api/v1/nodes/host9')).status, 404);
      assert.match(await ok(lab, 1, 'node', 'mode=show', 'node=host3'), new RegExp(`^host3: reachable, meshvpc ${VERSION.replace(/\./g, '\\.')} on linux\n {2}addresses {2}192\\.0\\.2\\.3\n`));
      const ping = await ok(lab, 1, 'jexec', 'jname=web1', 'ping', '-c', '1', '-W', '3', '203.0.113.20');
      assert.match(ping, /1 received/);
      assert.equal((await api.request('POST', '/api/v1/containers/web1/stop')).status, 200);
      const dup = await api.request('POST', '/api/v1/containers', { jname: 'web1', interface: 'vpc1' });
      assert.equal(dup.status, 409);
      assert.equal((await api.request('DELETE', '/api/v1/containers/web1')).status, 200);
      assert.equal((await api.request('DELETE', '/api/v1/containers/web1')).status, 404);
      stream.close();

      // Destroy through the API: every member forgets the VPC.
      await ok(lab, 2, 'jremove', 'jname=db2');
      const gone = await api.request('DELETE', '/api/v1/vpcs/vpc1');
      assert.equal(gone.status, 202, gone.text);
      assert.equal((await follow(api, gone.json as { operation: string })).status, 'success');
      for (const h of [1, 2, 3]) assert.deepEqual(JSON.parse(await ok(lab, h, 'vpc', 'mode=list', '--json')), []);
    } finally {
      await api.stop();
    }
  });
});
