/** src/cluster/fanout.ts: bounded, failure-tolerant concurrency over hosts. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fanout, type Outcome } from '../../src/cluster/fanout.js';

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A task whose in-flight count is tracked; each key finishes after its own number of ticks. */
function tracked(delays: Record<string, number> = {}) {
  const state = { inFlight: 0, peak: 0, started: [] as string[], finished: [] as string[] };
  const task = async (key: string): Promise<string> => {
    state.inFlight++;
    state.peak = Math.max(state.peak, state.inFlight);
    state.started.push(key);
    try {
      for (let i = 0; i < (delays[key] ?? 1); i++) await tick();
      if (key.startsWith('bad')) throw new Error(`${key} unreachable`);
      return `done:${key}`;
    } finally {
      state.inFlight--;
      state.finished.push(key);
    }
  };
  return { state, task };
}

const keys = (n: number, prefix = 'h'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('fanout', () => {
  for (const limit of [1, 2, 3, 5]) {
    test(`never more than ${limit} in flight, and the limit is reached`, async () => {
      const { state, task } = tracked(Object.fromEntries(keys(10).map((k, i) => [k, 1 + (i % 4)])));
      const out = await fanout(keys(10), limit, task);
      assert.equal(state.peak, limit);
      assert.equal(state.inFlight, 0);
      assert.equal(out.length, 10);
      assert.equal(state.started.length, 10);
    });
  }

  test(
    'a NaN limit still runs every key',
    async () => {
      const { state, task } = tracked();
      const out = await fanout(keys(3), Number.NaN, task);
      assert.equal(state.started.length, 3);
      assert.deepEqual(out.map((o) => o.ok), [true, true, true]);
    },
  );

  test('a limit above the number of keys runs them all at once', async () => {
    const { state, task } = tracked();
    await fanout(keys(4), 100, task);
    assert.equal(state.peak, 4);
  });

  test('a limit of 0 or below still makes progress, one at a time', async () => {
    for (const limit of [0, -3]) {
      const { state, task } = tracked();
      const out = await fanout(keys(3), limit, task);
      assert.equal(state.peak, 1);
      assert.deepEqual(out.map((o) => o.ok), [true, true, true]);
    }
  });

  test('outcomes keep the input order, whatever order the tasks finish in', async () => {
    const ks = ['slow', 'fast', 'mid', 'bad1', 'quick'];
    const { state, task } = tracked({ slow: 8, fast: 1, mid: 4, bad1: 2, quick: 1 });
    const out = await fanout(ks, 5, task);
    assert.deepEqual(out.map((o) => o.key), ks);
    assert.notDeepEqual(state.finished, ks, 'the test must really finish out of order');
    assert.deepEqual(
      out.map((o) => (o.ok ? o.value : `error:${o.error}`)),
      ['done:slow', 'done:fast', 'done:mid', 'error:bad1 unreachable', 'done:quick'],
    );
  });

  test('a failing task does not stop the others', async () => {
    const ks = ['bad0', 'h1', 'bad2', 'h3', 'h4', 'bad5'];
    const { state, task } = tracked({ bad0: 1, h1: 3 });
    const out = await fanout(ks, 2, task);
    assert.equal(state.started.length, 6);
    assert.deepEqual(out.map((o) => o.ok), [false, true, false, true, true, false]);
    const failed = out.filter((o): o is Extract<Outcome<string>, { ok: false }> => !o.ok);
    assert.deepEqual(failed.map((o) => o.error), ['bad0 unreachable', 'bad2 unreachable', 'bad5 unreachable']);
  });

  test('synchronous throws and non-Error rejections become failed outcomes', async () => {
    const out = await fanout(['a', 'b', 'c'], 2, (key) => {
      if (key === 'a') throw new Error('sync boom');
      if (key === 'b') return Promise.reject('plain string');
      return Promise.resolve(7);
    });
    assert.deepEqual(
      out.map((o) => (o.ok ? o.value : o.error)),
      ['sync boom', 'plain string', 7],
    );
  });

  test('onDone is called once per key, as each finishes, with the same outcome', async () => {
    const seen: Outcome<string>[] = [];
    const ks = ['slow', 'bad1', 'fast', 'h3'];
    const { task } = tracked({ slow: 6, bad1: 1, fast: 1, h3: 2 });
    const out = await fanout(ks, 4, task, (o) => seen.push(o));
    assert.equal(seen.length, 4);
    assert.deepEqual(seen.map((o) => o.key).sort(), [...ks].sort());
    assert.equal(seen[seen.length - 1]?.key, 'slow', 'reported in completion order');
    for (const o of seen) assert.equal(out.find((x) => x.key === o.key), o);
  });

  test('onDone sees an outcome before fanout resolves (progress lines)', async () => {
    let resolved = false;
    const times: boolean[] = [];
    const p = fanout(['a', 'b'], 1, async () => tick(), () => times.push(resolved));
    await p;
    resolved = true;
    assert.deepEqual(times, [false, false]);
  });

  test('elapsed time is reported per host', async () => {
    const out = await fanout(['a', 'bad'], 2, async (k) => {
      await tick(15);
      if (k === 'bad') throw new Error('x');
      return k;
    });
    for (const o of out) {
      assert.ok(Number.isFinite(o.ms) && o.ms >= 10, `${o.key}: ${o.ms} ms`);
    }
  });

  test('no keys: no calls, empty result', async () => {
    let calls = 0;
    const out = await fanout([], 4, async () => calls++, () => calls++);
    assert.deepEqual(out, []);
    assert.equal(calls, 0);
  });

  test('duplicate keys are each run and reported', async () => {
    const seen: string[] = [];
    const out = await fanout(['h1', 'h1'], 2, async (k) => k, (o) => seen.push(o.key));
    assert.equal(out.length, 2);
    assert.deepEqual(seen, ['h1', 'h1']);
  });

  test('each key is run exactly once even with many workers', async () => {
    const counts = new Map<string, number>();
    const ks = keys(50);
    await fanout(ks, 7, async (k) => {
      counts.set(k, (counts.get(k) ?? 0) + 1);
      await tick();
    });
    assert.equal(counts.size, 50);
    assert.ok([...counts.values()].every((c) => c === 1));
  });
});
