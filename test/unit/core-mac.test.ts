import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stableMac } from '../../src/core/mac.js';

test('stable MACs: same seed, same address; locally administered unicast; seeds differ, addresses differ', () => {
  assert.equal(stableMac('guest/host1/web'), stableMac('guest/host1/web'));
  assert.match(stableMac('x'), /^02(:[0-9a-f]{2}){5}$/);
  const many = new Set(Array.from({ length: 1000 }, (_, i) => stableMac(`guest/host${i % 7}/j${i}`)));
  assert.equal(many.size, 1000);
  assert.notEqual(stableMac('guest/host1/jail1'), stableMac('guest/host2/jail1'), 'the same name on two hosts gets two MACs');
});
