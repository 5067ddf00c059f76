/**
 * Another release of meshvpc on a lab host: built from this repository's own
 * history, and seen only by that host. A lab host has a private mount
 * namespace, so the old build is mounted where the checkout that `meshvpc`
 * on PATH points at lives, for that host alone: mixed-version clusters and
 * release-against-release benchmarks without installing anything twice.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runChecked, systemExecutor } from '../platform/exec.js';
import type { LabState } from './lab.js';

/** The commit released as 0.1.0 (the last of the first session). */
export const RELEASE_0_1_0 = '3d0676e';
/** The commit released as 0.2.0 (the last of the third session). */
export const RELEASE_0_2_0 = '232c70a';

export interface Release {
  readonly commit: string;
  readonly dir: string;
  /** The checkout `meshvpc` on PATH runs from, which a host's view of is replaced. */
  readonly installed: string;
  remove(): void;
}

export async function installedCheckout(): Promise<string> {
  const bin = (await runChecked(systemExecutor, ['sh', '-c', 'command -v meshvpc'])).trim();
  return dirname(dirname(realpathSync(bin)));
}

/** Whether this checkout has the history to build `commit` (a shallow clone may not). */
export async function hasCommit(checkout: string, commit: string): Promise<boolean> {
  return (await systemExecutor.run(['git', '-C', checkout, 'cat-file', '-e', `${commit}^{commit}`])).code === 0;
}

/** Build `commit` (its own sources, this checkout's node_modules) in a temporary directory. */
export async function buildRelease(commit: string): Promise<Release> {
  const installed = await installedCheckout();
  const dir = mkdtempSync(join(tmpdir(), `meshvpc-${commit}-`));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    await runChecked(systemExecutor, ['sh', '-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'archive', installed, commit, dir]);
    symlinkSync(join(installed, 'node_modules'), join(dir, 'node_modules'));
    await runChecked(systemExecutor, [process.execPath, join(installed, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')]);
    // A directory to mount the real node_modules on: a symlink would point back into the shadowed checkout.
    unlinkSync(join(dir, 'node_modules'));
    mkdirSync(join(dir, 'node_modules'));
    return { commit, dir, installed, remove };
  } catch (e) {
    remove();
    throw e;
  }
}

/** From now on lab host `index` runs `release`; the mounts go with the host's mount namespace. */
export async function runHostOn(lab: LabState, index: number, release: Release): Promise<void> {
  const h = lab.hosts.find((x) => x.index === index);
  if (!h) throw new Error(`lab ${lab.id} has no host ${index}`);
  const inHost = ['nsenter', '-t', String(h.pid), '-m', '--'];
  await runChecked(systemExecutor, [...inHost, 'mount', '--bind', join(release.installed, 'node_modules'), join(release.dir, 'node_modules')]);
  await runChecked(systemExecutor, [...inHost, 'mount', '--rbind', release.dir, release.installed]);
}
