/** `meshvpc server mode=install`: the systemd unit that runs the server. */
import { shown, UserError } from '../core/errors.js';
import { BOOT_FILE_MARK, type InitRcResult } from './init-rc.js';

export const SERVER_UNIT = 'meshvpc-server.service';

export interface ServerArgs {
  readonly listen: string;
  readonly cert: string | null;
  readonly key: string | null;
}

/**
 * One argument of ExecStart=, as systemd reads it: specifiers (%) and
 * variables ($) doubled, quotes and backslashes escaped, and no control
 * character at all (a newline would start a directive of its own).
 */
export function unitArg(value: string): string {
  if ([...value].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) throw new UserError(`invalid argument ${shown(value)} for the unit: control characters are not allowed`);
  if (/^[A-Za-z0-9_./:=@+,[\]-]+$/.test(value)) return value;
  return `"${value.replace(/[\\"]/g, '\\$&').replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`;
}

/** Every value here was checked (listen) or is an absolute path the unit passes on as one argument. */
export function serverUnit(a: ServerArgs): string {
  const quote = unitArg;
  const args = [`listen=${a.listen}`, ...(a.cert ? [`cert=${a.cert}`] : []), ...(a.key ? [`key=${a.key}`] : [])].map(quote).join(' ');
  return `# ${BOOT_FILE_MARK}; \`meshvpc server mode=install\` rewrites it.
[Unit]
Description=meshvpc HTTP API and web console
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/env meshvpc server ${args}
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
`;
}

export async function installServerUnit(a: ServerArgs, dryrun: boolean): Promise<InitRcResult> {
  const { installUnit } = await import('./etcd-unit.js');
  return installUnit(SERVER_UNIT, serverUnit(a), dryrun, '/etc/systemd/system');
}
