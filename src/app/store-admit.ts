/**
 * Admission of a guest to a VPC with a quota or a guest network, with
 * backend=etcd: no member is called. The creator takes the VPC's lock in the
 * store (a key on a lease: it goes when the creator dies), reads the VPC's
 * definition, every claim (guests admitted, on any member) and every guest
 * the members wrote, decides with the same pure code as the embedded backend
 * (core/admission.ts), and writes its claim in a transaction that holds only
 * if it still holds the lock and the definition is still the one it read.
 * So two creators, on any hosts, cannot both take the last slot or one
 * address, and a quota changed meanwhile is never decided on the old one.
 *
 * The claim is written before the guest exists: a creator that dies after it
 * leaves a claim its own host's next publish removes (store-guests.ts), and a
 * creation that fails after it removes it at once.
 */
import { UserError } from '../core/errors.js';
import { decideAdmission } from '../core/admission.js';
import { quotaOf } from '../core/guests.js';
import type { GuestOnHost } from '../core/types.js';
import * as v from '../core/validate.js';
import type { EtcdClient } from '../store/etcd/client.js';
import { bridgesOf, claimKey, ownBody, parseKey, vpcKey } from '../store/etcd/layout.js';
import { storeLocks } from '../store/etcd/lease-lock.js';
import { deleteIfValue, putIf, unchangedSince } from '../store/etcd/writes.js';
import { lockTimeoutMs } from '../store/lock.js';
import * as repo from '../store/repo.js';
import { checkWishes, guestsHere, ipamOf, type Admission, type Admitted } from './guest-guard.js';
import type { Host } from './host.js';
import { admitting, countedInStore } from './store-guests.js';
import { definitionIn } from './store-definitions.js';
import { trustDefinition } from './store-trust.js';

/** Every bridge address the members wrote for the VPC (each value signed by its node and checked; any other says nothing). */
function bridgeAddresses(client: EtcdClient, kvs: readonly { key: string; value: string }[], vpc: string): string[] {
  return kvs.flatMap((kv) => {
    const k = parseKey(kv.key);
    if (k?.kind !== 'bridge' || k.vpc !== vpc) return [];
    try {
      const list = JSON.parse(ownBody(client, kv, k.node)) as unknown;
      if (!Array.isArray(list) || list.length > 64) return [];
      return list.map((a) => v.address(String(a), 'bridge address'));
    } catch {
      return [];
    }
  });
}

export async function admitInStore<T>(host: Host, client: EtcdClient, a: Admission, record: (addr: Admitted) => Promise<T> | T): Promise<T> {
  const self = host.self.nodename;
  const name = a.vpc.name;
  const guest = a.adding.name;
  const outer = a.outer ?? ((): void => undefined);
  const unmark = admitting(name, guest);
  try {
    // Decided and claimed under the VPC's lock in the store; the guest is made after it is given back.
    const { claim, sealed } = await storeLocks(client, self, lockTimeoutMs())
      .withLock(name, `adding ${guest}`, async (lock) => {
        const [def, all, bridges] = await Promise.all([client.get(vpcKey(name)), guestsHere(host, name).then((here) => countedInStore(client, name, here)), client.range(bridgesOf(name), { prefix: true })]);
        const held = def ? definitionIn(client, def, name) : null;
        if (held?.kind === 'collapsed') throw new UserError(`${name} is collapsed (its network is down on every member): meshvpc vpc mode=deploy vpc_name=${name} brings it up first`, 'conflict');
        if (!def || held?.kind !== 'vpc') throw new UserError(`no VPC named ${name} in the cluster's store (meshvpc vpc mode=list)`, 'not_found');
        // The store's definition decides (a vpc mode=set may have changed the quota since this host
        // applied it), if its writer may say it.
        trustDefinition(host, name, held);
        const vpc = held.vpc;
        if (!vpc.members.some((m) => m.node === self)) throw new UserError(`${self} is not a member of ${name} in the cluster's store`, 'conflict');
        checkWishes(vpc, a.ip4, a.ip6);
        if ((vpc.fdb ?? 'learn') === 'control') {
          const holder = all.find((g) => g.name === guest && g.node !== self && vpc.members.some((m) => m.node === g.node));
          if (holder) throw new UserError(`guest name ${guest} is taken on ${name} by ${holder.node}: a VPC with fdb=control holds each guest name once (its MAC comes from the name); remove it there first or pick another name`, 'conflict');
        }
        const ipam = ipamOf(vpc, [...repo.getLocal(host.db, name).bridgeIps, ...bridgeAddresses(client, bridges.kvs, name)]);
        const addr = decideAdmission({ vpc: name, quota: quotaOf(vpc), ipam, guests: all, adding: a.adding, ip4: a.ip4, ip6: a.ip6 });
        const made: GuestOnHost = { ...a.adding, interface: name, ...addr, running: false };
        const key = claimKey(name, self, guest);
        const value = client.seal(key, JSON.stringify(made));
        const written = await putIf(client, key, value, [lock.guard, unchangedSince(vpcKey(name), def.modRevision)]);
        if (written === null) throw new UserError(`${name}: its lock in the cluster's store ran out, or its definition changed, while ${guest} was being admitted; nothing was created, try again`, 'busy');
        return { claim: made, sealed: value };
      })
      .catch((e: unknown) => {
        if (e instanceof UserError && e.kind === 'unreachable') throw new UserError(`cannot count ${name}'s guests: the cluster's store does not answer (${e.message.split('\n')[0] ?? ''}); a VPC with a quota or guest network admits guests only through it`, 'unreachable');
        throw e;
      });
    try {
      return await record({ ip4Addr: claim.ip4Addr, ip6Addr: claim.ip6Addr, uncounted: [], stillHeld: outer });
    } catch (e) {
      // Not made: its slot and addresses go back (only the claim this admission wrote).
      await deleteIfValue(client, claimKey(name, self, guest), sealed).catch(() => undefined);
      throw e;
    }
  } finally {
    unmark();
  }
}
