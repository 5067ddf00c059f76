/**
 * meshvpc's remote calls: one JSON request on stdin of `meshvpc remote` on the
 * peer, one JSON response on its stdout. A peer plans and applies for itself;
 * the caller only says what it wants.
 */
import type { GuestOnHost, SelfNode, VpcWithMap } from '../core/types.js';
import type { Platform } from '../platform/driver.js';
import type { ObservedLink } from '../core/observed.js';
import type { ErrorDetail, ErrorKind } from '../core/errors.js';
import type { LinkMtus } from '../core/mtu-claims.js';
import type { AppliedState } from '../core/applied.js';
import type { EtcdMember } from './etcd-member.js';

export interface NodeIntro extends SelfNode {
  readonly hostKey: string;
  readonly publicKey: string;
  readonly platform: Platform;
  readonly sshPort: number;
  readonly sshUser: string;
  /** The address the peer should use to reach the caller. */
  readonly sshAddress: string;
  /** Its WireGuard public key and port (absent before meshvpc 0.4). */
  readonly wgKey?: string;
  readonly wgPort?: number;
}

export type Layer = 'vxlan' | 'bridge';

export type Request =
  /** With a VPC name, the answer lists the VXLAN ids this host cannot give that VPC. */
  | { readonly op: 'hello'; readonly vpc?: string }
  | { readonly op: 'pair'; readonly node: NodeIntro }
  | { readonly op: 'unpair'; readonly node: string }
  /** policy: a member changed the quotas or guest network (vpc mode=set); accepted although they differ. */
  | { readonly op: 'vpc_put'; readonly vpc: VpcWithMap; readonly force: boolean; readonly policy?: boolean }
  /**
   * Turn layers on (up) and reconcile; with no layers, just reconcile what is asked already.
   * With a definition, accept it first (as vpc_put would): deploy syncs and applies in one
   * remote process per peer instead of two.
   */
  | {
      readonly op: 'vpc_apply';
      readonly vpc: string;
      readonly layers: readonly Layer[];
      readonly dryrun: boolean;
      readonly definition?: VpcWithMap;
      /** VXLAN ids of pairs the initiator re-allocated because another VPC or interface holds them somewhere. */
      readonly renumber?: readonly number[];
      /** A member changed what only vpc mode=set changes (encryption): accepted although it differs. */
      readonly policy?: boolean;
    }
  | { readonly op: 'vpc_collapse'; readonly vpc: string }
  | { readonly op: 'vpc_forget'; readonly vpc: string }
  | { readonly op: 'vpc_status'; readonly vpc: string }
  | { readonly op: 'jail_list' }
  /** Every guest (containers and VMs), or those on one VPC: what quotas and addresses count. */
  | { readonly op: 'guest_list'; readonly vpc?: string }
  /**
   * On a VPC's arbiter: take the VPC's guest lease for the caller (waiting up
   * to wait_ms for another holder), so one guarded creation runs at a time
   * across the cluster. See app/guest-guard.ts.
   */
  | { readonly op: 'guest_hold'; readonly vpc: string; readonly token: string; readonly ttl_ms: number; readonly wait_ms: number }
  | { readonly op: 'guest_release'; readonly vpc: string; readonly token: string }
  /**
   * fdb=control (app/guest-reports.ts): the caller's full list of its guests
   * on the VPC; the answer is the receiver's own list, so one call tells both.
   */
  | { readonly op: 'guest_report'; readonly vpc: string; readonly node: string; readonly guests: readonly GuestOnHost[] }
  /**
   * `node mode=update` on the caller: `node`'s address or SSH port changed. The
   * receiver believes it only from the node itself: it reaches the node there
   * with its own pinned host key and cluster key, and the node's hello must
   * say it has the addresses given. Only the receiver's record changes; the
   * VPC definitions follow as usual (vpc_apply).
   */
  | { readonly op: 'node_moved'; readonly node: string; readonly ip?: string; readonly ip6?: string; readonly port?: number }
  | EtcdJoinRequest
  | EtcdForgetRequest
  | EtcdCrlRequest
  | EtcdMembersRequest;

/** A certificate and its key, PEM (checked by cluster/pki.ts pemCert/pemKey on arrival). */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

/**
 * `cluster mode=init backend=etcd` on the caller: this host's credentials for
 * the cluster's etcd (the CA certificate, its client certificate, and for a
 * member its server and peer certificates) and the cluster's configuration.
 */
export interface EtcdJoinRequest {
  readonly op: 'etcd_join';
  readonly ca: string;
  readonly client: PemPair;
  readonly server?: PemPair;
  readonly peer?: PemPair;
  readonly config: { readonly clusterToken: string; readonly members: readonly EtcdMember[] };
  /** The cluster's CRL (members start etcd with it); absent from meshvpc before revocation. */
  readonly crl?: string;
}

/**
 * `node mode=remove` on the host holding the CA key: a new CRL for this etcd
 * member. The receiver takes it only for the CA it trusts, signed by that CA
 * and not older than its own, and replaces its file atomically; its `etcd
 * mode=run` then restarts etcd, so connections opened before are dropped.
 */
export interface EtcdCrlRequest {
  readonly op: 'etcd_crl';
  readonly ca: string;
  readonly crl: string;
}

/**
 * `cluster mode=add_member|remove_member` on the CA holder: the cluster's new
 * member list, to every host; the host that becomes a member gets its server
 * and peer certificates and the CRL with it.
 */
export interface EtcdMembersRequest {
  readonly op: 'etcd_members';
  readonly ca: string;
  readonly config: { readonly clusterToken: string; readonly members: readonly EtcdMember[] };
  readonly server?: PemPair;
  readonly peer?: PemPair;
  readonly crl?: string;
}

/** An init that could not finish: forget the etcd configuration whose CA this is (and only that one). */
export interface EtcdForgetRequest {
  readonly op: 'etcd_forget';
  readonly ca: string;
}

/** A VXLAN id in use on a host, and by what: another VPC, or an interface meshvpc does not own. */
export interface UsedVni {
  readonly vni: number;
  readonly by: string;
}

export interface Hello extends SelfNode {
  readonly platform: Platform;
  readonly publicKey: string;
  readonly version: string;
  /** Its WireGuard public key and port; absent before meshvpc 0.4. */
  readonly wgKey?: string;
  readonly wgPort?: number;
  /** Absent from meshvpc 0.1 hosts. */
  readonly usedVnis?: readonly UsedVni[];
  /**
   * With a VPC name: the host's links that could stand in that VPC's way (one
   * named like it, vxlan devices, links with addresses), its own links for
   * the VPC left out. The initiator plans the VPC against them, so a name or
   * subnet in the way is refused before any host stores anything, without a
   * round trip of its own.
   */
  readonly links?: readonly ObservedLink[];
  /**
   * With a VPC name: the MTU of the link that holds each of the host's
   * underlay addresses. The deployer writes it into the VPC's members
   * (Member.mtu) so the others size their tunnels to this host by it.
   * Absent from meshvpc 0.3.0 and older hosts.
   */
  readonly linkMtu?: LinkMtus;
  /**
   * With a VPC name: the digest of what the last deploy applied here for it,
   * and whether the VPC's links are still as that apply left them
   * (core/applied.ts). A deployer leaves a member whose digest is the one it
   * would send, with intact links, alone. Absent when unknown (never
   * deployed, changed locally since) and from meshvpc 0.4.0 and older hosts.
   */
  readonly applied?: AppliedState;
}

export type Response =
  | { readonly ok: true; readonly result: unknown }
  /** kind and detail: absent from 0.1 peers. */
  | { readonly ok: false; readonly error: string; readonly kind?: ErrorKind; readonly detail?: ErrorDetail };
