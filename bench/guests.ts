/**
 * Guests: what cluster-wide admission costs a container's creation, and how
 * long the default VM guest takes to boot here. On a 3-host lab, containers
 * are created one after another on host1 on a VPC without a quota or guest
 * network (nothing is coordinated) and on one with both (the arbiter's lease,
 * every member asked); the ratio of the medians is taken in the same run. Then
 * a burst: N creations at once spread over the three hosts, serialised
 * through the lease. Then TCG VMs boot to their ready line.
 */
import type { LabState } from '../src/lab/lab.js';
import { fmt, type Benchmark, type Options, type Outcome } from './lib/bench.js';
import { BenchError, joinFromHost1, mvOk, timedMv, timedMvOk } from './lib/hosts.js';
import { withLab } from './lib/lab.js';
import { median, now, quantile, ratio, round } from './lib/stats.js';
import type { Table } from './lib/table.js';

const spread = (xs: readonly number[]): string => (xs.length === 0 ? '-' : `${fmt(Math.min(...xs) / 1000)} / ${fmt(median(xs) / 1000)} / ${fmt(Math.max(...xs) / 1000)}`);

async function creations(lab: LabState, vpc: string, prefix: string, n: number, extra: string[]): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) ms.push((await timedMvOk(lab, 1, 'jcreate', `jname=${prefix}${i}`, `interface=${vpc}`, ...extra)).ms);
  return ms;
}

async function vmBoot(lab: LabState, name: string): Promise<number> {
  const t0 = now();
  await mvOk(lab, 1, 'bcreate', `jname=${name}`, 'interface=plain', 'vm_accel=tcg', 'vm_ram=192m', 'runasap=1');
  for (;;) {
    if (now() - t0 > 180_000) throw new BenchError(`${name} did not boot within 180 s`);
    const r = await timedMv(lab, 1, 'bconsole', `jname=${name}`);
    if (new RegExp(`meshvpc-guest ${name} ready`).test(r.stdout)) return now() - t0;
    await new Promise((res) => setTimeout(res, 250));
  }
}

export const guestsBench: Benchmark = {
  name: 'guests',
  title: 'Guests: admission cost and VM boot',
  method:
    'A 3-host IPv4 lab; two VPCs on all three hosts: `plain` (no quota, no guest network) and `policed` (jail_max and ' +
    'guest_network). On host1, containers are created one after another (`jcreate ... runasap=0`, timed from the CLI) on ' +
    'each, alternating, and the ratio of the medians (policed / plain) is taken in the same run; min / median / max are ' +
    'given. Then N `jcreate ip4_addr=auto` are started at once, spread over the three hosts, on the policed VPC: they take ' +
    'turns on the arbiter\'s lease, so the wall time over N is the cost of one guarded decision under contention. Last, ' +
    'VMs of the default guest (TCG, 192 MiB) are created with runasap=1, one after another, timed to the ready line on ' +
    'their serial console.',
  async run(opts: Options): Promise<Outcome> {
    const n = opts.quick ? 3 : 10;
    const burst = opts.quick ? 6 : 30;
    const vms = opts.quick ? 1 : 3;
    const data = await withLab({ hosts: 3, underlay: 'v4' }, async (lab) => {
      await joinFromHost1(lab);
      // Every member asks every other for its guests: host2 must know host3 too.
      await mvOk(lab, 2, 'node', 'mode=add', 'node=192.0.2.3');
      await mvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=plain', 'node_member=all', 'peer_network=198.51.100.0/26');
      await mvOk(lab, 1, 'vpc', 'mode=deploy', 'vpc_name=policed', 'node_member=all', 'peer_network=198.51.100.64/26', 'jail_max=1000', 'guest_network=10.50.0.0/16');
      const plain: number[] = [];
      const policed: number[] = [];
      for (let i = 0; i < n; i++) {
        plain.push(...(await creations(lab, 'plain', `p${i}x`, 1, [])));
        policed.push(...(await creations(lab, 'policed', `q${i}x`, 1, ['ip4_addr=auto'])));
      }
      const t0 = now();
      const results = await Promise.all(Array.from({ length: burst }, (_, i) => timedMv(lab, (i % 3) + 1, 'jcreate', `jname=b${i}`, 'interface=policed', 'ip4_addr=auto')));
      const burstMs = now() - t0;
      const failed = results.filter((r) => r.code !== 0);
      if (failed.length > 0) throw new BenchError(`${failed.length} of ${burst} concurrent creations failed: ${failed[0]?.stderr.trim()}`);
      const addrs = JSON.parse(await mvOk(lab, 1, 'jls', 'cluster=1', '--json')) as { jname: string; ip4_addr: string }[];
      const distinct = new Set(addrs.filter((a) => a.jname.startsWith('b')).map((a) => a.ip4_addr)).size;
      const boots: number[] = [];
      for (let i = 0; i < vms; i++) boots.push(await vmBoot(lab, `vm${i}`));
      return { plain, policed, burstMs, distinct, boots };
    });
    const r = ratio(median(data.policed), median(data.plain));
    const table: Table = {
      title: 'Container creation on host1 (s: min / median / max)',
      columns: ['VPC', 'creations', 'seconds', 'median ratio'],
      rows: [
        ['plain (nothing coordinated)', data.plain.length, spread(data.plain), '1.00'],
        ['policed (lease + 2 members asked)', data.policed.length, spread(data.policed), fmt(r)],
      ],
      note: 'policed: jail_max and guest_network set, ip4_addr=auto; host1 is also the arbiter, so its lease is local and only the two peers are asked over SSH.',
    };
    const burstTable: Table = {
      title: `${burst} creations at once over 3 hosts (policed VPC, ip4_addr=auto)`,
      columns: ['wall s', 's per creation', 'distinct addresses'],
      rows: [[fmt(data.burstMs / 1000), fmt(data.burstMs / 1000 / burst), `${data.distinct} of ${burst}`]],
    };
    const bootTable: Table = {
      title: 'Default VM guest, TCG, 192 MiB: bcreate runasap=1 to the ready line (s)',
      columns: ['VMs', 'min / median / max', 'p90'],
      rows: [[data.boots.length, spread(data.boots), fmt(quantile(data.boots, 0.9) / 1000)]],
    };
    return {
      tables: [table, burstTable, bootTable],
      targets: [{ what: 'concurrent auto addresses distinct', goal: `${burst} of ${burst}`, value: `${data.distinct} of ${burst}`, met: data.distinct === burst }],
      data: { ...data, medianRatio: round(r, 3) },
    };
  },
};
