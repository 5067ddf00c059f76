import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { exitStatus } from '../../src/adapters/cli/exit-status.js';
import { COMMANDS, commandHelp, generalHelp } from '../../src/adapters/cli/help.js';
import { UserError } from '../../src/core/errors.js';

describe('help', () => {
  test('every command has its usage first', () => {
    for (const [name, doc] of Object.entries(COMMANDS)) assert.ok(commandHelp(name).startsWith(`${doc.usage}\n`), name);
  });

  test('an unknown topic is bad input (exit 2), naming it and the commands', () => {
    assert.throws(
      () => commandHelp('nosuch'),
      (e: unknown) => e instanceof UserError && exitStatus(e.kind) === 2 && /^unknown command "nosuch"; commands: initenv, node, vpc, .*help, version \(meshvpc help\)$/.test(e.message),
    );
  });

  test('the general help lists every command and the exit statuses', () => {
    const text = generalHelp();
    for (const name of Object.keys(COMMANDS)) assert.match(text, new RegExp(`^  ${name} `, 'm'));
    assert.match(text, /5 this host's database cannot be used/);
  });
});
