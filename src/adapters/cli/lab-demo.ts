/**
 * `meshvpc lab demo`: the CBSD article, step by step, on three namespace hosts.
 * The article's 10.x networks are swapped for documentation ranges: traffic
 * must stay inside addresses the lab owns.
 */
import { spawn } from 'node:child_process';
import { say } from './output.js';
import { createLab, destroyLab, execOn, meshvpc, onHost, type LabState, type Underlay } from '../../lab/lab.js';

export const DEMO = {
  peerNetwork: '198.51.100.0/24',
  guestNet: (i: number): string => `203.0.113.${i}/24`,
  guestAddr: (i: number): string => `203.0.113.${i}`,
} as const;

async function step(lab: LabState, host: number, args: string[]): Promise<string> {
  say(`\nhost${host}% meshvpc ${args.join(' ')}`);
  const r = await meshvpc(lab, host, args);
  const text = `${r.stdout}${r.stderr}`.trimEnd();
  if (text) say(text.replace(/^/gm, '  '));
  if (r.code !== 0) throw new Error(`host${host}: meshvpc ${args.join(' ')} exited ${r.code}`);
  return r.stdout;
}

async function shell(lab: LabState, host: number, argv: string[]): Promise<boolean> {
  say(`\nhost${host}% ${argv.join(' ')}`);
  const r = await execOn(lab, host, argv);
  const text = `${r.stdout}${r.stderr}`.trimEnd();
  if (text) say(text.replace(/^/gm, '  '));
  return r.code === 0;
}

/** Asks the server on a lab host from inside that host (the lab's addresses are reachable only there). */
const ASK = `
const [path, token] = process.argv.slice(1);
for (let i = 0; i < 100; i++) {
  try {
    const r = await fetch('http://127.0.0.1:8089' + path, { headers: { authorization: 'Bearer ' + token } });
    process.stdout.write(JSON.stringify({ status: r.status, body: await r.json() }));
    process.exit(0);
  } catch { await new Promise((res) => setTimeout(res, 100)); }
}
process.exit(1);
`;

async function ask(lab: LabState, path: string, token: string): Promise<{ status: number; body: unknown }> {
  const r = await execOn(lab, 1, ['node', '--input-type=module', '-e', ASK, path, token]);
  if (r.code !== 0) throw new Error(`GET ${path}: the server did not answer`);
  return JSON.parse(r.stdout) as { status: number; body: unknown };
}

interface Tunnel {
  node: string;
  peer: string;
  tunnel: string;
  up: boolean;
  rtt_ms: number | null;
  tx_packets: number | null;
}

/** The article's "web interface and API": the same VPC read through `meshvpc server` with a token. */
async function apiTour(lab: LabState): Promise<number> {
  say('\n== The same VPC through the HTTP API (meshvpc server on host1) ==');
  say('\nhost1% meshvpc token mode=create name=demo role=read --json');
  const made = await meshvpc(lab, 1, ['token', 'mode=create', 'name=demo', 'role=read', '--json']);
  if (made.code !== 0) throw new Error(`host1: token mode=create exited ${made.code}: ${made.stderr.trim()}`);
  const token = (JSON.parse(made.stdout) as { token: string }).token;
  // A secret is not printed, even a lab's: its shape is.
  say(`  {"name": "demo", "role": "read", "token": "${token.slice(0, 9)}..."}`);
  say('\nhost1% meshvpc server listen=127.0.0.1:8089 &');
  const argv = onHost(lab, 1, ['meshvpc', 'server', 'listen=127.0.0.1:8089']);
  const server = spawn(argv[0] as string, argv.slice(1), { stdio: 'ignore' });
  try {
    const status = await ask(lab, '/api/v1/vpcs/vpc1/status', token);
    say(`  GET /api/v1/vpcs/vpc1/status -> ${status.status}`);
    const hosts = (status.body as { hosts: { tunnels: Tunnel[] }[] }).hosts ?? [];
    for (const t of hosts.flatMap((h) => h.tunnels)) say(`    ${t.node} -> ${t.peer} (${t.tunnel}): ${t.up ? 'up' : 'DOWN'}, rtt ${t.rtt_ms ?? '-'} ms, ${t.tx_packets ?? '-'} packets sent`);
    const containers = await ask(lab, '/api/v1/containers', token);
    const list = (containers.body as { containers: { jname: string; node: string; status: string }[] }).containers ?? [];
    say(`  GET /api/v1/containers -> ${containers.status}: ${list.map((c) => `${c.jname}@${c.node} ${c.status}`).join(', ')}`);
    const refused = await ask(lab, '/api/v1/vpcs', 'mvpc_not-a-token');
    say(`  GET /api/v1/vpcs with a wrong token -> ${refused.status} ${JSON.stringify(refused.body)}`);
    const ok = status.status === 200 && hosts.length === 3 && list.length === 3 && refused.status === 401;
    return ok ? 0 : 1;
  } finally {
    server.kill('SIGTERM');
  }
}

export async function runDemo(underlay: Underlay, keep: boolean): Promise<number> {
  say(`Building a lab of 3 hosts on an IPv${underlay === 'v6' ? 6 : 4} underlay...`);
  const lab = await createLab({ hosts: 3, underlay });
  let failures = 0;
  try {
    const hosts = [1, 2, 3];
    const addr = (i: number): string => (underlay === 'v6' ? lab.hosts[i - 1]?.ip6 : lab.hosts[i - 1]?.ip4) as string;
    for (const h of lab.hosts) say(`  ${h.name}: ${h.ip6 ?? h.ip4}`);
    say('\n== Join the hosts (node mode=add on each, as in the article) ==');
    for (const h of hosts) for (const o of hosts) if (o !== h) await step(lab, h, ['node', 'mode=add', `node=${addr(o)}`]);
    await step(lab, 1, ['node', 'mode=list']);
    say('\n== Define vpc1 on every host ==');
    for (const h of hosts) await step(lab, h, ['vpc', 'mode=init', 'node_member=all', `peer_network=${DEMO.peerNetwork}`, 'vpc_name=vpc1']);
    say('\n== Peer map on one host, then sync ==');
    await step(lab, 1, ['vpc', 'vpc_name=vpc1', 'mode=init_peers']);
    await step(lab, 1, ['vpc', 'vpc_name=vpc1', 'mode=sync']);
    say('\n== Tunnels on every host ==');
    for (const h of hosts) await step(lab, h, ['vpc', 'vpc_name=vpc1', 'mode=init_vxlan']);
    await shell(lab, 1, ['ip', '-br', 'link', 'show', 'type', 'vxlan']);
    const map = JSON.parse(await step(lab, 1, ['vpc', 'vpc_name=vpc1', 'mode=init_peers', '--json'])) as { node_a: string; addr_b: string; node_b: string; addr_a: string }[];
    for (const pair of map) {
      const [from, to] = pair.node_a === 'host1' ? ['host1', pair.addr_b] : [pair.node_b, pair.addr_a];
      if (!(await shell(lab, Number(from.slice(4)), ['ping', '-c', '1', '-W', '2', to.split('/')[0] as string]))) failures++;
    }
    say('\n== Bridge with split horizon on every host ==');
    for (const h of hosts) await step(lab, h, ['vpc', 'vpc_name=vpc1', 'mode=init_bridge']);
    await shell(lab, 2, ['bridge', 'link', 'show']);
    say('\n== One container per host ==');
    for (const h of hosts) await step(lab, h, ['jcreate', `jname=jail${h}`, 'ip4_addr=0', 'interface=vpc1', 'vnet=1', 'runasap=1']);
    await step(lab, 1, ['jls']);
    await step(lab, 1, ['jwhereis', 'jail3']);
    for (const h of hosts) await step(lab, h, ['jexec', `jname=jail${h}`, 'ip', 'addr', 'add', DEMO.guestNet(h), 'dev', 'eth0']);
    say('\n== The containers see each other ==');
    for (const h of hosts) {
      for (const o of hosts) {
        if (o === h) continue;
        const r = await meshvpc(lab, h, ['jexec', `jname=jail${h}`, 'ping', '-c', '2', '-i', '0.2', '-W', '2', DEMO.guestAddr(o)]);
        const summary = /(\d+) packets transmitted, (\d+) received.*\n.*= ([\d.]+)\//s.exec(r.stdout);
        say(`  jail${h}@host${h} -> jail${o} (${DEMO.guestAddr(o)}): ${r.code === 0 ? 'ok' : 'FAILED'}${summary ? `, ${summary[2]}/${summary[1]} replies, rtt ${summary[3]} ms` : ''}`);
        if (r.code !== 0) failures++;
      }
    }
    await step(lab, 1, ['vpc', 'vpc_name=vpc1', 'mode=status']);
    failures += await apiTour(lab);
    say('\n== Boot persistence (printed, not installed) ==');
    await step(lab, 1, ['vpc', 'mode=init_rc', 'vpc_name=vpc1', 'dryrun=1']);
    say(failures === 0 ? '\nDemo complete: every container reached every other across the VPC.' : `\nDemo finished with ${failures} failed check(s).`);
    return failures === 0 ? 0 : 1;
  } finally {
    if (keep) say(`\nlab ${lab.id} kept: meshvpc lab run host=1 meshvpc ...; meshvpc lab down when done`);
    else {
      await destroyLab(lab);
      say(`lab ${lab.id} torn down`);
    }
  }
}
