/**
 * Libraries loaded on first use. `meshvpc help`, `jls` or a remote `hello`
 * never parse an address or open an SSH connection, and Node's start-up time
 * is most of a CLI's latency: ipaddr.js and ssh2 (the heaviest import) are
 * required only when a function needs them. Both are CommonJS, so a
 * synchronous require serves the synchronous validators.
 */
import { createRequire } from 'node:module';

type IpaddrLib = typeof import('ipaddr.js');
type Ssh2Lib = typeof import('ssh2');

const require = createRequire(import.meta.url);
let ipaddrLib: IpaddrLib | undefined;
let ssh2Lib: Ssh2Lib | undefined;

export function ipaddr(): IpaddrLib {
  return (ipaddrLib ??= require('ipaddr.js') as IpaddrLib);
}

export function ssh2(): Ssh2Lib {
  return (ssh2Lib ??= require('ssh2') as Ssh2Lib);
}
