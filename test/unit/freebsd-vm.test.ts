/**
 * The FreeBSD VM driver (platform/freebsd/vm.ts) through a recording
 * executor: what start, stop, running and tapIsOurs run, in order, and what a
 * failure undoes. The taps are the real CBSD capture (freebsd-real) renamed
 * and relabelled; ps and sysctl answers are as FreeBSD prints them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/core/errors.js';
import type { VmSpec } from '../../src/platform/driver.js';
import { bhyveStartCommands } from '../../src/platform/freebsd/bhyve.js';
import { freebsdDriver } from '../../src/platform/freebsd/driver.js';
import { freebsdVm, parseBoottime, parsePsStart } from '../../src/platform/freebsd/vm.js';
import { RecordingExecutor, argvLine, type ArgvMatcher } from '../../src/platform/recording.js';
import { ifconfigBlock, realFixture } from './freebsd-helpers.js';

/** tapFor('web1') in src/app/vm.ts. */
const HOSTIF = 'tapvb51ce25e46';
const DIR = '/var/db/meshvpc/vm/web1';
const VM: VmSpec = {
  name: 'web1',
  bridge: 'vpc1',
  mtu: 1430,
  hostIf: HOSTIF,
  mac: '02:5e:11:a0:3c:7d',
  ramBytes: 1024 * 1024 * 1024,
  cpus: 2,
  accel: 'kvm',
  kernel: null,
  initrd: null,
  disk: `${DIR}/disk.img`,
  cmdline: '',
  consoleLog: `${DIR}/console.log`,
  pidFile: `${DIR}/vm.pid`,
};
const CONSOLE = '/dev/nmdm-web1-A';
const START_LINES = bhyveStartCommands(VM, CONSOLE).map(argvLine);
/** No waiting in tests: two looks, no pause. */
const FAST = { stepMs: 0, tries: 2 };

const PGREP = ['pgrep', '-L', '-F', `${DIR}/vm.pid`];
const PKILL_CONSOLE = ['pkill', '-L', '-F', `${DIR}/vm.console.pid`];
const PS = ['env', 'LC_ALL=C', 'TZ=UTC', 'ps', '-o', 'comm=', '-o', 'lstart=', '-p', '4242'];
const BOOTTIME = ['sysctl', '-n', 'kern.boottime'];
const SHOW_TAP = ['ifconfig', HOSTIF];
const DESTROY_TAP = `ifconfig ${HOSTIF} destroy`;

/** bhyve started 2025-01-02 15:04:05 UTC, 10245 s after a boot at 1735820000. */
const PS_BHYVE = { stdout: 'bhyve            Thu Jan  2 15:04:05 2025\n' };
const BOOT = { stdout: '{ sec = 1735820000, usec = 250000 } Thu Jan  2 12:13:20 2025\n' };
const IDENTITY = '4242:10245';
const PS_GONE = { code: 1, stdout: '' };

const NO_PIDFILE = { code: 2, stderr: `pgrep: Cannot open pidfile \`${DIR}/vm.pid': No such file or directory\n` };
const NO_CONSOLE_PIDFILE = { code: 2, stderr: `pkill: Cannot open pidfile \`${DIR}/vm.console.pid': No such file or directory\n` };
const NO_TAP = { code: 1, stderr: `ifconfig: interface ${HOSTIF} does not exist\n` };

/** The real tap1 of the CBSD capture under the VM's tap name, with `description` as given. */
function tapBlock(description: string): { stdout: string } {
  const tap1 = ifconfigBlock(realFixture('tap-bhyve-cbsd-blog.txt'), 'tap1');
  return { stdout: tap1.replace(/^tap1:/, `${HOSTIF}:`).replace('description: dmz-nic0', `description: ${description}`) };
}
const OUR_TAP = tapBlock('guest-web1');
const FOREIGN_TAP = tapBlock('dmz-nic0');

const LS_VMM = ['ls', '-1', '/dev/vmm'];

const isStartCommand: ArgvMatcher = (argv) => START_LINES.includes(argvLine(argv));

/**
 * A FreeBSD host where web1 is not running and has no tap: the start commands
 * succeed, bhyve gets pid 4242, and afterwards the tap carries web1's mark.
 */
function freshHost(): RecordingExecutor {
  return new RecordingExecutor({ strict: true })
    .on(isStartCommand, {})
    .on(PGREP, { stdout: '4242\n' })
    .once(PGREP, NO_PIDFILE)
    .on(PKILL_CONSOLE, NO_CONSOLE_PIDFILE)
    .on(SHOW_TAP, OUR_TAP)
    .once(SHOW_TAP, NO_TAP)
    .on(PS, PS_BHYVE)
    .on(BOOTTIME, BOOT)
    .on(LS_VMM, { stdout: 'other1\n' });
}

const PRE_START = [argvLine(PGREP), argvLine(PKILL_CONSOLE), argvLine(SHOW_TAP), argvLine(LS_VMM)];
const IDENTITY_READ = [argvLine(PGREP), argvLine(PS), argvLine(BOOTTIME)];

async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => assert.fail('it succeeded'),
    (e: unknown) => (e instanceof Error ? e : assert.fail(`not an Error: ${String(e)}`)),
  );
}

test('startCommands: the renderer\'s argv with the console on /dev/nmdm-NAME-A; the driver offers vm', () => {
  const vm = freebsdVm(new RecordingExecutor({ strict: true }));
  assert.deepEqual(vm.startCommands(VM).map(argvLine), START_LINES);
  assert.ok(START_LINES.at(-1)?.includes(' -l com1,/dev/nmdm-web1-A '));
  assert.ok(START_LINES.some((l) => l.endsWith(' sh /dev/nmdm-web1-B')));
  const driver = freebsdDriver(new RecordingExecutor({ strict: true }));
  assert.deepEqual(driver.vm?.startCommands(VM), bhyveStartCommands(VM, CONSOLE));
});

test('start: the checks, the start commands in order, then the identity from the pid file, ps and kern.boottime', async () => {
  const exec = freshHost();
  assert.equal(await freebsdVm(exec, FAST).start(VM), IDENTITY);
  assert.deepEqual(exec.lines(), [...PRE_START, ...START_LINES, ...IDENTITY_READ]);
});

test('start: a leftover tap with this VM\'s mark goes before the tap is made again', async () => {
  const exec = freshHost().once(SHOW_TAP, OUR_TAP).on((a) => argvLine(a) === DESTROY_TAP, {});
  assert.equal(await freebsdVm(exec, FAST).start(VM), IDENTITY);
  assert.deepEqual(exec.lines(), [...PRE_START.slice(0, 3), DESTROY_TAP, argvLine(LS_VMM), ...START_LINES, ...IDENTITY_READ]);
});

test('start refuses before making anything: a foreign tap, an unrecorded bhyve of this VM, a kernel boot', async () => {
  const foreign = freshHost().once(SHOW_TAP, FOREIGN_TAP);
  const e1 = await failure(freebsdVm(foreign, FAST).start(VM));
  assert.ok(e1 instanceof UserError && e1.kind === 'conflict');
  assert.match(e1.message, /tapvb51ce25e46 exists and is not meshvpc's/);
  assert.deepEqual(foreign.lines(), PRE_START.slice(0, 3));

  const orphan = freshHost().once(PGREP, { stdout: '777\n' });
  const e2 = await failure(freebsdVm(orphan, FAST).start(VM));
  assert.match(e2.message, /already runs \(pid 777\).*bhyvectl --destroy --vm=web1/);
  assert.deepEqual(orphan.lines(), [argvLine(PGREP)]);

  const kernel = freshHost();
  const e3 = await failure(freebsdVm(kernel, FAST).start({ ...VM, kernel: '/boot/vmlinuz', disk: null, accel: 'tcg' }));
  assert.match(e3.message, /FreeBSD boots VMs from vm_disk=/);
  assert.deepEqual(kernel.calls, []);
});

test('start: bhyve\'s daemon fails -> the copier and the marked tap go, no bhyvectl (no bhyve ran), the error is rethrown', async () => {
  const daemonBhyve = START_LINES.at(-1) as string;
  const exec = freshHost()
    .on((a) => argvLine(a) === daemonBhyve, { code: 2, stderr: `daemon: pidfile \`\`${DIR}/vm.pid'': Permission denied\n` })
    .on((a) => argvLine(a) === DESTROY_TAP, {});
  const e = await failure(freebsdVm(exec, FAST).start(VM));
  assert.match(e.message, /^daemon .*: daemon: pidfile .*Permission denied$/);
  assert.deepEqual(exec.lines(), [...PRE_START, ...START_LINES, argvLine(PKILL_CONSOLE), argvLine(SHOW_TAP), DESTROY_TAP]);
  assert.ok(!exec.lines().some((l) => l.startsWith('bhyvectl')));
});

test('start: another tool\'s VM instance of the same name (/dev/vmm/web1) -> refused before anything is made, and never destroyed', async () => {
  const exec = freshHost().on(LS_VMM, { stdout: 'web1\nother1\n' });
  const e = await failure(freebsdVm(exec, FAST).start(VM));
  assert.ok(e instanceof UserError && e.kind === 'conflict');
  assert.match(e.message, /a bhyve VM named "web1" already exists \(\/dev\/vmm\/web1\) and is not meshvpc's/);
  assert.deepEqual(exec.lines(), PRE_START);
  assert.ok(!exec.lines().some((l) => l.startsWith('bhyvectl') || / create | destroy/.test(l)));
});

test('start: bhyve exits at once -> no bhyvectl (no bhyve of this call was identified), then the copier and the tap', async () => {
  const exec = freshHost()
    .on(PGREP, { code: 2, stderr: `pgrep: pidfile \`${DIR}/vm.pid' is empty\n` })
    .on(['bhyvectl', '--destroy', '--vm=web1'], { code: 1, stderr: 'vm_open: web1 could not be opened: No such file or directory\n' })
    .on((a) => argvLine(a) === DESTROY_TAP, {});
  const e = await failure(freebsdVm(exec, FAST).start(VM));
  assert.match(e.message, /bhyve for VM web1 exited right after it started \(see \/var\/db\/meshvpc\/vm\/web1\/console\.log\)/);
  const tail = exec.lines().slice(PRE_START.length + START_LINES.length);
  // Three looks for the pid (FAST: two tries and a last look), then the undo: never a bhyvectl.
  assert.deepEqual(tail, [
    ...Array(3).fill(argvLine(PGREP)),
    argvLine(PKILL_CONSOLE),
    argvLine(SHOW_TAP),
    DESTROY_TAP,
  ]);
});

test('start: the tap name taken by someone else in the meantime -> the create fails and their tap is left alone', async () => {
  const create = START_LINES[1] as string;
  assert.match(create, /^ifconfig tap create name tapvb51ce25e46 description guest-web1 /);
  const exec = freshHost()
    .on((a) => argvLine(a) === create, { code: 1, stderr: 'ifconfig: ioctl SIOCSIFNAME (set name): File exists\n' })
    .on(SHOW_TAP, FOREIGN_TAP)
    .once(SHOW_TAP, NO_TAP);
  const e = await failure(freebsdVm(exec, FAST).start(VM));
  assert.match(e.message, /File exists/);
  assert.deepEqual(exec.lines(), [...PRE_START, START_LINES[0], create, argvLine(SHOW_TAP)]);
  assert.ok(!exec.lines().some((l) => l.includes('destroy') || l.startsWith('bhyvectl')));
});

test('stop: the running VM is destroyed by name, then its marked tap; nothing spared', async () => {
  const exec = new RecordingExecutor({ strict: true })
    .on(PS, PS_GONE)
    .once(PS, PS_BHYVE)
    .on(BOOTTIME, BOOT)
    .on(['bhyvectl', '--destroy', '--vm=web1'], {})
    .on(SHOW_TAP, OUR_TAP)
    .on((a) => argvLine(a) === DESTROY_TAP, {});
  assert.deepEqual(await freebsdVm(exec, FAST).stop(VM, IDENTITY), []);
  assert.deepEqual(exec.lines(), [argvLine(PS), argvLine(BOOTTIME), 'bhyvectl --destroy --vm=web1', argvLine(PS), argvLine(SHOW_TAP), DESTROY_TAP]);
});

test('stop with a stale identity touches nothing: pid reused by another program, by a later bhyve, or gone', async () => {
  for (const [why, ps] of [
    ['another program', { stdout: 'sh               Thu Jan  2 15:04:05 2025\n' }],
    ['a bhyve started later', { stdout: 'bhyve            Thu Jan  2 18:30:00 2025\n' }],
    ['no such process', PS_GONE],
  ] as const) {
    const exec = new RecordingExecutor({ strict: true }).on(PS, ps).on(BOOTTIME, BOOT).on(SHOW_TAP, FOREIGN_TAP);
    assert.deepEqual(await freebsdVm(exec, FAST).stop(VM, IDENTITY), [`interface ${HOSTIF}`], why);
    assert.ok(exec.lines().every((l) => [argvLine(PS), argvLine(BOOTTIME), argvLine(SHOW_TAP)].includes(l)), `${why}: ${exec.lines().join('; ')}`);
  }
  // No identity and no tap: one look, nothing else.
  const none = new RecordingExecutor({ strict: true }).on(SHOW_TAP, NO_TAP);
  assert.deepEqual(await freebsdVm(none, FAST).stop(VM, null), []);
  assert.deepEqual(none.lines(), [argvLine(SHOW_TAP)]);
});

test('stop: a bhyve that outlives its instance is killed while it is still the same process; if it will not die the tap stays', async () => {
  const exec = new RecordingExecutor({ strict: true })
    .on(PS, PS_BHYVE)
    .on(BOOTTIME, BOOT)
    .on(['bhyvectl', '--destroy', '--vm=web1'], {})
    .on(['kill', '-KILL', '4242'], {});
  const e = await failure(freebsdVm(exec, FAST).stop(VM, IDENTITY));
  assert.match(e.message, /bhyve for VM web1 \(pid 4242\) did not exit; its tap tapvb51ce25e46 is left in place/);
  assert.equal(exec.lines().filter((l) => l === 'kill -KILL 4242').length, 1);
  assert.ok(!exec.lines().includes(DESTROY_TAP));
});

test('running: pid alive, still bhyve, same start counted from boot (a clock step moves lstart and boottime alike)', async () => {
  const run = async (ps: object, boot: object = BOOT, identity: string | null = IDENTITY): Promise<[boolean, string[]]> => {
    const exec = new RecordingExecutor({ strict: true }).on(PS, ps).on(BOOTTIME, boot);
    return [await freebsdVm(exec, FAST).running(identity), exec.lines()];
  };
  assert.deepEqual(await run(PS_BHYVE), [true, [argvLine(PS), argvLine(BOOTTIME)]]);
  // The clock stepped 1 h 0.9 s forward: boottime and lstart moved together, but boottime's fraction
  // changed and whole seconds round differently (bhyve's uptime at start 10244.8 s: 10245 before, 10244 after).
  const stepped = await run({ stdout: 'bhyve            Thu Jan  2 16:04:05 2025\n' }, { stdout: '{ sec = 1735823601, usec = 150000 } Thu Jan  2 13:13:21 2025\n' });
  assert.equal(stepped[0], true);
  assert.deepEqual(await run({ stdout: 'bash             Thu Jan  2 15:04:05 2025\n' }), [false, [argvLine(PS)]]);
  assert.equal((await run({ stdout: 'bhyve            Thu Jan  2 15:04:07 2025\n' }))[0], false);
  assert.equal((await run(PS_GONE))[0], false);
  for (const bad of [null, '', 'web1', '1:5', '4242', '4242:x']) assert.deepEqual(await run(PS_BHYVE, BOOT, bad), [false, []], String(bad));
});

test('tapIsOurs on the real CBSD tap capture: null when absent, true only with guest-NAME', async () => {
  const capture = realFixture('tap-bhyve-cbsd-blog.txt');
  const ask = async (hostIf: string, name: string, reply: object): Promise<boolean | null> =>
    freebsdVm(new RecordingExecutor({ strict: true }).on(['ifconfig', hostIf], reply), FAST).tapIsOurs({ hostIf, name });
  // As CBSD left it: description dmz-nic0 is not meshvpc's mark for VM dmz (guest-dmz).
  assert.equal(await ask('tap1', 'dmz', { stdout: ifconfigBlock(capture, 'tap1') }), false);
  assert.equal(await ask(HOSTIF, 'web1', OUR_TAP), true);
  assert.equal(await ask(HOSTIF, 'web2', OUR_TAP), false, 'another VM\'s mark is not this one\'s');
  assert.equal(await ask(HOSTIF, 'web1', { stdout: OUR_TAP.stdout.replace(/\tdescription: .*\n/, '') }), false, 'no description');
  assert.equal(await ask(HOSTIF, 'web1', NO_TAP), null);
  await assert.rejects(ask(HOSTIF, 'web1', { code: 1, stderr: 'ifconfig: socket: Protocol not supported\n' }), /ifconfig tapvb51ce25e46: ifconfig: socket: Protocol not supported/);
});

test('accel: bhyve always runs on vmm(4), reported as the hardware accelerator', async () => {
  const exec = new RecordingExecutor({ strict: true });
  const found = await freebsdVm(exec).accel('/unused', '/unused');
  assert.equal(found.accel, 'kvm');
  assert.match(found.why, /vmm\(4\)/);
  assert.deepEqual(exec.calls, []);
});

test('parsePsStart and parseBoottime read FreeBSD\'s C-locale text', () => {
  assert.deepEqual(parsePsStart('bhyve    Thu Jan  2 15:04:05 2025\n'), { comm: 'bhyve', start: 1735830245 });
  assert.deepEqual(parsePsStart('bhyve    Mon Dec 15 09:00:00 2025'), { comm: 'bhyve', start: Date.UTC(2025, 11, 15, 9) / 1000 });
  assert.equal(parsePsStart(''), null);
  assert.equal(parsePsStart('bhyve    jeu.  2 janv. 15:04:05 2025'), null);
  assert.equal(parseBoottime('{ sec = 1735820000, usec = 250000 } Thu Jan  2 12:13:20 2025'), 1735820000);
  assert.throws(() => parseBoottime('kern.boottime: unknown oid'), /cannot read kern.boottime/);
});
