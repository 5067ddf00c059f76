/** `wg` (wireguard-tools) is the same on Linux and FreeBSD: its dump is read here for both. */
import type { ObservedSeal, ObservedSealPeer } from '../core/seal.js';

/** `wg show NAME dump`: the interface line (private key, public key, port, fwmark), then one line per peer. */
export function parseWgDump(text: string): ObservedSeal | null {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const head = lines[0]?.split('\t');
  if (!head || head.length < 3) return null;
  const peers = lines.slice(1).flatMap((l): ObservedSealPeer[] => {
    const f = l.split('\t');
    if (f.length < 8) return [];
    return [
      {
        key: f[0] as string,
        endpoint: f[2] === '(none)' ? null : (f[2] as string),
        allowedIps: f[3] === '(none)' ? [] : (f[3] as string).split(','),
        handshake: Number(f[4]) || 0,
        rxBytes: Number(f[5]) || 0,
        txBytes: Number(f[6]) || 0,
      },
    ];
  });
  return { publicKey: head[1] === '(none)' ? null : (head[1] ?? null), port: Number(head[2]) || 0, peers };
}
