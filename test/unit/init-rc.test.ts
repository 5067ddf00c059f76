import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOT_FILE_MARK, systemdUnit, writeOwnFile } from '../../src/app/init-rc.js';
import { freebsdRcScript } from '../../src/platform/freebsd/rcd.js';

test('boot files carry meshvpc\'s mark and replace only files that carry it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mvrc-'));
  try {
    const unit = systemdUnit('vpc1', '/usr/bin/env meshvpc');
    assert.ok(unit.startsWith(`# ${BOOT_FILE_MARK};`));
    assert.ok(freebsdRcScript('vpc1').includes(BOOT_FILE_MARK));
    const path = join(dir, 'meshvpc-vpc1.service');
    writeOwnFile(path, unit, 0o644);
    assert.equal(readFileSync(path, 'utf8'), unit);
    writeOwnFile(path, systemdUnit('vpc1', '/usr/local/bin/meshvpc'), 0o644);
    assert.match(readFileSync(path, 'utf8'), /ExecStart=\/usr\/local\/bin\/meshvpc vpc mode=apply/);
    const theirs = join(dir, 'meshvpc-vpc2.service');
    writeFileSync(theirs, '[Unit]\nDescription=my own unit\n');
    assert.throws(() => writeOwnFile(theirs, unit, 0o644), /meshvpc-vpc2\.service exists and was not written by meshvpc: meshvpc will not replace it/);
    assert.equal(readFileSync(theirs, 'utf8'), '[Unit]\nDescription=my own unit\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
