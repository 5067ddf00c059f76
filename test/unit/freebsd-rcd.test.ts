import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freebsdRcInstallCommands, freebsdRcScript, freebsdRcScriptPath, MESHVPC_BIN } from '../../src/platform/freebsd/rcd.js';

const shCheck = (script: string): number | null => spawnSync('/bin/sh', ['-n'], { input: script }).status;

test('rc.d script: valid sh (and sh -n does reject a broken one)', () => {
  assert.equal(shCheck(freebsdRcScript('vpc1')), 0);
  assert.notEqual(shCheck(freebsdRcScript('vpc1').replace('run_rc_command "$1"', 'if then fi')), 0);
});

test('rc.d script: rcorder header, rcvar defaulting to NO, start applies, stop brings down', () => {
  const s = freebsdRcScript('lab_2');
  const header = (key: string): string | undefined => new RegExp(`^# ${key}: (.*)$`, 'm').exec(s)?.[1];
  assert.ok(s.startsWith('#!/bin/sh\n'));
  assert.equal(header('PROVIDE'), 'meshvpc_lab_2');
  assert.equal(header('REQUIRE'), 'NETWORKING');
  assert.equal(header('BEFORE'), 'jail');
  assert.deepEqual(header('KEYWORD')?.split(' ').sort(), ['nojail', 'shutdown']);
  assert.match(s, /^\. \/etc\/rc\.subr$/m);
  assert.match(s, /^name="meshvpc_lab_2"$/m);
  assert.match(s, /^rcvar="meshvpc_lab_2_enable"$/m);
  assert.match(s, /^: \$\{meshvpc_lab_2_enable:="NO"\}$/m);
  assert.match(s, /^\s+\/usr\/local\/bin\/meshvpc vpc mode=apply vpc_name=lab_2 > \/dev\/null$/m);
  assert.match(s, /^\s+\/usr\/local\/bin\/meshvpc guests mode=start_all vpc_name=lab_2 > \/dev\/null$/m);
  assert.match(s, /^\s+\/usr\/local\/bin\/meshvpc vpc mode=down vpc_name=lab_2 > \/dev\/null 2>&1$/m);
  assert.match(s, /^run_rc_command "\$1"$/m);
  assert.equal(freebsdRcScriptPath('lab_2'), '/usr/local/etc/rc.d/meshvpc_lab_2');
});

test('rc.d script: start and stop run meshvpc with the right arguments', () => {
  // Run the script for real under sh, with a stand-in rc.subr and meshvpc.
  const dir = mkdtempSync(join(tmpdir(), 'meshvpc-rcd-'));
  try {
    const log = join(dir, 'calls');
    const fake = join(dir, 'meshvpc');
    writeFileSync(fake, `#!/bin/sh\necho "$*" >> '${log}'\necho "noise on stdout"\necho "noise on stderr" >&2\n`);
    chmodSync(fake, 0o755);
    const subr = join(dir, 'rc.subr');
    writeFileSync(
      subr,
      [
        'load_rc_config() { :; }',
        'run_rc_command() {',
        '  echo "enable=$(eval echo \\$$rcvar)"',
        '  case "$1" in start) eval "$start_cmd" ;; stop) eval "$stop_cmd" ;; esac',
        '}',
        '',
      ].join('\n'),
    );
    const script = join(dir, 'meshvpc_vpc1');
    writeFileSync(script, freebsdRcScript('vpc1').replace('/etc/rc.subr', subr).replaceAll(MESHVPC_BIN, fake));
    const run = (arg: string) => spawnSync('/bin/sh', [script, arg], { encoding: 'utf8', env: { PATH: '/bin:/usr/bin' } });

    const start = run('start');
    assert.equal(start.status, 0, start.stderr);
    assert.match(start.stdout, /^enable=NO$/m);
    assert.match(start.stdout, /Starting meshvpc_vpc1\./);
    assert.doesNotMatch(start.stdout, /noise on stdout/);
    assert.match(start.stderr, /noise on stderr/);

    const stop = run('stop');
    assert.equal(stop.status, 0, stop.stderr);
    assert.doesNotMatch(stop.stdout + stop.stderr, /noise/);

    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['vpc mode=apply vpc_name=vpc1', 'guests mode=start_all vpc_name=vpc1', 'vpc mode=down vpc_name=vpc1']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rc.d install: mode 0555 and enabled through sysrc; names are checked', () => {
  assert.deepEqual(freebsdRcInstallCommands('vpc1'), [
    ['chmod', '0555', '/usr/local/etc/rc.d/meshvpc_vpc1'],
    ['sysrc', 'meshvpc_vpc1_enable=YES'],
  ]);
  assert.throws(() => freebsdRcScript('vpc-1'), /vpc_name/);
  assert.throws(() => freebsdRcScript('a;reboot'), /vpc_name/);
  assert.throws(() => freebsdRcInstallCommands('$(x)'), /vpc_name/);
});
