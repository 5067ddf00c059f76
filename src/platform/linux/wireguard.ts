/**
 * The WireGuard link on Linux: kernel wireguard where the kernel has it,
 * Debian's wireguard-go (userspace, over /dev/net/tun) where it does not,
 * configured with `wg` in both cases. The private key goes to `wg` as a file
 * path only.
 */
import type { Op } from '../../core/ops.js';
import { CommandError, runChecked, type Executor } from '../exec.js';

export type WgImpl = 'kernel' | 'wireguard-go';

const link = (name: string, ...rest: (string | number)[]): string[] => ['ip', 'link', 'set', 'dev', name, ...rest.map(String)];

export const wgKernelCreate = (name: string): string[] => ['ip', 'link', 'add', name, 'type', 'wireguard'];
/** wireguard-go refuses to run on a kernel it believes has the module unless told this. */
export const wgGoCreate = (name: string): string[] => ['env', 'WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1', 'wireguard-go', name];

/** The argv of the WireGuard ops (create shown with the kernel's form; the driver falls back to wireguard-go). */
export function wireguardCommands(op: Op, impl: WgImpl = 'kernel'): string[][] | null {
  switch (op.op) {
    case 'create_wireguard':
      return [impl === 'kernel' ? wgKernelCreate(op.name) : wgGoCreate(op.name), link(op.name, 'alias', op.alias), link(op.name, 'mtu', op.mtu)];
    case 'set_wireguard':
      return [['wg', 'set', op.name, 'listen-port', String(op.port), 'private-key', op.keyFile]];
    case 'wireguard_peer':
      return [
        [
          'wg', 'set', op.name,
          ...(op.replaces ? ['peer', op.replaces, 'remove'] : []),
          'peer', op.key, 'endpoint', op.endpoint, 'allowed-ips', op.allowedIps.join(','),
        ],
      ];
    case 'wireguard_peer_remove':
      return [['wg', 'set', op.name, 'peer', op.key, 'remove']];
    default:
      return null;
  }
}

/** Which implementation runs the link now (null: there is no link). */
export async function wgImplOf(exec: Executor, name: string): Promise<WgImpl | null> {
  const r = await exec.run(['ip', '-json', '-details', 'link', 'show', 'dev', name]);
  if (r.code !== 0) return null;
  const [l] = JSON.parse(r.stdout) as { linkinfo?: { info_kind?: string } }[];
  return l?.linkinfo?.info_kind === 'wireguard' ? 'kernel' : 'wireguard-go';
}

async function untilAnswers(exec: Executor, name: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    if ((await exec.run(['wg', 'show', name, 'listen-port'])).code === 0) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`wireguard-go started for ${name} but did not answer within 3 s`);
}

/** Run WireGuard ops in order; iproute2 ops among them run as they are. */
export async function applyWireguard(exec: Executor, ops: readonly Op[], ipCommands: (op: Op) => string[][]): Promise<void> {
  for (const op of ops) {
    if (op.op === 'create_wireguard') {
      const kernel = await exec.run(wgKernelCreate(op.name));
      if (kernel.code !== 0) {
        // No kernel module here (lab-facts.md): the userspace implementation, which makes the tun device itself.
        const go = await exec.run(wgGoCreate(op.name));
        if (go.code !== 0) {
          const why = (go.code === 127 || /not found|No such file/.test(go.stderr) ? 'wireguard-go is not installed' : go.stderr.trim().split('\n').pop()) ?? '';
          throw new CommandError(wgGoCreate(op.name), { ...go, stderr: `the kernel has no wireguard (${kernel.stderr.trim()}) and ${why}` });
        }
        // wireguard-go's daemon sets its own MTU when it starts, after the command returns: wait
        // until it answers on its socket, so the MTU set next is the one that stays.
        await untilAnswers(exec, op.name);
      }
      for (const argv of (wireguardCommands(op) ?? []).slice(1)) await runChecked(exec, argv);
      continue;
    }
    for (const argv of wireguardCommands(op) ?? ipCommands(op)) await runChecked(exec, argv);
  }
}
