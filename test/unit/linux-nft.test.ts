import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linuxDriver } from '../../src/platform/linux/driver.js';
import { NFT_COMMENT, nftScript, nftTableIsOurs } from '../../src/platform/linux/nft.js';
import { RecordingExecutor } from '../../src/platform/recording.js';

const policy = { enforce: true, peers4: ['192.0.2.2'], peers6: [] };
const LIST = ['nft', 'list', 'table', 'inet', 'meshvpc'];

test('meshvpc marks its nftables table and knows its own from a foreign one', () => {
  assert.match(nftScript(policy), new RegExp(`table inet meshvpc \\{\\n  comment "${NFT_COMMENT}"`));
  assert.equal(nftTableIsOurs(`table inet meshvpc {\n\tcomment "${NFT_COMMENT}"\n\tchain input {\n\t}\n}\n`), true);
  assert.equal(nftTableIsOurs('table inet meshvpc {\n\tchain input {\n\t\tcomment "managed by meshvpc"\n\t}\n}\n'.replace('\t\tcomment', '\t\tcounter comment')), false);
  assert.equal(nftTableIsOurs('table inet meshvpc {\n\tchain forward {\n\t}\n}\n'), false);
});

test('a foreign table named meshvpc is refused when rules are needed and left alone when not', async () => {
  const foreign = new RecordingExecutor().on(LIST, { stdout: 'table inet meshvpc {\n\tchain forward {\n\t}\n}\n' });
  await assert.rejects(linuxDriver(foreign).firewall?.apply(policy) ?? Promise.resolve(), /table inet meshvpc exists and is not meshvpc's/);
  await linuxDriver(foreign).firewall?.apply({ enforce: false, peers4: [], peers6: [] });
  assert.ok(!foreign.lines().some((l) => l.startsWith('nft -f')), foreign.lines().join('; '));

  const ours = new RecordingExecutor().on(LIST, { stdout: `table inet meshvpc {\n\tcomment "${NFT_COMMENT}"\n}\n` });
  await linuxDriver(ours).firewall?.apply(policy);
  assert.ok(ours.lines().includes('nft -f -'));
  const none = new RecordingExecutor().on(LIST, { code: 1, stderr: 'Error: No such file or directory' });
  await linuxDriver(none).firewall?.apply(policy);
  assert.ok(none.lines().includes('nft -f -'));
});
