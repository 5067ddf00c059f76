/**
 * The manual page meshvpc(8), in roff with man(7) macros, made from what
 * `meshvpc help` is made from: the catalog (every command, mode and
 * argument, with its help and default), help's own commands and common
 * options, and the exit statuses. The build writes it to dist/man/meshvpc.8;
 * only the prose around them (environment, files, examples) is written here.
 */
import { ARGS, operationsOf, type Arg, type Operation } from '../../app/catalog.js';
import { VERSION } from '../../core/version.js';
import { EXIT_MEANINGS } from './exit-status.js';
import { COMMANDS, COMMON_OPTIONS } from './help.js';

/**
 * Text for a roff text line: a backslash is the escape character (\e prints
 * one), "-" is written \- so options stay ASCII hyphen-minus, and anything
 * outside ASCII is named by its code point.
 */
export function escape(text: string): string {
  return text.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/[^\x20-\x7e\n\t]/gu, (c) => `\\[u${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}]`);
}

/** Lines of text: escaped, without leading blanks (a break in roff), a leading . or ' made literal. */
export function textLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const e = escape(l);
      return e.startsWith('.') || e.startsWith("'") ? `\\&${e}` : e;
    });
}

/** Help's phrases end without a full stop; the page's end with one. */
const stop = (s: string): string => (/[.!?]$/.test(s) ? s : `${s}.`);

/** A summary as a sentence: a capital first ("prepare this host" -> "Prepare this host."). */
const sentence = (s: string): string => stop(`${s.charAt(0).toUpperCase()}${s.slice(1)}`);

/** Lines of a no-fill example: kept as written (a leading . or ' made literal). */
const codeLines = (text: string): string[] => text.split('\n').map((l) => (/^[.']/.test(l) ? `\\&${escape(l)}` : escape(l)));

const bold = (s: string): string => `\\fB${escape(s)}\\fR`;
const italic = (s: string): string => `\\fI${escape(s)}\\fR`;

/** `name=PLACEHOLDER`, the name bold and the placeholder italic. */
const written = (a: Arg): string => `${bold(`${a.name}=`)}${italic(a.placeholder)}`;

/** An argument's entry: its help, then whether it is required and its default. */
function argEntry(a: Arg): string[] {
  const notes = [...(a.required !== undefined ? ['Required.'] : []), ...(a.default !== undefined && !/default/.test(a.help) ? [`Default: ${a.default}.`] : [])];
  return ['.TP', written(a), ...textLines([stop(a.help), ...notes].join(' '))];
}

/** The shared options an operation takes with their common meaning, named once; those it explains its own way get an entry. */
function argList(op: Operation): string[] {
  const common = (a: Arg): boolean => a.shared === true && ARGS[a.name as keyof typeof ARGS]?.help === a.help;
  const out = op.args.filter((a) => !common(a)).flatMap(argEntry);
  const shared = op.args.filter(common).map((a) => `${a.name}=`);
  const output =
    op.output === 'listing'
      ? [`--json, header=0, display= (columns: ${(op.columns ?? []).join(', ')}${op.defaultColumns ? `; shown by default: ${op.defaultColumns.join(', ')}` : ''})`]
      : op.output === 'json'
        ? ['--json']
        : [];
  const also = [...shared, ...output];
  if (also.length > 0) out.push('.TP', italic('also'), ...textLines(`${also.join(', ')}: see COMMON ARGUMENTS.`));
  return out;
}

function catalogCommand(name: string, ops: readonly Operation[]): string[] {
  const doc = COMMANDS[name] as (typeof COMMANDS)[string];
  const moded = ops.filter((o) => o.mode !== undefined);
  const out = [`.SS ${name}`, ...textLines(sentence(doc.summary)), '.PP', bold(doc.usage)];
  if (moded.length === 0) {
    const op = ops[0] as Operation;
    if (op.help) out.push('.PP', ...textLines(op.help));
    out.push(...argList(op));
    return out;
  }
  for (const op of moded) {
    out.push('.TP', bold(`mode=${op.mode}`), ...textLines(op.summary));
    if (op.help) out.push('.IP', ...textLines(op.help));
    const args = argList(op);
    if (args.length > 0) out.push('.RS', ...args, '.RE');
  }
  return out;
}

/** A command only the CLI has: its usage and help as `meshvpc help` prints them; each "mode X:" line starts a line. */
function ownCommand(name: string): string[] {
  const doc = COMMANDS[name] as (typeof COMMANDS)[string];
  const body = doc.body === '' ? [] : ['.PP', ...textLines(doc.body).flatMap((l, i) => (i > 0 && /^mode /.test(l) ? ['.br', l] : [l]))];
  return [`.SS ${name}`, ...textLines(sentence(doc.summary)), '.PP', bold(doc.usage), ...body];
}

const ENVIRONMENT: readonly [string, string][] = [
  ['MESHVPC_HOME', "This host's state directory (default /var/db/meshvpc)."],
  ['MESHVPC_PASSWORD', "The peer's password for the first contact of node mode=add (else a prompt, or your SSH agent and keys)."],
  ['MESHVPC_CONCURRENCY', 'The default of concurrency= (hosts contacted at once; 16).'],
  ['MESHVPC_LOCK_TIMEOUT_MS', 'How long a command waits for the lock of a VPC another command holds before it fails with exit status 4 (default 60000).'],
  ['MESHVPC_CONVERGE_TIMEOUT_MS', 'With backend=etcd: how long vpc mode=deploy, join, leave and destroy follow the members\' agents before reporting the ones that did not apply the change (default 60000).'],
  ['MESHVPC_SSH_TIMEOUT_MS', 'How long connecting to a peer may take (default 8000).'],
  ['MESHVPC_CALL_DEADLINE_MS', 'How long one request to a peer may take (default 120000).'],
  ['MESHVPC_SSH_KEEPALIVE_MS', 'SSH keepalive interval towards peers (default 2000).'],
  ['MESHVPC_SSH_HOST_KEY', "This host's sshd public host key, which peers pin (default /etc/ssh/ssh_host_ed25519_key.pub)."],
  ['MESHVPC_GUEST_DIR', 'Where the default VM guest (vmlinuz, initrd.img) is (default /var/lib/meshvpc/guest).'],
  ['MESHVPC_LAB_ROOT', "Where the lab keeps its hosts' directories (default meshvpc-lab in the temporary directory)."],
  ['MESHVPC_DEBUG', 'When set, an error is followed by its stack trace.'],
  ['HOME', "Whose .ssh/authorized_keys holds the peers' cluster keys."],
];

const FILES: readonly [string, string][] = [
  ['$MESHVPC_HOME/meshvpc.sqlite', "The host's state (SQLite, with -wal and -shm beside it): its identity, the known nodes and their pinned host keys, VPCs and peer maps, guests, API token hashes, locks. Mode 0600."],
  ['$MESHVPC_HOME/id_ed25519, id_ed25519.pub', "This host's ED25519 cluster key, made once by initenv."],
  ['$MESHVPC_HOME/vm/NAME/console.log', "A VM's serial console (meshvpc bconsole); vm.pid beside it holds its process id."],
  ['$MESHVPC_HOME/etcd/pki/', "The etcd control plane's certificates (cluster mode=init): ca.crt, this host's client.crt and client.key, a member's server and peer pairs, and on the host that made the cluster ca.key. Directory 0700, keys 0600."],
  ['$MESHVPC_HOME/etcd/data/', "An etcd member's data (etcd mode=run)."],
  ['$MESHVPC_HOME/vm/accel.json', "What vm_accel=auto found this host's acceleration to be."],
  ['/var/lib/meshvpc/guest', 'The default VM guest: a Debian kernel (vmlinuz) and a busybox initramfs (initrd.img), built at install time.'],
  ['~/.ssh/authorized_keys', 'Each peer\'s cluster key, restricted to "meshvpc remote caller=NODE".'],
  ['/etc/systemd/system/meshvpc-NAME.service', 'Boot persistence of a VPC on Linux (vpc mode=init_rc).'],
  ['/usr/local/etc/rc.d/meshvpc_NAME', 'Boot persistence of a VPC on FreeBSD (vpc mode=init_rc).'],
  ['/etc/systemd/system/meshvpc-server.service', 'The API server (server mode=install).'],
  ['/etc/systemd/system/meshvpc-etcd.service', "This host's etcd member (etcd mode=install)."],
  ['/etc/systemd/system/meshvpc-agent.service', "This host's agent (agent mode=install)."],
];

/** The article's walkthrough, as on its hosts, then what meshvpc adds. */
const EXAMPLES: readonly [string, string[]][] = [
  ['Prepare each host once, then join the hosts (one add joins both sides):', ['meshvpc initenv nodename=jhoster1 nodeip6=2a05:3580:d800:20f7::1', 'meshvpc node mode=add node=2a01:4f8:241:500c::1', 'meshvpc node mode=add node=2a01:4f8:241:500b::1']],
  [
    'Create a VPC step by step: init on every host, init_peers and sync on one, then the tunnels and the bridge on every host:',
    ['meshvpc vpc mode=init node_member=all \\\n    peer_network=10.100.0.0/24 vpc_name=vpc1', 'meshvpc vpc vpc_name=vpc1 mode=init_peers', 'meshvpc vpc vpc_name=vpc1 mode=sync', 'meshvpc vpc vpc_name=vpc1 mode=init_vxlan', 'meshvpc vpc vpc_name=vpc1 mode=init_bridge'],
  ],
  ['Or all of it from one host, concurrently (running it again changes nothing):', ['meshvpc vpc mode=deploy vpc_name=vpc1 node_member=all \\\n    peer_network=10.100.0.0/24']],
  ['A container on the VPC, a command in it, where it is:', ['meshvpc jcreate jname=jail1 ip4_addr=0 interface=vpc1 \\\n    vnet=1 runasap=1', 'meshvpc jexec jname=jail1 ip addr add 10.10.11.1/24 dev eth0', 'meshvpc jls', 'meshvpc jwhereis jail1']],
  ['A VM on the VPC (the default guest), its console:', ['meshvpc bcreate jname=vm1 interface=vpc1 ip4_addr=auto \\\n    vm_ram=256m runasap=1', 'meshvpc bconsole jname=vm1 lines=20']],
  ['Boot persistence, and the state of the tunnels:', ['meshvpc vpc mode=init_rc vpc_name=vpc1', 'meshvpc vpc mode=status vpc_name=vpc1']],
];

const SEE_ALSO = ['bridge(8)', 'ip(8)', 'nft(8)', 'qemu-system-x86_64(1)', 'ssh(1)', 'sshd(8)', 'systemctl(1)'];

const ORDER_NOTE = `Arguments are key=value (--key=value and --key for key=1 work too) and may come in any order after the command. A value one command refuses is refused with one line naming it, exit status 2, and nothing changed.`;

/** The whole page. */
export function manPage(): string {
  const commands = Object.keys(COMMANDS).flatMap((name) => {
    const ops = operationsOf(name);
    return ops.length > 0 ? catalogCommand(name, ops) : ownCommand(name);
  });
  const lines = [
    `.\\" meshvpc(8), made from meshvpc's command catalog by src/adapters/cli/manpage.ts: do not edit.`,
    `.TH MESHVPC 8 "" "meshvpc ${VERSION}" "System Manager's Manual"`,
    // Names and arguments are never hyphenated, and lines are not stretched to the margin.
    '.nr HY 0',
    '.nh',
    '.ad l',
    '.SH NAME',
    'meshvpc \\- private Ethernet segments across hosts over a full mesh of VXLAN tunnels',
    '.SH SYNOPSIS',
    `${bold('meshvpc')} ${italic('COMMAND')} [${italic('key')}=${italic('value')} ...]`,
    '.br',
    `${bold('meshvpc help')} [${italic('COMMAND')}]`,
    '.br',
    `${bold('meshvpc')} ${italic('COMMAND')} ${bold('--help')}`,
    '.SH DESCRIPTION',
    ...textLines(`meshvpc joins a few hosts anywhere on the internet and gives the containers and VMs on them one private Ethernet segment, a VPC, as if they sat on one switch. It is CBSD's vpc rebuilt for Linux and FreeBSD hosts: every command of the CBSD article works with cbsd replaced by meshvpc.`),
    '.PP',
    ...textLines(`A VPC is a full mesh of point-to-point VXLAN tunnels (UDP 4789, N-1 per host), bridged on every host with split horizon, with containers (network namespaces, vnet jails) and VMs (QEMU, bhyve) plugged into the bridge. Hosts trust each other through SSH: node mode=add pins a peer's host key and installs each host's cluster key on the other, restricted to "meshvpc remote". Every apply reads the kernel back and runs only the difference, so commands may be run again.`),
    '.PP',
    ...textLines(ORDER_NOTE),
    '.SH COMMON ARGUMENTS',
    ...textLines('Refused where they do not apply.'),
    ...COMMON_OPTIONS.flatMap((o) => ['.TP', bold(o.usage), ...textLines(stop(o.help))]),
    '.SH COMMANDS',
    ...commands,
    '.SH EXIT STATUS',
    ...EXIT_MEANINGS.flatMap((e) => ['.TP', bold(String(e.code)), ...textLines(sentence(e.meaning))]),
    '.PP',
    ...textLines(`jexec exits with the status of the command it ran.`),
    '.SH ENVIRONMENT',
    ...ENVIRONMENT.flatMap(([name, text]) => ['.TP', bold(name), ...textLines(text)]),
    '.SH FILES',
    ...FILES.flatMap(([name, text]) => ['.TP', italic(name), ...textLines(text)]),
    '.SH EXAMPLES',
    ...EXAMPLES.flatMap(([text, commands]) => ['.PP', ...textLines(text), '.PP', '.RS 4', '.EX', ...commands.flatMap(codeLines), '.EE', '.RE']),
    '.SH SEE ALSO',
    SEE_ALSO.map((s, i) => {
      const [page, section] = s.split(/[()]/);
      return `.BR ${escape(page as string)} (${section})${i < SEE_ALSO.length - 1 ? ',' : ''}`;
    }).join('\n'),
  ];
  return `${lines.join('\n')}\n`;
}
