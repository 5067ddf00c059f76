/**
 * Every conditional write meshvpc makes to the cluster's store (backend=etcd),
 * each named for what it guards: the etcd transactions live here, in store/,
 * and the application layer says what it wants written and on what condition.
 */
import type { Compare, EtcdClient, TxnOp } from './client.js';
import { vniKey } from './layout.js';

/** `key` is still at `modRevision` (0: it is not there). */
export const unchangedSince = (key: string, modRevision: number): Compare =>
  modRevision === 0 ? { key, target: 'create_revision', result: 'equal', operand: 0 } : { key, target: 'mod_revision', result: 'equal', operand: modRevision };

/** Put `value` under `key` only if every guard holds; the revision written, or null when a guard failed. */
export async function putIf(client: EtcdClient, key: string, value: string, guards: readonly Compare[]): Promise<number | null> {
  const r = await client.txn(guards, [{ put: { key, value } }]);
  return r.succeeded ? r.revision : null;
}

/** Delete `key` only if it is still at `modRevision` (a newer value is someone's newer word). */
export async function deleteIfUnchanged(client: EtcdClient, key: string, modRevision: number): Promise<boolean> {
  return (await client.txn([unchangedSince(key, modRevision)], [{ delete: { key } }])).succeeded;
}

/** Delete `key` only if it still holds exactly `value` (what this writer put there). */
export async function deleteIfValue(client: EtcdClient, key: string, value: string): Promise<boolean> {
  return (await client.txn([{ key, target: 'value', result: 'equal', operand: value }], [{ delete: { key } }])).succeeded;
}

/** Operations per transaction: below etcd's default cap (--max-txn-ops 128). */
const TXN_CHUNK = 100;
const chunks = <T>(xs: readonly T[]): T[][] => Array.from({ length: Math.ceil(xs.length / TXN_CHUNK) }, (_, i) => xs.slice(i * TXN_CHUNK, (i + 1) * TXN_CHUNK));

/**
 * Take VXLAN ids for `vpc`, each only if nobody holds it (in chunks: etcd caps
 * the operations of one transaction). All or nothing: when a chunk loses,
 * what the earlier chunks took is given back and false is returned.
 */
export async function takeVnis(client: EtcdClient, vpc: string, vnis: readonly number[]): Promise<boolean> {
  const taken: number[] = [];
  for (const chunk of chunks(vnis)) {
    const r = await client.txn(
      chunk.map((vni) => unchangedSince(vniKey(vni), 0)),
      chunk.map((vni): TxnOp => ({ put: { key: vniKey(vni), value: vpc } })),
    );
    if (!r.succeeded) {
      await releaseVnis(client, vpc, taken);
      return false;
    }
    taken.push(...chunk);
  }
  return true;
}

/** Give back VXLAN ids `vpc` holds: only those that still say so (a definition cannot free another's). */
export async function releaseVnis(client: EtcdClient, vpc: string, vnis: readonly number[]): Promise<void> {
  for (const chunk of chunks(vnis)) {
    await client.txn(
      chunk.map((vni): Compare => ({ key: vniKey(vni), target: 'value', result: 'equal', operand: vpc })),
      chunk.map((vni): TxnOp => ({ delete: { key: vniKey(vni) } })),
    );
  }
}
