/** `meshvpc etcd mode=install`: the systemd unit that runs this host's etcd member. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runChecked, systemExecutor } from '../platform/exec.js';
import { BOOT_FILE_MARK, writeOwnFile, type InitRcResult } from './init-rc.js';
import { unitArg } from './server-unit.js';

export const ETCD_UNIT = 'meshvpc-etcd.service';

/** The unit; `home` is the MESHVPC_HOME it runs with (the default needs no Environment= line). */
export function etcdUnit(home: string): string {
  const env = home === '/var/db/meshvpc' ? '' : `Environment=${unitArg(`MESHVPC_HOME=${home}`)}\n`;
  return `# ${BOOT_FILE_MARK}; \`meshvpc etcd mode=install\` rewrites it.
[Unit]
Description=meshvpc etcd member (the cluster's control plane)
Wants=network-online.target
After=network-online.target

[Service]
${env}ExecStart=/usr/bin/env meshvpc etcd mode=run
Restart=on-failure
RestartSec=2
# etcd syncs its WAL on every commit; give it time to stop cleanly.
TimeoutStopSec=30
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

/** Write (and where systemd runs, enable and start) the unit in `dir` (/etc/systemd/system). */
export function installEtcdUnit(home: string, dryrun: boolean, dir = '/etc/systemd/system'): Promise<InitRcResult> {
  return installUnit(ETCD_UNIT, etcdUnit(home), dryrun, dir);
}

/** Write `content` as the unit `name` in `dir`, never over a file meshvpc did not write; enable it where systemd runs. */
export async function installUnit(name: string, content: string, dryrun: boolean, dir: string): Promise<InitRcResult> {
  const path = join(dir, name);
  const enable = [['systemctl', 'daemon-reload'], ['systemctl', 'enable', '--now', name]];
  if (dryrun) return { path, content, enable: enable.slice(1), dryrun, enabled: false };
  writeOwnFile(path, content, 0o644);
  if (!existsSync('/run/systemd/system')) return { path, content, enable: enable.slice(1), dryrun, enabled: false };
  for (const argv of enable) await runChecked(systemExecutor, argv);
  return { path, content, enable, dryrun, enabled: true };
}

export const AGENT_UNIT = 'meshvpc-agent.service';

/** The agent's unit (backend=etcd): after the network and this host's etcd member, if it has one. */
export function agentUnit(home: string): string {
  const env = home === '/var/db/meshvpc' ? '' : `Environment=${unitArg(`MESHVPC_HOME=${home}`)}\n`;
  return `# ${BOOT_FILE_MARK}; \`meshvpc agent mode=install\` rewrites it.
[Unit]
Description=meshvpc agent (applies the cluster's desired state from etcd)
Wants=network-online.target
After=network-online.target ${ETCD_UNIT}

[Service]
${env}ExecStart=/usr/bin/env meshvpc agent mode=run
Restart=always
RestartSec=2
# Stopping the agent never takes the network down: only the agent process stops.
KillMode=process

[Install]
WantedBy=multi-user.target
`;
}

export function installAgentUnit(home: string, dryrun: boolean, dir = '/etc/systemd/system'): Promise<InitRcResult> {
  return installUnit(AGENT_UNIT, agentUnit(home), dryrun, dir);
}
