/**
 * A real install: the install step (scripts/install-package.sh, run by
 * scripts/install-deps.sh before the tests) puts a copy of the package built
 * from this checkout, with its own dependencies, where `meshvpc` on PATH runs
 * from; deleting or moving the checkout leaves it working.
 *
 * A test that runs from the checkout cannot move it aside. Instead, in a
 * private mount namespace (unshare -m --propagation private: no mount made
 * there is seen outside, and all of them go with it), an empty tmpfs covers the
 * checkout; there `meshvpc help` runs, and a one-host lab is built, used and
 * torn down. The lab host starts inside that namespace, so it does not see the
 * checkout either. Only this test's own lab is ever torn down (lab=ID).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { join, sep } from 'node:path';
import { systemExecutor } from '../../src/platform/exec.js';
import { installedPackage, packageRoot } from '../../src/lab/release.js';

// Runs as root in the private namespace; $1 is the checkout. The lab is named by its id
// (printed as lab=ID for the cleanup outside) and torn down on any exit of this script.
const SCRIPT = `set -eu
cd /
mount -t tmpfs -o size=1m,mode=0755 meshvpc-checkout-gone "$1"
[ -z "$(ls -A "$1")" ] || { echo "the checkout is still visible" >&2; exit 1; }
meshvpc help >"$2/help.txt"
head -n1 "$2/help.txt"
up=$(meshvpc lab up hosts=1 underlay=v4)
lab=$(printf '%s\\n' "$up" | sed -n 's/^lab \\([0-9a-f][0-9a-f]*\\): .*/\\1/p')
[ -n "$lab" ] || { printf 'no lab id in: %s\\n' "$up" >&2; exit 1; }
echo "lab=$lab"
trap 'meshvpc lab down lab="$lab" >/dev/null' EXIT
echo "version=$(meshvpc lab run lab="$lab" host=1 meshvpc version)"
meshvpc lab run lab="$lab" host=1 meshvpc node mode=list >/dev/null
echo "host sees in the checkout: [$(meshvpc lab run lab="$lab" host=1 ls -A "$1")]"
`;

test('the installed meshvpc is a copy: with the checkout hidden, help and a lab still work', { timeout: 180_000 }, async (t) => {
  if (process.env.MESHVPC_DEV_INSTALL === '1') {
    t.skip('MESHVPC_DEV_INSTALL=1: meshvpc on PATH is linked to a checkout on purpose');
    return;
  }
  const checkout = packageRoot(import.meta.url);
  assert.ok(checkout, 'this test runs from a meshvpc checkout');
  const bin = (await systemExecutor.run(['sh', '-c', 'command -v meshvpc'])).stdout.trim();
  assert.notEqual(bin, '', 'meshvpc is on PATH');
  const real = realpathSync(bin);
  const inside = (p: string): boolean => p === checkout || p.startsWith(checkout + sep);
  assert.equal(inside(real), false, `meshvpc on PATH (${bin} -> ${real}) runs from the checkout ${checkout}, not from an installed copy`);

  const installed = await installedPackage();
  for (const f of ['dist/bundle/meshvpc.cjs', 'dist/web/index.html', 'scripts/guest-image.sh', 'node_modules/better-sqlite3/package.json', 'node_modules/ssh2/package.json']) {
    assert.ok(existsSync(join(installed, f)), `${f} in the installed package ${installed}`);
  }
  const version = (await systemExecutor.run(['meshvpc', 'version'])).stdout.trim();
  assert.match(version, /^\d+\.\d+\.\d+/);

  const tmp = (await systemExecutor.run(['mktemp', '-d'])).stdout.trim();
  let lab: string | null = null;
  try {
    const r = await systemExecutor.run(['unshare', '-m', '--propagation', 'private', 'sh', '-c', SCRIPT, 'install-test', checkout, tmp]);
    lab = /^lab=([0-9a-f]+)$/m.exec(r.stdout)?.[1] ?? null;
    assert.equal(r.code, 0, `with the checkout hidden:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^meshvpc: /m, 'meshvpc help');
    assert.ok(lab, r.stdout);
    assert.match(r.stdout, new RegExp(`^version=${version.replace(/\./g, '\\.')}$`, 'm'), 'the lab host runs the installed meshvpc');
    assert.match(r.stdout, /^host sees in the checkout: \[\]$/m, 'the lab host does not see the checkout');
  } finally {
    // The script tears its lab down on any exit; if it was killed, its lab's processes go here
    // (its network namespaces' names were only in the private namespace and went with it).
    if (lab !== null && (await systemExecutor.run(['meshvpc', 'lab', 'list'])).stdout.includes(lab)) {
      await systemExecutor.run(['meshvpc', 'lab', 'down', `lab=${lab}`]);
    }
    await systemExecutor.run(['rm', '-rf', tmp]);
  }
});
