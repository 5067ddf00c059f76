import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchError, batchScript } from '../../src/platform/linux/batch.js';
import { linuxCommands } from '../../src/platform/linux/commands.js';

test('ops become one ip batch, one line per command, quoted where ip would split', () => {
  const cmds = [
    ...linuxCommands({ op: 'create_bridge', name: 'vpc1', mtu: 1450, alias: 'vpc-vpc1', mac: '02:00:00:00:00:01' }),
    ...linuxCommands({ op: 'set_isolated', name: 'vxlan100', bridge: 'vpc1', on: true }),
    ['ip', 'link', 'set', 'dev', 'x', 'alias', 'two words "quoted" #not-a-comment \\'],
  ];
  assert.equal(
    batchScript(cmds),
    [
      'link add vpc1 type bridge',
      'link set dev vpc1 alias vpc-vpc1',
      'link set dev vpc1 address 02:00:00:00:00:01',
      'link set dev vpc1 mtu 1450',
      'link set dev vxlan100 type bridge_slave isolated on',
      'link set dev x alias "two words \\"quoted\\" #not-a-comment \\\\"',
      '',
    ].join('\n'),
  );
  assert.throws(() => batchScript([['bridge', 'link', 'show']]), /not an ip command/);
});

test('a moved endpoint is one changelink of the live tunnel, not a delete and add', () => {
  assert.deepEqual(linuxCommands({ op: 'set_vxlan_endpoints', name: 'vxlan100', local: '192.0.2.1', remote: '192.0.2.102' }), [
    ['ip', 'link', 'set', 'dev', 'vxlan100', 'type', 'vxlan', 'local', '192.0.2.1', 'remote', '192.0.2.102'],
  ]);
});

test('a failed batch names the command on the line ip reported', () => {
  const cmds = [['ip', 'link', 'set', 'dev', 'a', 'up'], ['ip', 'link', 'set', 'dev', 'nosuch', 'up']];
  const err = batchError(cmds, { code: 1, stdout: '', stderr: 'Cannot find device "nosuch"\nCommand failed -:2\n' });
  assert.equal(err.message, 'ip link set dev nosuch up: Cannot find device "nosuch"');
  const unknown = batchError(cmds, { code: 1, stdout: '', stderr: 'something odd\n' });
  assert.equal(unknown.message, 'ip -batch -: something odd');
});
