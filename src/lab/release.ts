/**
 * Another release of meshvpc on a lab host: built from this repository's own
 * history, and seen only by that host. A lab host has a private mount
 * namespace, so the old build is mounted where the package that `meshvpc` on
 * PATH runs from lives (the installed copy, or the checkout a development
 * install links to), for that host alone: mixed-version clusters and
 * release-against-release benchmarks without installing anything twice.
 *
 * Two directories are involved and are not the same one after a real install:
 * the repository checkout this code runs from (its git history and its
 * node_modules, dev dependencies included, build the old release) and the
 * installed package (only the mount target).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChecked, systemExecutor } from '../platform/exec.js';
import type { LabState } from './lab.js';

/** The commit released as 0.1.0 (the last of the first session). */
export const RELEASE_0_1_0 = '3d0676e';
/** The commit released as 0.2.0 (the last of the third session). */
export const RELEASE_0_2_0 = '232c70a';
/** The commit released as 0.3.0 (the last of the fourth session). */
export const RELEASE_0_3_0 = 'bee5a2e';
/** The commit released as 0.4.0 (schema 8: encrypt=wireguard, members' link MTUs). */
export const RELEASE_0_4_0 = 'f959b9a';
/** The commit released as 0.5.0 (schema 12: backend=etcd with unsigned store values, fdb=control). */
export const RELEASE_0_5_0 = 'b1c09a3';

export interface Release {
  readonly commit: string;
  readonly dir: string;
  /** The package `meshvpc` on PATH runs from, which a host's view of is replaced. */
  readonly installed: string;
  /** The node_modules the release was compiled against and runs with (the checkout's). */
  readonly nodeModules: string;
  remove(): void;
}

/** The package directory `meshvpc` on PATH runs from: a global copy (npm pack), or a checkout it links to. */
export async function installedPackage(): Promise<string> {
  const bin = (await runChecked(systemExecutor, ['sh', '-c', 'command -v meshvpc'])).trim();
  return dirname(dirname(realpathSync(bin)));
}

const isMeshvpcPackage = (dir: string): boolean => {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'meshvpc';
  } catch {
    return false;
  }
};

/**
 * The meshvpc package directory holding `from` (a file URL or path; by
 * default this module), e.g. the checkout a test runs from (dist/test/e2e/...).
 * null if `from` is in none.
 */
export function packageRoot(from: string = import.meta.url): string | null {
  let dir = dirname(from.startsWith('file:') ? fileURLToPath(from) : from);
  for (;;) {
    if (isMeshvpcPackage(dir)) return dir;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/**
 * The repository checkout this code runs from (a meshvpc package directory
 * with its own .git), whose history and node_modules build old releases; null
 * when run from an installed copy or an export without history.
 */
export function sourceCheckout(from: string = import.meta.url): string | null {
  const root = packageRoot(from);
  return root !== null && existsSync(join(root, '.git')) ? root : null;
}

/** Whether `checkout` has the history to build `commit` (a shallow clone may not; an installed copy has none). */
export async function hasCommit(checkout: string | null, commit: string): Promise<boolean> {
  if (checkout === null || !existsSync(join(checkout, '.git'))) return false;
  return (await systemExecutor.run(['git', '-C', checkout, 'cat-file', '-e', `${commit}^{commit}`])).code === 0;
}

/** Build `commit` (its own sources from `checkout`'s history, `checkout`'s node_modules) in a temporary directory. */
export async function buildRelease(commit: string, checkout: string): Promise<Release> {
  const installed = await installedPackage();
  const nodeModules = join(checkout, 'node_modules');
  const tsc = join(nodeModules, 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) throw new Error(`${checkout} has no node_modules with typescript (npm ci there): cannot build ${commit}`);
  const dir = mkdtempSync(join(tmpdir(), `meshvpc-${commit}-`));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    await runChecked(systemExecutor, ['sh', '-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'archive', checkout, commit, dir]);
    symlinkSync(nodeModules, join(dir, 'node_modules'));
    await runChecked(systemExecutor, [process.execPath, tsc, '-p', join(dir, 'tsconfig.json')]);
    // A directory to mount node_modules on: a symlink into the checkout would point back into
    // the shadowed package when the checkout is what `meshvpc` on PATH links to (a development install).
    unlinkSync(join(dir, 'node_modules'));
    mkdirSync(join(dir, 'node_modules'));
    return { commit, dir, installed, nodeModules, remove };
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
  // node_modules first: in a development install it lies inside the directory about to be covered.
  await runChecked(systemExecutor, [...inHost, 'mount', '--bind', release.nodeModules, join(release.dir, 'node_modules')]);
  await runChecked(systemExecutor, [...inHost, 'mount', '--rbind', release.dir, release.installed]);
}

/**
 * Lab host `index` runs the installed package again, as after an upgrade in
 * place (its database stays). A process of the old release killed just before
 * lets go of its files a moment later: "target is busy" is waited out (5 s).
 */
export async function upgradeHost(lab: LabState, index: number, release: Release): Promise<void> {
  const h = lab.hosts.find((x) => x.index === index);
  if (!h) throw new Error(`lab ${lab.id} has no host ${index}`);
  for (let i = 0; ; i++) {
    try {
      await runChecked(systemExecutor, ['nsenter', '-t', String(h.pid), '-m', '--', 'umount', '-R', release.installed]);
      return;
    } catch (e) {
      if (i >= 50 || !/target is busy/.test(String(e))) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
/** The commit released as 0.6.0 (schema 12: signed store values, quotas and locks in etcd). */
export const RELEASE_0_6_0 = 'e32c4ee';
