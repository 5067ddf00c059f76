/**
 * The rc.d script that rebuilds one VPC at boot and takes it down at
 * shutdown (freebsd.md section 5). Pure: the caller writes the file.
 *
 * start re-applies the VPC's saved intent (`vpc mode=apply`), so a host that
 * rebooted converges to what the cluster agreed on, not to a snapshot taken
 * when the script was written. stop (`vpc mode=down`) removes the bridge and
 * the tunnels without changing that intent, so the next boot brings them back.
 */
import { vpcName } from '../../core/validate.js';

export const MESHVPC_BIN = '/usr/local/bin/meshvpc';
export const RC_DIR = '/usr/local/etc/rc.d';

/** rc.d service name; VPC names are shell identifiers (^[a-z][a-z0-9_]{0,14}$), so this one is too. */
export const rcName = (vpc: string): string => `meshvpc_${vpcName(vpc)}`;
export const freebsdRcScriptPath = (vpc: string): string => `${RC_DIR}/${rcName(vpc)}`;

export function freebsdRcScript(vpc: string): string {
  const name = rcName(vpc);
  return `#!/bin/sh
#
# PROVIDE: ${name}
# REQUIRE: NETWORKING
# BEFORE: jail
# KEYWORD: shutdown nojail
#
# VPC ${vpc} of meshvpc: VXLAN tunnels to its peers and the bridge guests
# plug into. Written by meshvpc; enable with:
#   sysrc ${name}_enable=YES

. /etc/rc.subr

name="${name}"
rcvar="${name}_enable"
desc="meshvpc VPC ${vpc}"

load_rc_config $name

: \${${name}_enable:="NO"}

start_cmd="${name}_start"
stop_cmd="${name}_stop"

# rc runs with PATH=/sbin:/bin:/usr/sbin:/usr/bin; meshvpc is a node program
# from /usr/local/bin and node lives there too.
PATH="\${PATH}:/usr/local/sbin:/usr/local/bin"
export PATH

${name}_start()
{
	echo "Starting \${name}."
	# Errors stay on the console: a VPC that did not come up must be seen.
	${MESHVPC_BIN} vpc mode=apply vpc_name=${vpc} > /dev/null
	# astart=1 guests come back once the bridge is there.
	${MESHVPC_BIN} guests mode=start_all vpc_name=${vpc} > /dev/null
}

${name}_stop()
{
	echo "Stopping \${name}."
	# At shutdown nothing can act on a failure; keep the console quiet.
	${MESHVPC_BIN} vpc mode=down vpc_name=${vpc} > /dev/null 2>&1
}

run_rc_command "$1"
`;
}

/**
 * After the caller wrote freebsdRcScript(vpc) to freebsdRcScriptPath(vpc):
 * make it executable (rc.d scripts are 0555) and enable it in rc.conf.
 */
export function freebsdRcInstallCommands(vpc: string): string[][] {
  const name = rcName(vpc);
  return [
    ['chmod', '0555', freebsdRcScriptPath(vpc)],
    ['sysrc', `${name}_enable=YES`],
  ];
}
