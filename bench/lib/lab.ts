/**
 * Labs for benchmarks, torn down whatever happens: on return, on a throw, and
 * on SIGINT/SIGTERM. The rules of design.md "The lab" apply: only namespaces
 * this run made are touched (all of them are named mvl<id>-..., with ids this
 * process saw created), documentation ranges only, nothing in the root
 * namespace changes.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, destroyLab, listLabs, type LabOptions, type LabState } from '../../src/lab/lab.js';
import { systemExecutor } from '../../src/platform/exec.js';

// A lab root of our own, so that a signal tears down every lab of this run and
// none of another run's (the e2e tests may be building labs at the same time).
// createLab saves each lab's state here before it creates the first namespace.
const root = mkdtempSync(join(tmpdir(), 'meshvpc-bench-'));
process.env.MESHVPC_LAB_ROOT = root;

const active = new Map<string, LabState>();
const destroying = new Map<string, Promise<void>>();
const creating = new Set<Promise<unknown>>();
/** Every lab id this process has seen, for the final check that nothing of ours is left. */
const seen = new Set<string>();
let aborting: string | null = null;

export class Aborted extends Error {
  constructor(signal: string) {
    super(`aborted by ${signal}`);
    this.name = 'Aborted';
  }
}

/** Destroy a lab once, however many paths (finally, signal) ask for it. */
function teardown(lab: LabState): Promise<void> {
  let p = destroying.get(lab.id);
  if (!p) {
    p = destroyLab(lab).finally(() => active.delete(lab.id));
    destroying.set(lab.id, p);
  }
  return p;
}

export async function withLab<T>(opts: LabOptions, fn: (lab: LabState) => Promise<T>): Promise<T> {
  if (aborting) throw new Aborted(aborting);
  const pending = createLab(opts);
  creating.add(pending);
  let lab: LabState;
  try {
    lab = await pending;
  } catch (e) {
    // Torn down under its builder by a signal: say so rather than how it broke.
    throw aborting ? new Aborted(aborting) : e;
  } finally {
    creating.delete(pending);
  }
  seen.add(lab.id);
  active.set(lab.id, lab);
  try {
    if (aborting) throw new Aborted(aborting);
    return await fn(lab);
  } catch (e) {
    throw aborting ? new Aborted(aborting) : e;
  } finally {
    await teardown(lab);
  }
}

/** Namespaces of this run that still exist (should always be none after a lab is torn down). */
export async function leftovers(): Promise<string[]> {
  for (const l of listLabs()) seen.add(l.id);
  const r = await systemExecutor.run(['ip', 'netns', 'list']);
  const names = r.stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '');
  return names.filter((n) => [...seen].some((id) => n.startsWith(`mvl${id}-`)));
}

/** Kill what is in a leftover namespace of ours and delete it: the last line of defence. */
async function sweep(): Promise<void> {
  for (const ns of await leftovers()) {
    const pids = await systemExecutor.run(['ip', 'netns', 'pids', ns]);
    const list = pids.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p));
    if (list.length > 0) await systemExecutor.run(['kill', '-KILL', ...list]);
    await systemExecutor.run(['ip', 'netns', 'del', ns]);
  }
}

/** Called once at the end of a run: sweep, then remove our (by now empty) lab root. */
export async function finish(): Promise<string[]> {
  await sweep();
  const left = await leftovers();
  if (left.length === 0 && readdirSync(root).length === 0) rmSync(root, { recursive: true, force: true });
  return left;
}

let teardownDone: Promise<void> = Promise.resolve();

/** Resolves when the signal handler is done (it then exits the process); a caller that saw Aborted waits on it. */
export const abortFinished = (): Promise<void> => teardownDone;

function onSignal(signal: NodeJS.Signals): void {
  if (aborting) {
    process.stderr.write(`bench: ${signal} again: still tearing down, please wait\n`);
    return;
  }
  aborting = signal;
  teardownDone = abortAll(signal);
}

async function abortAll(signal: NodeJS.Signals): Promise<void> {
  try {
    process.stderr.write(`\nbench: ${signal}: tearing down ${active.size + creating.size} lab(s)...\n`);
    // A lab still being built is already on disk: destroying it makes its builder's
    // next step fail, and createLab then cleans up whatever it made since.
    const onDisk = listLabs();
    for (const l of onDisk) seen.add(l.id);
    await Promise.allSettled([...onDisk.map((l) => (active.has(l.id) ? teardown(l) : destroyLab(l))), ...creating]);
    await Promise.allSettled([...active.values()].map(teardown));
    await sweep();
    const left = await leftovers();
    process.stderr.write(left.length === 0 ? 'bench: every lab namespace is gone\n' : `bench: LEFT BEHIND: ${left.join(' ')}\n`);
    if (left.length === 0) rmSync(root, { recursive: true, force: true });
  } catch (e) {
    process.stderr.write(`bench: teardown failed: ${e instanceof Error ? e.message : String(e)}\n`);
  } finally {
    process.exit(signal === 'SIGINT' ? 130 : 143);
  }
}

export function installSignalHandlers(): void {
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
}
