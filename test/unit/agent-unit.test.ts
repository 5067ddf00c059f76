import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_UNIT, agentUnit, installAgentUnit } from '../../src/app/etcd-unit.js';

test('agent mode=install writes meshvpc-agent.service: runs the agent, never stops the network with it, never over a foreign file', async () => {
  const unit = agentUnit('/var/db/meshvpc');
  assert.match(unit, /^ExecStart=\/usr\/bin\/env meshvpc agent mode=run$/m);
  assert.match(unit, /^KillMode=process$/m);
  assert.match(unit, /^Restart=always$/m);
  assert.doesNotMatch(unit, /Environment=/);
  assert.match(agentUnit('/srv/mv home'), /^Environment="MESHVPC_HOME=\/srv\/mv home"$/m);
  const dir = mkdtempSync(join(tmpdir(), 'mv-agent-unit-'));
  try {
    const dry = await installAgentUnit('/var/db/meshvpc', true, dir);
    assert.equal(dry.path, join(dir, AGENT_UNIT));
    assert.throws(() => readFileSync(dry.path), /ENOENT/, 'dryrun writes nothing');
    await installAgentUnit('/var/db/meshvpc', false, dir);
    assert.equal(readFileSync(join(dir, AGENT_UNIT), 'utf8'), unit);
    writeFileSync(join(dir, AGENT_UNIT), '[Service]\nExecStart=/bin/true\n');
    await assert.rejects(installAgentUnit('/var/db/meshvpc', false, dir));
    assert.equal(readFileSync(join(dir, AGENT_UNIT), 'utf8'), '[Service]\nExecStart=/bin/true\n', 'a foreign unit is left as it is');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
