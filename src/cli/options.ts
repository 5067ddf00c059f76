/**
 * The shared options (--json, header=, display=, dryrun=, force=, platform=)
 * are read by commands late, after state was opened or even changed, and
 * some commands never read them at all: `jremove jname=x dryrun=1` removed,
 * `vpc mode=init_peers display=bogus` allocated and then failed. Here, before
 * any command runs, every shared option given is checked: its value, and
 * that this command (and mode) does something with it.
 */
import { UserError } from '../core/errors.js';
import type { Invocation } from './args.js';
import { parseDisplay } from './output.js';

/**
 * Every listing and every column display= may name, default columns first.
 * Must agree with the printRows call of each (vpc.ts, node.ts, jail.ts,
 * lab/command.ts); the rows of a listing may leave some of these out.
 */
export const LISTINGS: Readonly<Record<string, readonly string[]>> = {
  'vpc mode=list': ['name', 'peer_network', 'underlay', 'mtu', 'firewall', 'members', 'pairs', 'vxlan', 'bridge'],
  'vpc mode=status': ['node', 'tunnel', 'peer', 'vni', 'present', 'up', 'mtu', 'isolated', 'rtt_ms', 'error'],
  'vpc mode=init_peers': ['vni', 'node_a', 'addr_a', 'node_b', 'addr_b', 'underlay'],
  'node mode=list': ['name', 'ip4', 'ip6', 'ssh', 'platform', 'hostkey'],
  jls: ['jname', 'node', 'interface', 'ip4_addr', 'vnet', 'status', 'ip6_addr', 'host_if'],
  'lab mode=up': ['host', 'name', 'address', 'netns', 'sshd_pid'],
  'lab mode=list': ['lab', 'hosts', 'underlay', 'dir'],
};

const JAIL_COMMANDS = ['jcreate', 'jstart', 'jstop', 'jremove', 'jls', 'jwhereis', 'jexec'];

/**
 * Who does something with each option besides the listings' json, header and
 * display. An entry without mode= covers every mode of the command.
 */
const HONOURED: Readonly<Record<string, readonly string[]>> = {
  json: [...Object.keys(LISTINGS), 'jwhereis', 'vpc mode=deploy', 'vpc mode=join', 'vpc mode=leave', 'vpc mode=sync'],
  header: Object.keys(LISTINGS),
  display: Object.keys(LISTINGS),
  dryrun: ['vpc'],
  force: ['vpc mode=sync', 'vpc mode=collapse', 'vpc mode=destroy', 'node mode=remove'],
  platform: ['vpc', ...JAIL_COMMANDS],
};

/** Options whose value is 1 or 0 (yes/no, true/false), as Params.flag reads them. */
const FLAGS = ['json', 'header', 'dryrun', 'force', 'help'];

/** Commands whose mode= chooses what they do; without one they refuse by themselves. */
const MODED = ['vpc', 'node', 'lab'];

/**
 * Check the shared options of `inv` (after checkPositionals) and note the
 * listing's columns on its Params for printRows. Throws a UserError naming
 * the option and where it applies.
 */
export function checkSharedOptions(inv: Invocation): void {
  const command = inv.command ?? '';
  const p = inv.params;
  for (const key of FLAGS) if (p.has(key)) p.flag(key);
  const mode = p.get('mode');
  // Without a mode the command says "missing mode=", which is the better first message.
  if (MODED.includes(command) && mode === undefined) return;
  const context = MODED.includes(command) ? `${command} mode=${mode}` : command;
  for (const [key, where] of Object.entries(HONOURED)) {
    if (p.has(key) && !where.includes(context) && !where.includes(command)) {
      throw new UserError(`${key}= does not apply to ${context}; it applies to ${where.join(', ')}`);
    }
  }
  const columns = LISTINGS[context];
  if (!columns) return;
  p.listingColumns = columns;
  const display = p.get('display');
  if (display !== undefined) parseDisplay(display, columns);
}
