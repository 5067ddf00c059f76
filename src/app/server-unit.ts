/** `meshvpc server mode=install`: the systemd unit that runs the server. */
import { existsSync } from 'node:fs';
import { runChecked, systemExecutor } from '../platform/exec.js';
import { BOOT_FILE_MARK, writeOwnFile, type InitRcResult } from './init-rc.js';

export const SERVER_UNIT = 'meshvpc-server.service';

export interface ServerArgs {
  readonly listen: string;
  readonly cert: string | null;
  readonly key: string | null;
}

/** Every value here was checked (listen) or is a path the unit passes on as one argument. */
export function serverUnit(a: ServerArgs): string {
  const quote = (s: string): string => (/^[A-Za-z0-9_./:=@%+,[\]-]+$/.test(s) ? s : `"${s.replace(/(["\\$%])/g, '\\$1')}"`);
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
  const path = `/etc/systemd/system/${SERVER_UNIT}`;
  const content = serverUnit(a);
  const enable = [['systemctl', 'daemon-reload'], ['systemctl', 'enable', '--now', SERVER_UNIT]];
  if (dryrun) return { path, content, enable: enable.slice(1), dryrun, enabled: false };
  writeOwnFile(path, content, 0o644);
  if (!existsSync('/run/systemd/system')) return { path, content, enable: enable.slice(1), dryrun, enabled: false };
  for (const argv of enable) await runChecked(systemExecutor, argv);
  return { path, content, enable, dryrun, enabled: true };
}
