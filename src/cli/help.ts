/** Help texts: one entry per command, with every mode and argument. */
import { shown, UserError } from '../core/errors.js';

interface CommandDoc {
  readonly summary: string;
  readonly usage: string;
  readonly body: string;
}

const COMMON = `
Common arguments (refused where they do not apply):
  --json | json=1        machine-readable output (listings, status, jwhereis)
  header=0               listings without the heading line
  display=a,b,...        listings: choose and order the columns
  dryrun=1               vpc: print the commands that would run; change nothing
  force=1                vpc sync/collapse/destroy, node remove: go on when a peer
                         is unreachable or disagrees
  platform=linux|freebsd vpc, containers: drive this host as that platform (default: from uname)

Exit status: 0 done; 1 failed (e.g. a peer did not converge); 2 bad input (nothing
changed); 3 a peer's host key changed; 4 busy (another command holds the VPC);
5 this host's database cannot be used (full disk, read-only, corrupt, too new).
`;

export const COMMANDS: Readonly<Record<string, CommandDoc>> = {
  initenv: {
    summary: "prepare this host: its name, addresses and cluster key",
    usage: 'meshvpc initenv nodename=NAME [nodeip=IPV4] [nodeip6=IPV6]',
    body: `Records this host's identity in $MESHVPC_HOME (default /var/db/meshvpc) and makes
its ED25519 cluster key once. Running it again updates the addresses and keeps the key.
  nodename=NAME   the name other hosts know this one by (letters, digits, ".", "-")
  nodeip=IPV4     underlay address for IPv4 tunnels
  nodeip6=IPV6    underlay address for IPv6 tunnels`,
  },
  node: {
    summary: 'join hosts into a cluster over SSH',
    usage: 'meshvpc node mode=add|list|remove|repin ...',
    body: `mode=add node=ADDR [port=22] [user=root]
    First contact with another host: authenticates with the password in $MESHVPC_PASSWORD
    (or typed at a prompt), or with your own SSH agent/keys; pins the peer's SSH host key;
    installs each host's cluster key on the other restricted to "meshvpc remote". One add
    joins both sides; running it on the other side too (as the CBSD article does) is harmless.
mode=list
    The known hosts: name, addresses, SSH endpoint, platform, host key fingerprint.
mode=remove node=NAME|ADDR
    Take the host out of every VPC it is in, then forget it on both sides.
mode=repin node=NAME|ADDR
    Accept a peer's new SSH host key after a reinstall (prints old and new fingerprints).`,
  },
  vpc: {
    summary: 'build and run VPCs: VXLAN full mesh + bridge with split horizon',
    usage: 'meshvpc vpc mode=MODE vpc_name=NAME ...',
    body: `mode=init vpc_name=NAME node_member=all|A,B,... peer_network=CIDR [mtu=N] [underlay=v4|v6] [firewall=1|0]
    Define a VPC on this host. node_member=all means this host and every known node.
    peer_network holds one /30 (IPv6: /126) per pair of members for the tunnel ends.
    mtu= fixes the tunnel MTU (default: underlay MTU of the route to each peer - 50 on
    IPv4, - 70 on IPv6). underlay= picks the tunnel address family (default: IPv6 when
    every member has an IPv6 address, else IPv4). firewall=1 (default) drops VXLAN
    (UDP 4789) from anyone but the members (nftables on Linux); firewall=0 turns that
    off for every VPC on the host.
mode=init_peers vpc_name=NAME
    Allocate the peer map: one VXLAN id (unique across all VPCs) and one /30 per pair.
    Existing pairs keep their ids and addresses. Prints the map.
mode=sync vpc_name=NAME
    Send this host's definition and peer map to every member.
mode=init_vxlan vpc_name=NAME
    Create this host's N-1 tunnels (UDP 4789, no learning, MTU from the underlay, alias
    tunnel-to-PEER, the tunnel's /30 address so the far end answers ping).
mode=init_bridge vpc_name=NAME [bridge_ips=A/N,...]
    Create the bridge named like the VPC, holding the tunnels with split horizon
    (isolated/private ports). The tunnel addresses move onto the bridge.
mode=destroy_vxlan | destroy_bridge vpc_name=NAME
    Remove this host's tunnels / bridge.
mode=apply vpc_name=NAME
    Reconcile this host's interfaces with what it asked for (repairs drift; used at boot).
mode=down vpc_name=NAME
    Remove this host's interfaces for the VPC but keep what it asked for (boot scripts' stop).
mode=deploy vpc_name=NAME [node_member=... peer_network=... to define it first]
    From one host: check every member answers, init_peers, sync, then all members apply
    concurrently (a line per host as it finishes, then a summary). Idempotent.
mode=join vpc_name=NAME node=NODE[,NODE...]
    Add known nodes to a running VPC: only their pairs are allocated and only their
    tunnels created; existing tunnels keep their ids, addresses and interfaces.
mode=leave vpc_name=NAME node=NODE[,NODE...]
    Remove members: their tunnels go from every other member, their pairs are freed,
    and they forget the VPC. (node mode=remove does this for every VPC of the node.)
mode=status vpc_name=NAME
    Per host and tunnel: present, up, MTU, split horizon, round-trip time.
mode=list
    The VPCs this host knows.
mode=collapse vpc_name=NAME
    Remove the network on every member; keep the VPC definition.
mode=destroy vpc_name=NAME
    Collapse and forget the VPC on every member.
mode=remove vpc_name=NAME
    Remove this host's network for the VPC and forget it here only.
mode=init_rc vpc_name=NAME
    Boot persistence: Linux writes and enables the systemd unit meshvpc-NAME.service
    (start: mode=apply, stop: mode=down); FreeBSD writes /usr/local/etc/rc.d/meshvpc_NAME
    and enables it with sysrc. dryrun=1 prints the file instead.`,
  },
  jcreate: {
    summary: 'create a container attached to a VPC',
    usage: 'meshvpc jcreate jname=NAME interface=VPC vnet=1 [ip4_addr=0|A/N] [ip6_addr=A/N] [runasap=1]',
    body: `A container is a network namespace (Linux) or vnet jail (FreeBSD) whose interface
eth0 is one end of a pair whose other end joins the VPC's bridge, with the VPC's MTU.
  ip4_addr=0      no address (set one yourself with jexec)
  ip4_addr=A/N    give eth0 this IPv4 address (unicast, not the network or broadcast address)
  ip6_addr=A/N    give eth0 this IPv6 address as well (or instead)
  runasap=1       start it now`,
  },
  jstart: { summary: 'start a container', usage: 'meshvpc jstart jname=NAME', body: '' },
  jstop: { summary: 'stop a container (its namespace and pair go away)', usage: 'meshvpc jstop jname=NAME', body: '' },
  jremove: { summary: 'stop and delete a container', usage: 'meshvpc jremove jname=NAME', body: '' },
  jls: { summary: "list this host's containers", usage: 'meshvpc jls [--json] [header=0] [display=...]', body: '' },
  jwhereis: {
    summary: 'which hosts of the cluster have a container',
    usage: 'meshvpc jwhereis NAME | jname=NAME',
    body: 'Asks every known host concurrently and prints the hosts that have it.',
  },
  jexec: {
    summary: 'run a command inside a container',
    usage: 'meshvpc jexec jname=NAME CMD [ARGS...]',
    body: "The command's exit status is meshvpc's.",
  },
  lab: {
    summary: 'a cluster of hosts in network namespaces on this machine',
    usage: 'meshvpc lab up [hosts=3] [underlay=v4|v6] | demo | run host=N CMD... | list | down',
    body: `mode up: build hosts (network namespaces joined by a bridge, each with its own sshd,
  /root, /etc/ssh and meshvpc state) and print their addresses.
mode demo: build a 3-host lab, walk the CBSD article end to end, tear it down.
mode run host=N: run a command on lab host N (e.g. lab run host=1 meshvpc vpc mode=list).
mode list: labs that exist. mode down: tear every lab down.`,
  },
  remote: {
    summary: "serve one request from a peer (the only command a cluster key may run)",
    usage: 'meshvpc remote < request.json',
    body: '',
  },
  help: { summary: 'explain a command', usage: 'meshvpc help [COMMAND] | meshvpc COMMAND --help', body: '' },
  version: { summary: "print meshvpc's version", usage: 'meshvpc version | meshvpc --version', body: '' },
};

/** The error for a command (or help topic) that does not exist. */
export function unknownCommand(name: string): UserError {
  return new UserError(`unknown command ${shown(name)}; commands: ${Object.keys(COMMANDS).join(', ')} (meshvpc help)`);
}

export function generalHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, d]) => `  ${name.padEnd(width)}  ${d.summary}`);
  return `meshvpc: private Ethernet segments across hosts (VXLAN full mesh, after CBSD's vpc)

Usage: meshvpc COMMAND [key=value ...]      (--key=value works too)

Commands:
${lines.join('\n')}

meshvpc help COMMAND or meshvpc COMMAND --help explains every mode and argument.
${COMMON}`;
}

export function commandHelp(name: string): string {
  const d = COMMANDS[name];
  if (!d) throw unknownCommand(name);
  return `${d.usage}\n\n${d.summary}\n${d.body ? `\n${d.body}\n` : ''}${COMMON}`;
}
