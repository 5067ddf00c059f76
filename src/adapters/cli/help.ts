/**
 * Help texts. A catalog command's usage, its modes and their arguments are
 * made from the catalog; only the CLI's own commands (lab, server, remote,
 * completion, help, version) are written here.
 */
import { shown, UserError } from '../../core/errors.js';
import { OPERATIONS, operationsOf, type Arg, type Operation } from '../../app/catalog.js';
import { EXIT_MEANINGS } from './exit-status.js';

export interface CommandDoc {
  readonly summary: string;
  readonly usage: string;
  readonly body: string;
}

/** The options every command explains once; the man page prints the same list. */
export const COMMON_OPTIONS: readonly { readonly usage: string; readonly help: string }[] = [
  { usage: '--json | json=1', help: 'machine-readable output (listings, status, jwhereis, deploy, ...)' },
  { usage: 'header=0', help: 'listings without the heading line' },
  { usage: 'display=a,b,...', help: 'listings: choose and order the columns' },
  { usage: 'dryrun=1', help: 'vpc, node update: print what would run or change; change nothing' },
  { usage: 'force=1', help: 'vpc sync/collapse/destroy, node remove: go on when a peer is unreachable or disagrees' },
  { usage: 'platform=linux|freebsd', help: 'vpc, containers: drive this host as that platform (default: from uname)' },
];

/** Words filled into lines of at most `width` characters, the later ones starting with `indent` (a no-break space holds two words together). */
function wrap(text: string, width: number, indent: string, first = ''): string {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(' ')) {
    const fresh = line === first || line === indent;
    if (!fresh && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else {
      line = fresh ? line + word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.join('\n');
}

const COMMON_WIDTH = Math.max(...COMMON_OPTIONS.map((o) => o.usage.length));
const COMMON = `
Common arguments (refused where they do not apply):
${COMMON_OPTIONS.map((o) => wrap(o.help, 100, ' '.repeat(COMMON_WIDTH + 3), `  ${o.usage.padEnd(COMMON_WIDTH)} `)).join('\n')}

${wrap(`Exit status: ${EXIT_MEANINGS.map((e) => `${e.code}\u00a0${e.meaning}`).join('; ')}.`, 92, '').replace(/\u00a0/g, ' ')}
`;

/** Summaries of the commands that have modes (the others take their operation's). */
const MODED: Readonly<Record<string, { summary: string; usage: string }>> = {
  node: { summary: 'join hosts into a cluster over SSH', usage: 'meshvpc node mode=add|list|show|update|remove|repin ...' },
  vpc: { summary: 'build and run VPCs: VXLAN full mesh + bridge with split horizon', usage: 'meshvpc vpc mode=MODE vpc_name=NAME ...' },
  token: { summary: 'API tokens for meshvpc server', usage: 'meshvpc token mode=create|list|revoke ...' },
  guests: { summary: 'start the containers and VMs marked astart=1', usage: 'meshvpc guests mode=start_all [vpc_name=NAME]' },
  cluster: { summary: 'the control plane: embedded (default) or etcd', usage: 'meshvpc cluster mode=init|show|migrate|push_crl ...' },
};

const written = (a: Arg): string => `${a.name}=${a.placeholder}`;
const argsLine = (args: readonly Arg[]): string =>
  args
    .filter((a) => !a.shared)
    .map((a) => (a.required !== undefined ? written(a) : `[${written(a)}]`))
    .join(' ');

function argLines(args: readonly Arg[], indent: string): string[] {
  const own = args.filter((a) => !a.shared);
  const width = Math.max(0, ...own.map((a) => written(a).length));
  return own.map((a) => `${indent}${written(a).padEnd(width)}  ${a.help}`);
}

const indent = (text: string, by: string): string => text.split('\n').map((l) => `${by}${l}`).join('\n');

function modeEntry(o: Operation): string {
  const head = `mode=${o.mode}${o.args.some((a) => !a.shared) ? ` ${argsLine(o.args)}` : ''}`;
  return [head, indent(o.summary, '    '), ...(o.help ? [indent(o.help, '    ')] : [])].join('\n');
}

function catalogDoc(command: string, ops: readonly Operation[]): CommandDoc {
  const moded = MODED[command];
  if (moded) return { ...moded, body: ops.map(modeEntry).join('\n') };
  const o = ops[0] as Operation;
  const listing = o.output === 'listing' ? ' [--json] [header=0] [display=...]' : o.output === 'json' ? ' [--json]' : '';
  const word = o.word ? `${o.args.find((a) => a.name === o.word)?.placeholder ?? o.word.toUpperCase()} | ` : '';
  const tail = o.argv ? ' CMD [ARGS...]' : '';
  const usage = `meshvpc ${command} ${word}${argsLine(o.args)}${tail}${listing}`.replace(/ +/g, ' ').trimEnd();
  const body = [...(o.help ? [o.help] : []), ...argLines(o.args, '  ')].join('\n');
  return { summary: o.summary, usage, body };
}

const CLI_ONLY: Readonly<Record<string, CommandDoc>> = {
  server: {
    summary: 'serve the HTTP API and the web console',
    usage: 'meshvpc server [listen=127.0.0.1:8089] [cert=FILE key=FILE] | server mode=install [listen=...] [dryrun=1]',
    body: `Runs in the foreground. listen= is ADDR:PORT or [V6ADDR]:PORT; with cert= and key=
(PEM files) it serves HTTPS. Every API call needs a token (meshvpc token mode=create).
mode=install writes and enables the systemd unit meshvpc-server.service that runs it;
dryrun=1 prints the unit instead. The API is described at /api/v1/openapi.json.`,
  },
  etcd: {
    summary: "run this host's etcd member (after cluster mode=init backend=etcd)",
    usage: 'meshvpc etcd mode=run | etcd mode=install [dryrun=1]',
    body: `mode=run runs this host's member of the cluster's etcd in the foreground: TLS with client
certificates for clients and peers, data in $MESHVPC_HOME/etcd/data, listening on this host's
underlay addresses (ports 2379 and 2380). mode=install writes the systemd unit
meshvpc-etcd.service that runs it (and enables it where systemd runs); dryrun=1 prints it.`,
  },
  agent: {
    summary: "apply the cluster's desired state from etcd on this host (backend=etcd)",
    usage: 'meshvpc agent [mode=run] | agent mode=install [dryrun=1]',
    body: `mode=run (the default) runs in the foreground: it reads every VPC this host is a member of
from the cluster's etcd, applies it with the same planner as vpc mode=apply, takes the other
members' guests for the control-plane FDB, writes what it applied under its own status key
(deploy, join, leave and destroy follow those), and watches for changes. An unreachable etcd
changes nothing on this host: the agent says "control plane unreachable" and catches up when the
store answers again. mode=install writes the systemd unit meshvpc-agent.service that runs it
(and enables it where systemd runs); dryrun=1 prints it.`,
  },
  lab: {
    summary: 'a cluster of hosts in network namespaces on this machine',
    usage: 'meshvpc lab up [hosts=3] [underlay=v4|v6] [etcd=0|1|3|5|7] | demo | run host=N CMD... | list | down',
    body: `mode up: build hosts (network namespaces joined by a bridge, each with its own sshd,
  /root, /etc/ssh and meshvpc state) and print their addresses. etcd=3: host 1 adds the others
  (node mode=add), runs cluster mode=init backend=etcd with hosts 1-3 as members, and each
  member's etcd runs in its host's namespaces (until lab down).
mode demo: build a 3-host lab, walk the CBSD article end to end, tear it down.
mode run host=N: run a command on lab host N (e.g. lab run host=1 meshvpc vpc mode=list).
mode list: labs that exist. mode down: tear every lab down.`,
  },
  remote: {
    summary: "serve one request from a peer (the only command a cluster key may run)",
    usage: 'meshvpc remote < request.json',
    body: '',
  },
  tui: {
    summary: 'menus for nodes, VPCs, containers and VMs (dialog); alias bsdconfig-tui',
    usage: 'meshvpc tui',
    body: `Runs the same operations as the commands above, through dialog boxes (Debian's dialog,
FreeBSD's bsddialog): create a VPC from a form, deploy it with a per-host progress gauge,
create containers and VMs. A refused value shows the command's one-line error and the
form comes back with what was typed. Escape goes back. Fits an 80x24 terminal.`,
  },
  completion: {
    summary: 'print the bash completion script',
    usage: 'meshvpc completion bash',
    body: `Completes commands, modes, argument names and the values that can be known: VPC,
node and guest names from this host's database, all, 1|0 and every fixed choice.
Load it with: source <(meshvpc completion bash). The install step puts it in
/usr/local/share/bash-completion/completions/meshvpc, which bash-completion loads.`,
  },
  help: { summary: 'explain a command', usage: 'meshvpc help [COMMAND] | meshvpc COMMAND --help', body: '' },
  version: { summary: "print meshvpc's version", usage: 'meshvpc version | meshvpc --version', body: '' },
};

/** Commands in the order help lists them: the article's first. */
const ORDER = ['initenv', 'node', 'vpc', 'jcreate', 'jstart', 'jstop', 'jremove', 'jls', 'jwhereis', 'jexec', 'bcreate', 'bstart', 'bstop', 'bremove', 'bls', 'bconsole', 'guests', 'token', 'cluster', 'etcd', 'tui', 'server', 'lab', 'remote', 'completion', 'help', 'version'];

export const COMMANDS: Readonly<Record<string, CommandDoc>> = Object.fromEntries(
  ORDER.map((name) => [name, CLI_ONLY[name] ?? catalogDoc(name, operationsOf(name))]),
);

// Every catalog command has a place in the order (a new one must be added there), and one with modes a summary.
for (const o of OPERATIONS) {
  if (!ORDER.includes(o.command)) throw new Error(`help: command ${o.command} is not in ORDER`);
  if (o.mode !== undefined && !MODED[o.command]) throw new Error(`help: command ${o.command} has modes but no entry in MODED`);
}

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
