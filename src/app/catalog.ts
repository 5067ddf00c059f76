/**
 * Every operation meshvpc offers, described once: its arguments (name, type,
 * default, help, and the validator that turns a typed value into data), the
 * output options it honours, whether it only reads. The CLI's parser, its
 * help and shared-option checks, the HTTP API's request validation and its
 * OpenAPI document are all made from these entries, so a value one face
 * refuses every face refuses, with the same words.
 */
import type { Encryption } from '../core/seal.js';
import type { FdbMode } from '../core/fdb.js';
import { shown, UserError } from '../core/errors.js';
import * as v from '../core/validate.js';
import { PLATFORMS } from '../platform/driver.js';
import { TOKEN_ROLES } from '../core/token.js';
import { parseSize } from '../core/quota.js';
import { parseEndpoint } from '../store/etcd/client.js';

/** How an argument is written in JSON (the CLI always writes a string). */
export type ArgKind = 'string' | 'integer' | 'boolean' | 'list';

export interface Arg<T = unknown> {
  readonly name: string;
  readonly kind: ArgKind;
  /** What stands for the value in a usage line: NAME, CIDR, 1|0. */
  readonly placeholder: string;
  readonly help: string;
  /** When required: the hint after "missing NAME=:". */
  readonly required?: string;
  /** The value a missing argument takes (in its typed-string form). */
  readonly default?: string;
  /** Whether this is one of the options every command explains once (dryrun, force, platform). */
  readonly shared?: boolean;
  /** JSON Schema facets for the API's document. */
  readonly schema?: Readonly<Record<string, unknown>>;
  readonly parse: (raw: string, key: string) => T;
}

const arg = <T>(a: Arg<T>): Arg<T> => a;

const NAME_PATTERN = { pattern: '^[a-z][a-z0-9_]{0,14}$' };

/** Arguments several operations share, so they are described and checked alike. */
export const ARGS = {
  vpc_name: arg({ name: 'vpc_name', kind: 'string', placeholder: 'NAME', help: 'the VPC (1-15 lowercase letters, digits, "_"; also the bridge name)', required: 'name the VPC, e.g. vpc_name=vpc1', schema: NAME_PATTERN, parse: v.vpcName }),
  node_member: arg({
    name: 'node_member',
    kind: 'list',
    placeholder: 'all|A,B,...',
    help: 'all (this host and every known node) or a comma separated list of nodes',
    required: 'all, or a comma separated list of nodes',
    parse: (raw, key): 'all' | string[] => (raw === 'all' ? 'all' : v.list(raw, key, v.nodeRef)),
  }),
  peer_network: arg({
    name: 'peer_network',
    kind: 'string',
    placeholder: 'CIDR',
    help: 'holds one /30 (IPv6: /126) per pair of members for the tunnel ends',
    required: 'the network for tunnel endpoints, e.g. peer_network=10.100.0.0/24',
    parse: (raw, key) => v.cidrText(v.network(raw, key)),
  }),
  mtu: arg({ name: 'mtu', kind: 'integer', placeholder: 'N', help: 'tunnel MTU (default: underlay MTU of the route to each peer - 50 on IPv4, - 70 on IPv6)', schema: { minimum: 1280, maximum: 9000 }, parse: v.mtu }),
  underlay: arg({
    name: 'underlay',
    kind: 'string',
    placeholder: 'v4|v6',
    help: 'tunnel address family (default: IPv6 when every member has an IPv6 address, else IPv4)',
    schema: { enum: ['v4', 'v6'] },
    parse: (raw): 'v4' | 'v6' => {
      if (raw !== 'v4' && raw !== 'v6') throw new UserError(`invalid underlay ${shown(raw)}: use v4 or v6`);
      return raw;
    },
  }),
  firewall: arg({ name: 'firewall', kind: 'boolean', placeholder: '1|0', help: 'accept VXLAN (UDP 4789) only from each tunnel\'s peer with its own id, drop the rest (default 1)', parse: v.boolFlag }),
  encrypt: arg({
    name: 'encrypt',
    kind: 'string',
    placeholder: 'none|wireguard',
    help: 'wireguard: every tunnel runs inside a WireGuard link between its two hosts; cleartext VXLAN for the VPC is dropped (default none)',
    schema: { enum: ['none', 'wireguard'] },
    parse: (raw): Encryption => {
      if (raw !== 'none' && raw !== 'wireguard') throw new UserError(`invalid encrypt ${shown(raw)}: use none or wireguard`);
      return raw;
    },
  }),
  fdb: arg({
    name: 'fdb',
    kind: 'string',
    placeholder: 'control|learn',
    help: "control: every member puts each guest's MAC and address on its bridge (static FDB, permanent neighbour), answers ARP/ND for them itself and stops flooding unknown unicast to tunnels; learn: flood and learn (default control)",
    schema: { enum: ['control', 'learn'] },
    parse: (raw): FdbMode => {
      if (raw !== 'control' && raw !== 'learn') throw new UserError(`invalid fdb ${shown(raw)}: use control or learn`);
      return raw;
    },
  }),
  concurrency: arg({ name: 'concurrency', kind: 'integer', placeholder: 'N', help: 'hosts contacted at once (default 16)', default: '16', schema: { minimum: 1, maximum: 256 }, parse: (raw, key) => v.integer(raw, key, 1, 256) }),
  nodes: arg({ name: 'node', kind: 'list', placeholder: 'NODE[,NODE...]', help: 'known nodes, by name or address', required: 'the node(s) joining or leaving, e.g. node=host4', parse: (raw, key) => v.list(raw, key, v.nodeRef) }),
  node: arg({ name: 'node', kind: 'string', placeholder: 'NAME|ADDR', help: 'a known node, by name or address', required: 'the address (or name) of the other host', parse: v.nodeRef }),
  jname: arg({ name: 'jname', kind: 'string', placeholder: 'NAME', help: 'the container (1-32 letters, digits, "_", "-")', required: 'name the container, e.g. jname=jail1', schema: { pattern: '^[A-Za-z][A-Za-z0-9_-]{0,31}$' }, parse: v.jailName }),
  dryrun: arg({ name: 'dryrun', kind: 'boolean', placeholder: '1|0', help: 'print the commands that would run; change nothing', shared: true, parse: v.boolFlag }),
  force: arg({ name: 'force', kind: 'boolean', placeholder: '1|0', help: 'go on when a peer is unreachable or disagrees', shared: true, parse: v.boolFlag }),
  platform: arg({
    name: 'platform',
    kind: 'string',
    placeholder: 'linux|freebsd',
    help: 'drive this host as that platform (default: from uname; another one only with dryrun=1)',
    shared: true,
    schema: { enum: [...PLATFORMS] },
    parse: (raw) => {
      if (!(PLATFORMS as readonly string[]).includes(raw)) throw new UserError(`invalid platform ${shown(raw)}: use ${PLATFORMS.join(' or ')}`);
      return raw as (typeof PLATFORMS)[number];
    },
  }),
} as const;

/** An address with prefix for an interface, auto (the next free one of the VPC's guest network), or 0 for none. */
const guestAddress = (family: 4 | 6): Arg<v.Cidr | 'auto' | null> =>
  arg({
    name: family === 4 ? 'ip4_addr' : 'ip6_addr',
    kind: 'string',
    placeholder: family === 4 ? '0|auto|A/N' : 'auto|A/N',
    help: family === 4 ? "eth0's IPv4 address (auto: the next free one of the VPC's guest network, unique cluster-wide; 0: none)" : "eth0's IPv6 address as well (or instead; auto as for ip4_addr)",
    default: '0',
    parse: (raw, key) => (raw === '0' ? null : raw === 'auto' ? 'auto' : v.interfaceAddress(raw, key)),
  });

/** A quota limit: a whole number, or none for no limit. */
const countLimit = (name: string, what: string): Arg<number | null> =>
  arg({
    name,
    kind: 'string',
    placeholder: 'N|none',
    help: `at most N ${what} on the VPC, counted on all members (none: no limit)`,
    parse: (raw, key) => (raw === 'none' ? null : v.integer(raw, key, 0, 1_000_000)),
  });

const sizeLimit = (name: string, what: string): Arg<number | null> =>
  arg({
    name,
    kind: 'string',
    placeholder: 'SIZE|none',
    help: `at most this much ${what} for the VPC's VMs, e.g. 4g (none: no limit)`,
    parse: (raw, key) => (raw === 'none' ? null : parseSize(raw, key, 0)),
  });

/** A container's interfaces: eth0 to eth3. */
const MAX_NICS = 4;

/** An address argument given once per interface, comma separated in the interfaces' order (0 for none). */
const perInterface = <T>(a: Arg<T>): Arg<T[]> =>
  arg({
    ...a,
    kind: 'list',
    placeholder: `${a.placeholder}[,...]`,
    help: `${a.help}; with several interfaces one per interface, in order`,
    parse: (raw, key) => {
      const list = v.list(raw, key, (x, k) => a.parse(x, k));
      if (list.length > MAX_NICS) throw new UserError(`invalid ${key} ${shown(raw)}: at most ${MAX_NICS} addresses, one per interface`);
      return list;
    },
  });

const QUOTA = [
  countLimit('jail_max', 'containers'),
  countLimit('vm_max', 'VMs'),
  arg({ ...countLimit('bhyve_max', 'VMs'), help: 'the same as vm_max (the reference\'s name)' }),
  countLimit('vcpu_max', 'virtual CPUs of VMs'),
  sizeLimit('ram_max', 'RAM'),
  sizeLimit('disk_max', 'disk'),
];

const GUEST_NETWORK = [
  arg({ name: 'guest_network', kind: 'string', placeholder: 'CIDR|none', help: 'where ip4_addr=auto (ip6_addr=auto for an IPv6 network) takes guest addresses from', parse: (raw, key) => (raw === 'none' ? null : v.cidrText(v.network(raw, key))) }),
  arg({ name: 'guest_gateway', kind: 'string', placeholder: 'ADDR', help: "the guests' router in the guest network: never handed out", parse: (raw, key) => (raw === 'none' ? null : raw.includes(':') ? v.ipv6(raw, key) : v.ipv4(raw, key)) }),
];

const underlayAddress = (family: 4 | 6): Arg<string | null> =>
  arg({
    name: family === 4 ? 'nodeip' : 'nodeip6',
    kind: 'string',
    placeholder: family === 4 ? 'IPV4' : 'IPV6',
    help: `underlay address for IPv${family} tunnels`,
    parse: (raw, key) => (raw === '0' ? null : family === 4 ? v.ipv4(raw, key) : v.ipv6(raw, key)),
  });

/** The options of a listing (a table, --json, header=0, display=) or of a result (--json). */
export type Output = 'listing' | 'json' | 'text';

export interface Operation {
  /** Stable id: the API's operationId and the key of every face's handler. */
  readonly id: string;
  readonly command: string;
  readonly mode?: string;
  readonly summary: string;
  /** More lines of help; the argument lines are made from `args`. */
  readonly help?: string;
  readonly args: readonly Arg[];
  readonly output: Output;
  /** A listing's columns, the default ones first (display= may name any of them). */
  readonly columns?: readonly string[];
  readonly defaultColumns?: readonly string[];
  /** Reads only: opened read-only, and a `read` API token may call it. */
  readonly readOnly: boolean;
  /** Reads the database alone, never the host's interfaces: no platform driver is loaded. */
  readonly dbOnly?: boolean;
  /** A first bare word stands for this argument (`jwhereis NAME`). */
  readonly word?: string;
  /** Bare words after the arguments are a command line, passed through (`jexec`). */
  readonly argv?: boolean;
}

const { vpc_name, node_member, peer_network, mtu, underlay, firewall, encrypt, fdb, concurrency, nodes, node, jname, dryrun, force, platform } = ARGS;

const runasap = arg({ name: 'runasap', kind: 'boolean', placeholder: '1|0', help: 'start it now', default: '0', parse: v.boolFlag });
const astart = arg({ name: 'astart', kind: 'boolean', placeholder: '1|0', help: 'start it again at boot (guests mode=start_all)', default: '0', parse: v.boolFlag });
const vmName = arg({ ...jname, help: 'the VM', required: 'name the VM, e.g. jname=vm1' });
const guestForce = arg({ ...force, help: 'create it even when a member cannot be asked for its guests (counted by its last report)' });
/** What jcreate and bcreate both end with: when the guest starts, and how its admission may go on. */
const GUEST_START = [runasap, astart, guestForce, platform];

/** 32 MiB is below what any kernel boots in; 1 TiB above what one VM of this tool is sensibly given. */
function vmRam(raw: string, key: string): number {
  const bytes = parseSize(raw, key, 32 * 2 ** 20);
  if (bytes > 2 ** 40) throw new UserError(`invalid ${key} ${shown(raw)}: at most 1t`);
  return bytes;
}

const vpcOp = (mode: string, summary: string, args: readonly Arg[], extra: Partial<Operation> = {}): Operation => ({
  id: `vpc.${mode}`,
  command: 'vpc',
  mode,
  summary,
  args: [vpc_name, ...args],
  output: 'text',
  readOnly: false,
  ...extra,
});

const DEFINITION = [node_member, peer_network, mtu, underlay, firewall, encrypt, fdb, ...QUOTA, ...GUEST_NETWORK];
const LOCAL = [dryrun, platform];

const UNORDERED: readonly Operation[] = [
  vpcOp('init', `Define a VPC on this host. node_member=all means this host and every known node.
firewall=0 turns the VXLAN filter off for every VPC on the host.`, [...DEFINITION, ...LOCAL]),
  vpcOp('init_peers', 'Allocate the peer map: one VXLAN id (unique across all VPCs) and one /30 per pair.\nExisting pairs keep their ids and addresses. Prints the map.', [...LOCAL], {
    output: 'listing',
    columns: ['vni', 'node_a', 'addr_a', 'node_b', 'addr_b', 'underlay'],
  }),
  vpcOp('sync', "Send this host's definition and peer map to every member.", [force, ...LOCAL], { output: 'json' }),
  vpcOp('init_vxlan', "Create this host's N-1 tunnels (UDP 4789, no learning, MTU from the underlay, alias\ntunnel-to-PEER, the tunnel's /30 address so the far end answers ping).", LOCAL),
  vpcOp('init_bridge', 'Create the bridge named like the VPC, holding the tunnels with split horizon\n(isolated/private ports). The tunnel addresses move onto the bridge.', [
    arg({ name: 'bridge_ips', kind: 'list', placeholder: 'A/N,...', help: "addresses for the bridge on this host (in the VPC's segment)", parse: (raw, key) => v.list(raw, key, v.interfaceAddress) }),
    ...LOCAL,
  ]),
  vpcOp('destroy_vxlan', "Remove this host's tunnels.", LOCAL),
  vpcOp('destroy_bridge', "Remove this host's bridge.", LOCAL),
  vpcOp('apply', "Reconcile this host's interfaces with what it asked for (repairs drift; used at boot).", LOCAL),
  vpcOp('down', "Remove this host's interfaces for the VPC but keep what it asked for (boot scripts' stop).", LOCAL),
  vpcOp('deploy', `From one host: check every member answers, init_peers, sync, then all members apply
concurrently (a line per host as it finishes, then a summary). Idempotent. With
node_member= and peer_network= it defines the VPC first. Each member reports its
underlay link's MTU; tunnels to a member with a smaller link are made smaller (a
warning line says so). A member that reports it already has exactly what it would be
sent, its links as that apply left them, is left alone (current); full=1 applies
every member anyway (repairs a firewall changed by hand, say).`, [
    ...DEFINITION.map((a) => ({ ...a, required: undefined })),
    concurrency,
    arg({ name: 'full', kind: 'boolean', placeholder: '1|0', help: 'apply every member, also those that report they are current', default: '0', parse: v.boolFlag }),
    ...LOCAL,
  ], { output: 'json' }),
  vpcOp('join', 'Add known nodes to a running VPC: only their pairs are allocated and only their\ntunnels created; existing tunnels keep their ids, addresses and interfaces.', [nodes, concurrency, ...LOCAL], { output: 'json' }),
  vpcOp('leave', 'Remove members: their tunnels go from every other member, their pairs are freed,\nand they forget the VPC. (node mode=remove does this for every VPC of the node.)', [nodes, concurrency, ...LOCAL], { output: 'json' }),
  vpcOp('status', 'Per host and tunnel: present, up, MTU, split horizon, round-trip time, whether a\nfull-MTU don\'t-fragment ping crosses (pmtu_ok), traffic.', LOCAL, {
    output: 'listing',
    columns: ['node', 'tunnel', 'peer', 'vni', 'present', 'up', 'mtu', 'isolated', 'rtt_ms', 'pmtu_ok', 'sealed', 'fdb', 'error', 'rx_bytes', 'tx_bytes', 'rx_packets', 'tx_packets'],
    defaultColumns: ['node', 'tunnel', 'peer', 'vni', 'present', 'up', 'mtu', 'isolated', 'rtt_ms', 'pmtu_ok', 'sealed', 'fdb'],
    readOnly: true,
  }),
  vpcOp('check_mtu', "Probe each of this host's tunnels with a don't-fragment ping of its full MTU; where\nthat does not cross, find the largest size that does (the path is smaller than it claims).\nfix=1 measures again from the routes' MTU and keeps each such tunnel (and the bridge) at\nwhat crosses, here, across re-applies.", [
    arg({ name: 'fix', kind: 'boolean', placeholder: '1|0', help: 'cap the tunnels whose path is smaller at what crosses', default: '0', parse: v.boolFlag }),
    ...LOCAL,
  ], {
    output: 'listing',
    columns: ['node', 'tunnel', 'peer', 'mtu', 'pmtu_ok', 'largest', 'verdict', 'capped'],
    readOnly: false,
  }),
  {
    id: 'vpc.list',
    command: 'vpc',
    mode: 'list',
    summary: 'The VPCs this host knows.',
    args: LOCAL,
    output: 'listing',
    columns: ['name', 'peer_network', 'underlay', 'mtu', 'firewall', 'encrypt', 'fdb', 'members', 'pairs', 'vxlan', 'bridge', 'guest_network', 'quota', 'usage'],
    defaultColumns: ['name', 'peer_network', 'underlay', 'mtu', 'firewall', 'encrypt', 'fdb', 'members', 'pairs', 'vxlan', 'bridge', 'quota', 'usage'],
    readOnly: true,
    dbOnly: true,
  },
  vpcOp('set', `Change a VPC's quotas or guest network here and on every member (only a member may).
Lowering a quota below what is in use refuses new guests and leaves the existing ones.
encrypt= moves every tunnel into (or out of) WireGuard on every member, as a deploy does.`, [...QUOTA, ...GUEST_NETWORK, encrypt, force, ...LOCAL], { output: 'json' }),
  {
    id: 'vpc.rotate_keys',
    command: 'vpc',
    mode: 'rotate_keys',
    summary: `Give this host a new WireGuard key and take it into use on every peer of every
encrypted VPC it is in, with no lost packets: the link switches first (what it sends
waits for a new handshake), then each peer swaps the old key for the new in one wg set.`,
    args: [
      arg({ name: 'node', kind: 'string', placeholder: 'NAME', help: 'the host whose key is replaced: this one (a host rotates only its own key)', parse: v.nodeRef }),
      ...LOCAL,
    ],
    output: 'json',
    readOnly: false,
  },
  vpcOp('show', "One VPC as JSON: its definition, peer map and this host's layers.", LOCAL, { readOnly: true, dbOnly: true }),
  vpcOp('collapse', 'Remove the network on every member; keep the VPC definition.', [force, ...LOCAL]),
  vpcOp('destroy', 'Collapse and forget the VPC on every member.', [force, ...LOCAL]),
  vpcOp('remove', "Remove this host's network for the VPC and forget it here only.", LOCAL),
  vpcOp('init_rc', `Boot persistence: Linux writes and enables the systemd unit meshvpc-NAME.service
(start: mode=apply, stop: mode=down); FreeBSD writes /usr/local/etc/rc.d/meshvpc_NAME
and enables it with sysrc. dryrun=1 prints the file instead.`, LOCAL),
  {
    id: 'initenv',
    command: 'initenv',
    summary: "prepare this host: its name, addresses, cluster key and WireGuard key",
    help: `Records this host's identity in $MESHVPC_HOME (default /var/db/meshvpc) and makes
its ED25519 cluster key and its WireGuard key (encrypt=wireguard) once. Running it
again updates the addresses and keeps the keys.`,
    args: [
      arg({ name: 'nodename', kind: 'string', placeholder: 'NAME', help: 'the name other hosts know this one by (letters, digits, ".", "-"; default: the hostname)', required: 'name this host, e.g. nodename=host1', parse: v.nodeName }),
      underlayAddress(4),
      underlayAddress(6),
      arg({ name: 'wg_port', kind: 'integer', placeholder: 'PORT', help: 'the UDP port of this host\'s WireGuard link (default 51820)', schema: { minimum: 1, maximum: 65535 }, parse: (raw, key) => v.port(raw, key) }),
    ],
    output: 'text',
    readOnly: false,
  },
  {
    id: 'node.add',
    command: 'node',
    mode: 'add',
    summary: `First contact with another host: authenticates with the password in $MESHVPC_PASSWORD
(or typed at a prompt), or with your own SSH agent/keys; pins the peer's SSH host key;
installs each host's cluster key on the other restricted to "meshvpc remote". One add
joins both sides; running it on the other side too (as the CBSD article does) is harmless.`,
    args: [
      arg({ ...node, placeholder: 'ADDR' }),
      arg({ name: 'port', kind: 'integer', placeholder: 'N', help: 'SSH port', default: '22', schema: { minimum: 1, maximum: 65535 }, parse: v.port }),
      arg({ name: 'user', kind: 'string', placeholder: 'USER', help: 'SSH user', default: 'root', parse: v.userName }),
    ],
    output: 'text',
    readOnly: false,
  },
  {
    id: 'node.list',
    command: 'node',
    mode: 'list',
    summary: "The known hosts: name, addresses, SSH endpoint, platform, host key fingerprint.",
    args: [],
    output: 'listing',
    columns: ['name', 'ip4', 'ip6', 'ssh', 'platform', 'hostkey'],
    defaultColumns: ['name', 'ip4', 'ip6', 'ssh', 'platform'],
    readOnly: true,
    dbOnly: true,
  },
  {
    id: 'node.show',
    command: 'node',
    mode: 'show',
    summary: 'One host: its addresses, SSH endpoint and host key, the VPCs it is in here, and, asked now,\nwhether it answers, its meshvpc version and its containers.',
    args: [node],
    output: 'json',
    readOnly: true,
  },
  {
    id: 'node.remove',
    command: 'node',
    mode: 'remove',
    summary: "Take the host out of every VPC it is in, then forget it on both sides. With meshvpc's\netcd (backend=etcd), on the host that holds the CA key: revoke its etcd client certificate\nand push the new CRL to every etcd member, one at a time (each restarts its etcd).",
    args: [node, force],
    output: 'json',
    readOnly: false,
  },
  {
    id: 'node.repin',
    command: 'node',
    mode: 'repin',
    summary: "Accept a peer's new SSH host key after a reinstall (prints old and new fingerprints).",
    args: [node],
    output: 'text',
    readOnly: false,
  },
  {
    id: 'node.update',
    command: 'node',
    mode: 'update',
    summary: `A peer's address or SSH port changed (run initenv with the new address on it first).
Checks it answers there with its pinned host key and its name, then changes its record and
its underlay in every VPC it is in here, tells the other members (each checks with the
peer itself), and re-applies those VPCs on every member: tunnels change their remote in place.`,
    args: [
      arg({ ...node, placeholder: 'NAME' }),
      arg({ name: 'ip', kind: 'string', placeholder: 'IPV4', help: 'its new IPv4 address (underlay; SSH too when it was reached over IPv4)', parse: (raw, key) => v.ipv4(raw, key) }),
      arg({ name: 'ip6', kind: 'string', placeholder: 'IPV6', help: 'its new IPv6 address (underlay; SSH too when it was reached over IPv6)', parse: (raw, key) => v.ipv6(raw, key) }),
      arg({ name: 'port', kind: 'integer', placeholder: 'N', help: 'its new SSH port', schema: { minimum: 1, maximum: 65535 }, parse: v.port }),
      dryrun,
    ],
    output: 'json',
    readOnly: false,
  },
  {
    id: 'jcreate',
    command: 'jcreate',
    summary: 'create a container attached to a VPC',
    help: `A container is a network namespace (Linux) or vnet jail (FreeBSD) whose interface
eth0 is one end of a pair whose other end joins the VPC's bridge, with the VPC's MTU.`,
    args: [
      jname,
      arg({
        name: 'interface',
        kind: 'list',
        placeholder: 'VPC[,VPC...]',
        help: "the VPC eth0 joins; more VPCs give eth1, eth2, ... (Linux)",
        required: 'the VPC to attach to, e.g. interface=vpc1',
        parse: (raw, key) => {
          const list = v.list(raw, key, (x, k) => v.vpcName(x, k));
          if (list.length > MAX_NICS) throw new UserError(`invalid ${key} ${shown(raw)}: at most ${MAX_NICS} VPCs (eth0-eth${MAX_NICS - 1})`);
          return list;
        },
      }),
      arg({
        name: 'vnet',
        kind: 'boolean',
        placeholder: '1',
        help: 'its own network stack (required: containers join a VPC with their own stack)',
        default: '1',
        parse: (raw, key) => {
          if (!v.boolFlag(raw, key)) throw new UserError('vnet=1 is required: containers join a VPC with their own network stack');
          return true;
        },
      }),
      perInterface(guestAddress(4)),
      perInterface(guestAddress(6)),
      ...GUEST_START,
    ],
    output: 'text',
    readOnly: false,
  },
  {
    id: 'bcreate',
    command: 'bcreate',
    summary: 'create a VM attached to a VPC',
    help: `A VM is a QEMU process (Linux; KVM when it works, else TCG) whose virtio NIC is a tap on
the VPC's bridge with the VPC's MTU and a stable MAC. Without vm_kernel= or vm_disk=
it boots the default guest built at install time (a Debian kernel and busybox), which
takes its address from the kernel command line. Its serial console goes to a log
(meshvpc bconsole).`,
    args: [
      arg({ ...jname, help: 'the VM (1-32 letters, digits, "_", "-")', required: 'name the VM, e.g. jname=vm1' }),
      arg({ ...vpc_name, name: 'interface', placeholder: 'VPC', help: 'the VPC to attach to', required: 'the VPC to attach to, e.g. interface=vpc1' }),
      arg({ name: 'vm_ram', kind: 'string', placeholder: 'SIZE', help: 'memory, e.g. 256m or 2g (32m to 1t)', default: '256m', parse: vmRam }),
      arg({ name: 'vm_cpus', kind: 'integer', placeholder: 'N', help: 'virtual CPUs (1-64)', default: '1', schema: { minimum: 1, maximum: 64 }, parse: (raw, key) => v.integer(raw, key, 1, 64) }),
      arg({
        name: 'vm_accel',
        kind: 'string',
        placeholder: 'auto|kvm|tcg',
        help: 'auto: KVM when a probe boot shows it works here, else TCG (emulation)',
        default: 'auto',
        schema: { enum: ['auto', 'kvm', 'tcg'] },
        parse: (raw): 'auto' | 'kvm' | 'tcg' => {
          if (raw !== 'auto' && raw !== 'kvm' && raw !== 'tcg') throw new UserError(`invalid vm_accel ${shown(raw)}: use auto, kvm or tcg`);
          return raw;
        },
      }),
      arg({ name: 'vm_kernel', kind: 'string', placeholder: 'PATH', help: 'boot this kernel (absolute path) instead of the default guest', parse: (raw, key) => v.filePath(raw, key) }),
      arg({ name: 'vm_initrd', kind: 'string', placeholder: 'PATH', help: 'with vm_kernel=: its initrd', parse: (raw, key) => v.filePath(raw, key) }),
      arg({ name: 'vm_disk', kind: 'string', placeholder: 'PATH', help: 'a disk image (raw, or qcow2 by its name) to attach or boot from', parse: (raw, key) => v.filePath(raw, key) }),
      guestAddress(4),
      guestAddress(6),
      ...GUEST_START,
    ],
    output: 'text',
    readOnly: false,
  },
  { id: 'bstart', command: 'bstart', summary: 'start a VM', args: [vmName, platform], output: 'text', readOnly: false },
  { id: 'bstop', command: 'bstop', summary: 'stop a VM (QEMU is asked to quit, then killed after 5 s; its tap goes)', args: [vmName, platform], output: 'text', readOnly: false },
  { id: 'bremove', command: 'bremove', summary: 'stop and delete a VM', args: [vmName, platform], output: 'text', readOnly: false },
  {
    id: 'bls',
    command: 'bls',
    summary: "list this host's VMs",
    args: [platform],
    output: 'listing',
    columns: ['jname', 'node', 'status', 'interface', 'ip4_addr', 'mac', 'ram', 'cpus', 'pid', 'accel', 'ip6_addr', 'astart', 'host_if'],
    defaultColumns: ['jname', 'status', 'interface', 'ip4_addr', 'mac', 'ram', 'cpus', 'pid'],
    readOnly: true,
  },
  {
    id: 'bconsole',
    command: 'bconsole',
    summary: "show a VM's serial console log",
    args: [vmName, arg({ name: 'lines', kind: 'integer', placeholder: 'N', help: 'only the last N lines', schema: { minimum: 1, maximum: 100000 }, parse: (raw, key) => v.integer(raw, key, 1, 100_000) }), platform],
    output: 'text',
    readOnly: true,
    word: 'jname',
  },
  {
    id: 'guests.start_all',
    command: 'guests',
    mode: 'start_all',
    summary: 'Start every astart=1 container and VM that is not running (the boot unit runs this).',
    args: [arg({ ...vpc_name, required: undefined, help: 'only the guests on this VPC' }), platform],
    output: 'json',
    readOnly: false,
  },
  { id: 'jstart', command: 'jstart', summary: 'start a container', args: [jname, platform], output: 'text', readOnly: false },
  { id: 'jstop', command: 'jstop', summary: 'stop a container (its namespace and pair go away)', args: [jname, platform], output: 'text', readOnly: false },
  { id: 'jremove', command: 'jremove', summary: 'stop and delete a container', args: [jname, platform], output: 'text', readOnly: false },
  {
    id: 'jls',
    command: 'jls',
    summary: "list this host's containers (cluster=1: every reachable host's)",
    args: [arg({ name: 'cluster', kind: 'boolean', placeholder: '1|0', help: "also every reachable peer's containers", default: '0', parse: v.boolFlag }), platform],
    output: 'listing',
    columns: ['jname', 'node', 'interface', 'ip4_addr', 'vnet', 'status', 'ip6_addr', 'host_if'],
    defaultColumns: ['jname', 'node', 'interface', 'ip4_addr', 'vnet', 'status'],
    readOnly: true,
  },
  {
    id: 'jwhereis',
    command: 'jwhereis',
    summary: 'which hosts of the cluster have a container',
    help: 'Asks every known host concurrently and prints the hosts that have it.',
    args: [
      jname,
      arg({
        name: 'emulator',
        kind: 'string',
        placeholder: 'jail|bhyve|vm',
        help: 'only containers (jail) or only VMs (bhyve, vm)',
        schema: { enum: ['jail', 'bhyve', 'vm'] },
        parse: (raw): 'jail' | 'vm' => {
          if (raw === 'jail') return 'jail';
          if (raw === 'bhyve' || raw === 'vm') return 'vm';
          throw new UserError(`invalid emulator ${shown(raw)}: use jail, bhyve or vm`);
        },
      }),
      platform,
    ],
    output: 'json',
    readOnly: true,
    word: 'jname',
  },
  {
    id: 'jexec',
    command: 'jexec',
    summary: 'run a command inside a container',
    help: "The command's exit status is meshvpc's.",
    args: [jname, platform],
    output: 'text',
    readOnly: false,
    argv: true,
  },
  {
    id: 'cluster.init',
    command: 'cluster',
    mode: 'init',
    summary: `Move the cluster's control plane to etcd (the default is embedded: SQLite per host,
changes pushed over SSH). etcd_members= names the hosts that run etcd (this host or
nodes added with node mode=add): meshvpc makes a CA, gives each member its server and
peer certificates and every known host its client certificate (CN: its nodename) over
SSH, and records the cluster on every host; then start each member with etcd mode=run
or etcd mode=install. endpoints= with ca=, cert=, key= uses an etcd you run instead.`,
    args: [
      arg({
        name: 'backend',
        kind: 'string',
        placeholder: 'etcd',
        help: 'the control plane (etcd; without cluster mode=init the cluster is embedded)',
        required: 'the control plane, e.g. backend=etcd',
        schema: { enum: ['etcd'] },
        parse: (raw): 'etcd' => {
          if (raw !== 'etcd') throw new UserError(`invalid backend ${shown(raw)}: use etcd (the embedded default needs no cluster mode=init)`);
          return raw;
        },
      }),
      arg({ name: 'etcd_members', kind: 'list', placeholder: 'NODE,NODE,NODE', help: 'the hosts that run etcd: 1, 3, 5 or 7 of this host and the known nodes', parse: (raw, key) => v.list(raw, key, v.nodeRef) }),
      arg({ name: 'endpoints', kind: 'list', placeholder: 'https://ADDR:2379,...', help: 'an existing etcd: its client URLs (https only; IPv6 in brackets)', parse: (raw, key) => v.list(raw, key, (x, k) => parseEndpoint(x, k)) }),
      arg({ name: 'ca', kind: 'string', placeholder: 'FILE', help: "with endpoints=: the CA of the etcd servers' certificates (PEM)", parse: (raw, key) => v.filePath(raw, key) }),
      arg({ name: 'cert', kind: 'string', placeholder: 'FILE', help: "with endpoints=: this host's client certificate (PEM)", parse: (raw, key) => v.filePath(raw, key) }),
      arg({ name: 'key', kind: 'string', placeholder: 'FILE', help: "with endpoints=: this host's client key (PEM)", parse: (raw, key) => v.filePath(raw, key) }),
      concurrency,
    ],
    output: 'json',
    readOnly: false,
    dbOnly: true,
  },
  {
    id: 'cluster.migrate',
    command: 'cluster',
    mode: 'migrate',
    summary: `Move the VPCs this host is a member of (made by SSH push) into etcd, after cluster
mode=init: each VPC and its VXLAN ids go into the store in one transaction, as they are (same
ids, same addresses: no tunnel is touched), unless the store already holds it (a definition meshvpc 0.5 wrote, unsigned, is signed
again when it is the same network as this host's); then each member's agent adopts it, which changes nothing, and from then on deploy, join and leave go
through the store. Run it on one member of each VPC, with the agents running.`,
    args: [dryrun],
    output: 'json',
    readOnly: false,
  },
  {
    id: 'cluster.add_member',
    command: 'cluster',
    mode: 'add_member',
    summary: `Add an etcd member to the cluster meshvpc runs (at most 7), on the host that holds the CA
key (the one that ran cluster mode=init): only while every member is healthy. etcd is told
first, then the new member gets its server and peer certificates over SSH, then every host
the new member list; start the new member with etcd mode=run or etcd mode=install and it
joins the running cluster. Keep the count odd (3, 5, 7): an even one tolerates no more
failures than the odd one below it.`,
    args: [node, concurrency],
    output: 'json',
    readOnly: false,
  },
  {
    id: 'cluster.remove_member',
    command: 'cluster',
    mode: 'remove_member',
    summary: `Take an etcd member out of the cluster (a host that died for good, or one moving its
member elsewhere), on the host that holds the CA key: only while the members that stay make a
healthy quorum. etcd is told first (the removed member's etcd stops by itself), then every
host the new member list. The removed host stays a client of the cluster; to revoke it,
node mode=remove after this.`,
    args: [node, concurrency],
    output: 'json',
    readOnly: false,
  },
  {
    id: 'cluster.push_crl',
    command: 'cluster',
    mode: 'push_crl',
    summary: `Push the cluster's current CRL to every etcd member again, one at a time (the leader
last, each only once the others are healthy), as node mode=remove does when it revokes a
host: for a member that could not be reached then, which still lets the removed host in.
Only on the host that holds the CA key (the one that ran cluster mode=init). Exit status 1
when a member did not take it or is not healthy after.`,
    args: [],
    output: 'json',
    readOnly: false,
  },
  {
    id: 'cluster.show',
    command: 'cluster',
    mode: 'show',
    summary: "The control plane: backend (embedded or etcd), its members and each member's health,\nasked of that member over TLS with this host's client certificate. Exit status 1 when a\nmember is unhealthy.",
    args: [],
    output: 'json',
    readOnly: true,
    dbOnly: true,
  },
  {
    id: 'token.create',
    command: 'token',
    mode: 'create',
    summary: 'Make an API token and print it once (only its hash is stored).',
    args: [
      arg({ name: 'name', kind: 'string', placeholder: 'NAME', help: 'a name to list and revoke it by', required: 'name the token, e.g. name=ci', schema: { pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,31}$' }, parse: v.tokenName }),
      arg({
        name: 'role',
        kind: 'string',
        placeholder: 'admin|read',
        help: 'admin may change things; read may only GET',
        default: 'admin',
        schema: { enum: [...TOKEN_ROLES] },
        parse: (raw) => {
          if (!(TOKEN_ROLES as readonly string[]).includes(raw)) throw new UserError(`invalid role ${shown(raw)}: use admin or read`);
          return raw as (typeof TOKEN_ROLES)[number];
        },
      }),
    ],
    output: 'json',
    readOnly: false,
    dbOnly: true,
  },
  { id: 'token.list', command: 'token', mode: 'list', summary: 'The API tokens: name, role, when made and last used.', args: [], output: 'listing', columns: ['name', 'role', 'created', 'last_used'], readOnly: true, dbOnly: true },
  {
    id: 'token.revoke',
    command: 'token',
    mode: 'revoke',
    summary: 'Revoke a token: the API refuses it from then on.',
    args: [arg({ name: 'name', kind: 'string', placeholder: 'NAME', help: 'the token', required: 'name the token, e.g. name=ci', parse: v.tokenName })],
    output: 'text',
    readOnly: false,
    dbOnly: true,
  },
];

/**
 * The order errors name operations in ("force= applies to vpc mode=sync, ..."):
 * listings first, then what reports JSON, then the rest.
 */
const ORDER = ['vpc.list', 'vpc.status', 'vpc.init_peers', 'node.list', 'jls', 'token.list', 'token.create', 'node.show', 'jwhereis', 'vpc.deploy', 'vpc.join', 'vpc.leave', 'vpc.sync', 'vpc.collapse', 'vpc.destroy', 'node.remove'];
const rank = (o: Operation): number => (ORDER.includes(o.id) ? ORDER.indexOf(o.id) : ORDER.length);

export const OPERATIONS: readonly Operation[] = [...UNORDERED].sort((a, b) => rank(a) - rank(b));

export function operation(id: string): Operation {
  const op = OPERATIONS.find((o) => o.id === id);
  if (!op) throw new Error(`no operation ${id}`);
  return op;
}

/** The operations of a command (`vpc`: every mode), in the order written above (help's order). */
export const operationsOf = (command: string): Operation[] => UNORDERED.filter((o) => o.command === command);

/** Every operation in the order written above. */
export const DECLARED: readonly Operation[] = UNORDERED;

export const contextOf = (op: Operation): string => (op.mode === undefined ? op.command : `${op.command} mode=${op.mode}`);

/**
 * A value as the JSON API sends it, in the typed-string form the CLI's
 * arguments have: the one validator then reads both.
 */
function fromJson(a: Arg, value: unknown, context: string): string {
  const wrong = (): UserError => new UserError(`invalid ${a.name} ${shown(typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)))}: expected ${a.kind === 'list' ? 'a list of strings (or one comma separated string)' : `a ${a.kind}`} for ${context}`);
  switch (a.kind) {
    case 'string':
      if (typeof value !== 'string') throw wrong();
      return value;
    case 'integer':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
      if (typeof value === 'string') return value;
      throw wrong();
    case 'boolean':
      if (typeof value === 'boolean') return value ? '1' : '0';
      if (value === 1 || value === 0) return String(value);
      throw wrong();
    case 'list':
      if (typeof value === 'string') return value;
      if (Array.isArray(value) && value.length > 0 && value.every((x) => typeof x === 'string' && !x.includes(','))) return value.join(',');
      throw wrong();
  }
}

export type Input = Readonly<Record<string, unknown>>;

/**
 * Check and convert an operation's arguments: refuse a name it does not
 * take, a missing required one and a bad value, each in one line naming it;
 * fill in defaults. `json` says the values come from a JSON body.
 */
export function parseInput(op: Operation, given: ReadonlyMap<string, unknown>, json = false): Input {
  const context = contextOf(op);
  const names = op.args.map((a) => a.name);
  for (const k of given.keys()) {
    if (!names.includes(k)) {
      throw new UserError(`unknown ${json ? 'field' : 'argument'} ${json ? shown(k) : `${k}=`} for ${context}; ${names.length > 0 ? `allowed: ${names.join(', ')}` : 'it takes none'}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const a of op.args) {
    const value = given.get(a.name);
    const raw = value === undefined ? undefined : json ? fromJson(a, value, context) : (value as string);
    if (raw === undefined || (raw === '' && a.required !== undefined)) {
      if (a.required !== undefined) throw new UserError(`missing ${a.name}=: ${a.required}`);
      out[a.name] = a.default === undefined ? undefined : a.parse(a.default, a.name);
      continue;
    }
    out[a.name] = a.parse(raw, a.name);
  }
  return out;
}
