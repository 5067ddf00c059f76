/**
 * deploy/join/leave/sync on a terminal: the events folded into a row per
 * host, the frame those rows make, and the printer that redraws it in place;
 * off a terminal the lines meshvpc has always printed, byte for byte.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { clean, fit, foldEvent, newProgress, noteLine, renderFrame, rowText, textWidth, type Progress } from '../../src/adapters/cli/live-progress.js';
import { livePrinter, type Terminal } from '../../src/adapters/cli/live-printer.js';
import { eventPrinter, render } from '../../src/adapters/cli/render.js';
import { parseArgs } from '../../src/adapters/cli/args.js';
import type { OperationEvent } from '../../src/app/operations.js';
import type { ConvergeResult, HostOutcome, SyncOutcome } from '../../src/app/vpc-cluster.js';

const outcome = (over: Partial<HostOutcome>): HostOutcome => ({ host: 'host2', role: 'member', dryrun: false, ok: true, changes: 4, error: null, kind: null, seconds: 0.518, ...over });
const synced = (over: Partial<SyncOutcome>): OperationEvent => ({ type: 'synced', outcome: { host: 'host2', ok: true, result: 'updated', error: null, kind: null, seconds: 0.12, ...over } });
const fold = (p: Progress, ...events: OperationEvent[]): Progress => events.reduce(foldEvent, p);
const states = (p: Progress): string[] => p.rows.map((r) => `${r.host}:${r.state}`);

/** A deploy from host1 to host2..host4: host4 does not answer, host3 refuses. */
const DEPLOY: OperationEvent[] = [
  { type: 'accepted', vpc: 'vpc1' },
  { type: 'checking', vpc: 'vpc1', peers: 3 },
  { type: 'connected', host: 'host2', version: '0.3.0' },
  { type: 'connected', host: 'host3', version: '0.3.0' },
  { type: 'unreachable', host: 'host4', error: 'cannot reach host4 (192.0.2.4 port 22): timed out' },
  { type: 'older_peer', host: 'host3', version: '0.1.0', ours: '0.3.0' },
  { type: 'applying', host: 'host1' },
  { type: 'applying', host: 'host2' },
  { type: 'applying', host: 'host3' },
  { type: 'host', outcome: outcome({ host: 'host2' }) },
  { type: 'host', outcome: outcome({ host: 'host1', changes: 1, seconds: 0.2 }) },
  { type: 'host', outcome: outcome({ host: 'host3', ok: false, changes: null, error: 'host3: refused: x', kind: 'invalid', seconds: 0.3 }) },
];

const RESULT: ConvergeResult = {
  vpc: 'vpc1', dryrun: false, members: 4, converged: 2, leaving: 0, leftCleanly: 0, changes: 5, seconds: 1.104,
  timing: { connectMs: 516, checkMs: null, applyMs: 293 }, hosts: [], current: [], mtu: null, ok: false,
};
const SUMMARY = 'vpc1: 2 of 4 hosts converged, 5 changes (1.10s; connect 516ms, sync+apply 293ms)';

/** What meshvpc has always printed for DEPLOY, line by line. */
const DEPLOY_LINES = [
  'vpc1: checking 3 peers',
  '  host4: UNREACHABLE: cannot reach host4 (192.0.2.4 port 22): timed out',
  '  host3: runs meshvpc 0.1.0 (this host 0.3.0): it checks the VPC only when it applies it; upgrade it',
  '  host2: converged, 4 changes (0.52s)',
  '  host1: converged, 1 change (0.20s)',
  '  host3: FAILED: host3: refused: x (0.30s)',
];

class FakeTerminal implements Terminal {
  text = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 80,
    readonly rows = 24,
  ) {}
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

/** Run `fn` with process.stdout.write going to `term` too. */
function into(term: FakeTerminal, fn: () => void): void {
  const original = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array): boolean => term.write(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stdout.write = original;
  }
}

describe('the fold', () => {
  test('hosts in the order they were first announced, each state as it happens', () => {
    let p = fold(newProgress(), ...DEPLOY.slice(0, 2));
    assert.deepEqual(p.rows, []);
    assert.equal(p.peers, 3);
    p = fold(p, ...DEPLOY.slice(2, 5));
    assert.deepEqual(states(p), ['host2:connected', 'host3:connected', 'host4:unreachable']);
    p = fold(p, ...DEPLOY.slice(5, 9));
    assert.deepEqual(states(p), ['host2:applying', 'host3:applying', 'host4:unreachable', 'host1:applying']);
    p = fold(p, ...DEPLOY.slice(9));
    assert.deepEqual(states(p), ['host2:done', 'host3:failed', 'host4:unreachable', 'host1:done']);
    assert.equal(p.rows[0]?.changes, 4);
    assert.equal(p.rows[0]?.seconds, 0.518);
    assert.equal(p.rows[1]?.reason, 'host3: refused: x');
  });

  test('expected hosts wait, then connect; an outcome is not overwritten by a late connected', () => {
    let p = newProgress(['host2', 'host3', 'host2']);
    assert.deepEqual(states(p), ['host2:waiting', 'host3:waiting']);
    p = fold(p, { type: 'checking', vpc: 'vpc1', peers: 2 });
    assert.deepEqual(states(p), ['host2:connecting', 'host3:connecting']);
    p = fold(p, { type: 'host', outcome: outcome({}) }, { type: 'connected', host: 'host2', version: '0.3.0' });
    assert.deepEqual(states(p), ['host2:done', 'host3:connecting']);
  });

  test('a re-allocation round applies a host again after its outcome', () => {
    const p = fold(newProgress(), { type: 'host', outcome: outcome({ ok: false, changes: null, error: 'VXLAN id 106 of b13 is already used' }) }, { type: 'reallocating', vpc: 'b13', vnis: [106], round: 1 }, { type: 'applying', host: 'host2' });
    assert.deepEqual(states(p), ['host2:applying']);
    assert.equal(p.rows[0]?.reason, null);
  });

  test('sync outcomes, and events of other operations left alone', () => {
    const p = fold(newProgress(), synced({}), synced({ host: 'host3', ok: false, result: null, error: 'refused' }), { type: 'leaving', node: 'host9', vpc: 'vpc1' });
    assert.deepEqual(states(p), ['host2:done', 'host3:failed']);
    assert.equal(rowText(p.rows[0]!), 'synced: updated (0.12s)');
    assert.equal(rowText(p.rows[1]!), 'FAILED (0.12s): refused');
  });

  test('what is not about one host is a note printed above the frame', () => {
    assert.deepEqual(DEPLOY.map(noteLine).filter((l) => l !== null), [DEPLOY_LINES[0], DEPLOY_LINES[2]]);
    assert.equal(noteLine({ type: 'reallocating', vpc: 'b13', vnis: [106], round: 1 }), 'b13: VXLAN id 106 taken meanwhile by another VPC; allocating others (round 1)');
    const spread = { vpc: 'vpc1', smaller: [{ node: 'host3', link: 1400, tunnel: 1350 }], segment: 1350, others: 1450, needs: 1330 };
    assert.equal(noteLine({ type: 'mtu_differs', ...spread }), "warning: vpc1: host3's link carries 1400, so its tunnels and the segment use 1350 (others 1450)", 'printed above the frame');
    assert.equal(noteLine({ type: 'dryrun_command', host: 'host1', argv: ['ip', 'link'] }), '  [dryrun] host1: ip link');
    assert.equal(noteLine(synced({})), null);
  });
});

describe('the frame', () => {
  const row = (e: OperationEvent): string => rowText(fold(newProgress(), e).rows[0]!);

  test("each state's words", () => {
    assert.equal(rowText(newProgress(['h']).rows[0]!), 'waiting');
    assert.equal(rowText(fold(newProgress(['h']), { type: 'checking', vpc: 'v', peers: 1 }).rows[0]!), 'connecting ...');
    assert.equal(row({ type: 'connected', host: 'h', version: '0.3.0' }), 'connected (meshvpc 0.3.0)');
    assert.equal(row({ type: 'applying', host: 'h' }), 'applying ...');
    assert.equal(row({ type: 'host', outcome: outcome({}) }), 'done, 4 changes (0.52s)');
    assert.equal(row({ type: 'host', outcome: outcome({ changes: 1 }) }), 'done, 1 change (0.52s)');
    assert.equal(row({ type: 'host', outcome: outcome({ changes: 0 }) }), 'done, no changes (0.52s)');
    assert.equal(row({ type: 'host', outcome: outcome({ role: 'leaving', changes: 3 }) }), 'left, 3 changes (0.52s)');
    assert.equal(row({ type: 'host', outcome: outcome({ dryrun: true }) }), 'would apply 4 changes (0.52s)');
    assert.equal(row({ type: 'host', outcome: outcome({ ok: false, changes: null, error: null }) }), 'FAILED (0.52s): no reason given');
    assert.equal(row({ type: 'unreachable', host: 'h', error: 'cannot reach h (192.0.2.9 port 22): timed out' }), 'UNREACHABLE: cannot reach h (192.0.2.9 port 22): timed out');
  });

  test('a line per host, names aligned, in the order announced', () => {
    const p = fold(newProgress(), ...DEPLOY);
    assert.deepEqual(renderFrame(p, 200), [
      '  host2  done, 4 changes (0.52s)',
      '  host3  FAILED (0.30s): host3: refused: x',
      '  host4  UNREACHABLE: cannot reach host4 (192.0.2.4 port 22): timed out',
      '  host1  done, 1 change (0.20s)',
    ]);
    const q = fold(newProgress(), { type: 'applying', host: 'a' }, { type: 'applying', host: 'longer-host' });
    assert.deepEqual(renderFrame(q, 80), ['  a            applying ...', '  longer-host  applying ...']);
  });

  test('before any host is named: how many peers it is connecting to', () => {
    assert.deepEqual(renderFrame(fold(newProgress(), { type: 'checking', vpc: 'v', peers: 3 }), 80), ['  connecting to 3 peers ...']);
    assert.deepEqual(renderFrame(newProgress(), 80), []);
  });

  test('fitted to the width: cut with "...", never wider, never wrapped', () => {
    const p = fold(newProgress(), ...DEPLOY);
    for (const width of [10, 20, 33, 40, 79]) {
      const lines = renderFrame(p, width);
      assert.equal(lines.length, 4);
      for (const l of lines) assert.ok(textWidth(l) <= width, `${JSON.stringify(l)} within ${width}`);
    }
    assert.equal(renderFrame(p, 30)[2], '  host4  UNREACHABLE: canno...');
    assert.equal(renderFrame(p, 30)[0], '  host2  done, 4 changes (0...');
    assert.equal(fit('abcdef', 6), 'abcdef');
    assert.equal(fit('abcdefg', 6), 'abc...');
    assert.equal(fit('abcdefg', 2), '..');
    // Wide characters count two columns and are never split.
    assert.equal(textWidth('主机失败'), 8);
    assert.equal(fit('主机失败了', 8), '主机...');
    assert.equal(fit('ab😀cd', 5), 'ab...');
  });

  test("a failed host's reason on one line, a peer's control characters stripped", () => {
    const evil = 'refused:\x1b[2J\x1b[31m red\r\nsecond line\tand\u202etab\x07\x9b';
    const p = fold(newProgress(), { type: 'host', outcome: outcome({ host: 'host\x1b[1m2', ok: false, changes: null, error: evil }) }, { type: 'unreachable', host: 'host3', error: 'a\nb' });
    const lines = renderFrame(p, 200);
    assert.deepEqual(lines, ['  host [1m2  FAILED (0.52s): refused: [2J [31m red second line and tab', '  host3      UNREACHABLE: a b']);
    for (const l of lines) assert.ok([...l].every((c) => c >= ' ' && !(c >= '\x7f' && c <= '\x9f') && c !== '\u202e'), JSON.stringify(l));
    assert.equal(clean('  a\x00\x00b  '), 'a b');
  });

  test('more hosts than lines: the first ones and a count of the others', () => {
    const hosts = ['h1', 'h2', 'h3', 'h4', 'h5'];
    const p = fold(newProgress(hosts), { type: 'host', outcome: outcome({ host: 'h4' }) }, { type: 'applying', host: 'h5' });
    assert.deepEqual(renderFrame(p, 80, 3), ['  h1  waiting', '  h2  waiting', '  ... 3 more hosts: 1 waiting, 1 done, 1 applying']);
    assert.equal(renderFrame(p, 80, 5).length, 5);
  });
});

describe('the printer', () => {
  const params = parseArgs(['vpc', 'mode=deploy', 'vpc_name=vpc1']).params;

  test('not a terminal: the lines meshvpc has always printed, byte for byte', () => {
    const term = new FakeTerminal(false);
    const print = eventPrinter('vpc.deploy', false, term);
    for (const e of DEPLOY) print(e);
    print.finish();
    into(term, () => render('vpc.deploy', RESULT, params));
    assert.equal(term.text, [...DEPLOY_LINES, SUMMARY].map((l) => `${l}\n`).join(''));
    assert.ok(!term.text.includes('\x1b'));
  });

  test('sync off a terminal: a line per peer as before', () => {
    const term = new FakeTerminal(false);
    const print = eventPrinter('vpc.sync', false, term);
    print(synced({}));
    print(synced({ host: 'host3', ok: false, result: null, error: 'host3: refused: x' }));
    print.finish();
    assert.equal(term.text, '  host2: synced: updated (0.12s)\n  host3: FAILED: host3: refused: x (0.12s)\n');
  });

  test('--json on a terminal: nothing along the way', () => {
    const term = new FakeTerminal(true);
    const print = eventPrinter('vpc.deploy', true, term);
    for (const e of DEPLOY) print(e);
    print.finish();
    assert.equal(term.text, '');
  });

  test('operations without live rows print their lines on a terminal too', () => {
    const term = new FakeTerminal(true);
    const print = eventPrinter('vpc.collapse', false, term);
    print({ type: 'torn_down', outcome: { host: 'host2', ok: true, error: null, changes: 2, seconds: 0.1 } });
    assert.equal(term.text, '  host2: collapsed, 2 changes (0.10s)\n');
  });

  test('a terminal: the frame redrawn in place, notes above it, the final frame then the summary', () => {
    const term = new FakeTerminal(true, 60);
    const print = eventPrinter('vpc.deploy', false, term);
    for (const e of DEPLOY) print(e);
    print.finish();
    into(term, () => render('vpc.deploy', RESULT, params));
    const t = term.text;
    assert.ok(['1', '2', '3', '4'].some((n) => t.includes(`\r\x1b[${n}A`)), 'moves the cursor up over the frame');
    assert.ok(t.includes('\x1b[2K'), 'clears the lines it rewrites');
    const final = fold(newProgress(), ...DEPLOY);
    const frame = renderFrame(final, 59).map((l) => `\x1b[2K${l}\n`).join('');
    assert.ok(t.endsWith(`${frame}${SUMMARY}\n`), JSON.stringify(t.slice(-400)));
    // Notes once each, above the frame; no per-host line of the old format.
    assert.equal(t.split('vpc1: checking 3 peers\n').length, 2);
    assert.equal(t.split('runs meshvpc 0.1.0').length, 2);
    assert.doesNotMatch(t, /host2: converged/);
  });

  test('throttled: at most one redraw per interval, always the final state', () => {
    let clock = 1000;
    const term = new FakeTerminal(true);
    const print = livePrinter(term, { intervalMs: 100, now: () => clock });
    print({ type: 'applying', host: 'host2' });
    const first = term.text;
    assert.equal(first, '\x1b[2K  host2  applying ...\n');
    clock += 10;
    print({ type: 'applying', host: 'host3' });
    print({ type: 'host', outcome: outcome({ host: 'host2' }) });
    assert.equal(term.text, first, 'nothing drawn within the interval');
    clock += 5;
    print.finish();
    assert.equal(term.text, `${first}\r\x1b[1A\x1b[2K  host2  done, 4 changes (0.52s)\n\x1b[2K  host3  applying ...\n`);
    print.finish();
    assert.equal(term.text.split('\x1b[1A').length, 2, 'finish draws once');
  });

  test('a redraw later on its own when events stop within the interval', async () => {
    const term = new FakeTerminal(true);
    const print = livePrinter(term, { intervalMs: 20 });
    print({ type: 'applying', host: 'host2' });
    print({ type: 'host', outcome: outcome({ host: 'host2' }) });
    await new Promise((r) => setTimeout(r, 60));
    assert.match(term.text, /host2 {2}done, 4 changes/);
    print.finish();
  });

  test('live, the frame stays within the screen; the final one is whole', () => {
    const term = new FakeTerminal(true, 80, 4);
    const print = livePrinter(term, { intervalMs: 0 });
    for (const h of ['h1', 'h2', 'h3', 'h4', 'h5', 'h6']) print({ type: 'applying', host: h });
    const live = term.text;
    assert.match(live, /\.\.\. 4 more hosts: 4 applying\n$/);
    print.finish();
    assert.ok(term.text.slice(live.length).endsWith('\x1b[2K  h5  applying ...\n\x1b[2K  h6  applying ...\n'));
  });

  test('nothing happened (a dry sync): nothing drawn', () => {
    const term = new FakeTerminal(true);
    const print = eventPrinter('vpc.sync', false, term);
    print.finish();
    assert.equal(term.text, '');
  });
});
