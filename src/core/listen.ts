/** listen=ADDR:PORT or [V6ADDR]:PORT: where the server takes connections. */
import { shown, UserError } from './errors.js';
import { isIPv4, isIPv6, port as portOf } from './validate.js';

export interface Listen {
  readonly address: string;
  readonly port: number;
  /** As it is written back (brackets around IPv6). */
  readonly text: string;
}

export function parseListen(value: string, key: string): Listen {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(value) ?? /^([0-9.]+):(\d{1,5})$/.exec(value);
  const bad = (): UserError => new UserError(`invalid ${key} ${shown(value)}: use ADDR:PORT (e.g. 127.0.0.1:8089) or [V6ADDR]:PORT (e.g. [::1]:8089)`);
  if (!m) throw bad();
  const address = m[1] as string;
  const v6 = value.startsWith('[');
  if (v6 ? !isIPv6(address) : !isIPv4(address)) throw bad();
  const port = portOf(m[2] as string, key);
  return { address, port, text: v6 ? `[${address}]:${port}` : `${address}:${port}` };
}
