/**
 * The API's routes: each names the catalog operation it runs and where that
 * operation's arguments come from (the path, the JSON body, fixed values).
 * The server and the OpenAPI document are both made from this table.
 */
export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface Route {
  readonly method: Method;
  /** Hono path syntax: /vpcs/:name */
  readonly path: string;
  /** The catalog operation, or a name of the server's own (host, operation, events, openapi). */
  readonly op: string;
  readonly summary: string;
  /** Path parameter -> the operation argument it fills. */
  readonly params?: Readonly<Record<string, string>>;
  /** Arguments fixed by the route (jls cluster=1). */
  readonly fixed?: Readonly<Record<string, unknown>>;
  /** Runs as a background operation: 202 and an operation to follow. */
  readonly long?: boolean;
  /** Takes a JSON body with the operation's other arguments. */
  readonly body?: boolean;
  /** HTTP status of a success (default 200). */
  readonly status?: 200 | 201 | 202;
}

export const API_PREFIX = '/api/v1';

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/host', op: 'host', summary: "This host: its name, addresses, platform and meshvpc's version" },
  { method: 'GET', path: '/nodes', op: 'node.list', summary: 'The known peers' },
  { method: 'GET', path: '/nodes/:name', op: 'node.show', summary: 'One peer: addresses, SSH endpoint, host key, its VPCs, and whether it answers now (version, containers)', params: { name: 'node' } },
  { method: 'PATCH', path: '/nodes/:name', op: 'node.update', summary: "A peer's address or SSH port changed (node mode=update): checked with the peer, stored, its VPCs re-applied on every member", params: { name: 'node' }, body: true, long: true, status: 202 },
  { method: 'GET', path: '/vpcs', op: 'vpc.list', summary: 'The VPCs this host knows' },
  { method: 'POST', path: '/vpcs', op: 'vpc.init', summary: 'Define a VPC (vpc mode=init)', body: true, status: 201 },
  { method: 'GET', path: '/vpcs/:name', op: 'vpc.show', summary: "A VPC's definition, peer map and this host's layers", params: { name: 'vpc_name' } },
  { method: 'PATCH', path: '/vpcs/:name', op: 'vpc.set', summary: "Change the VPC's quotas, guest network or encryption here and on every member (vpc mode=set)", params: { name: 'vpc_name' }, body: true, long: true, status: 202 },
  { method: 'DELETE', path: '/vpcs/:name', op: 'vpc.destroy', summary: 'Collapse and forget the VPC on every member', params: { name: 'vpc_name' }, body: true, long: true, status: 202 },
  { method: 'GET', path: '/vpcs/:name/status', op: 'vpc.status', summary: 'Per host and tunnel: present, up, MTU, isolation, RTT, traffic (cached: refreshed in the background once older than 5 s, never served older than 15 s)', params: { name: 'vpc_name' } },
  { method: 'POST', path: '/vpcs/:name/deploy', op: 'vpc.deploy', summary: 'Deploy the VPC on every member', params: { name: 'vpc_name' }, body: true, long: true, status: 202 },
  { method: 'POST', path: '/vpcs/:name/join', op: 'vpc.join', summary: 'Add known nodes to the VPC', params: { name: 'vpc_name' }, body: true, long: true, status: 202 },
  { method: 'POST', path: '/vpcs/:name/leave', op: 'vpc.leave', summary: 'Take members out of the VPC', params: { name: 'vpc_name' }, body: true, long: true, status: 202 },
  { method: 'POST', path: '/vpcs/:name/collapse', op: 'vpc.collapse', summary: "Remove the VPC's network on every member; keep its definition", params: { name: 'vpc_name' }, body: true, long: true, status: 202 },
  { method: 'POST', path: '/host/rotate-keys', op: 'vpc.rotate_keys', summary: "Give this host a new WireGuard key and take it into use on every peer of its encrypted VPCs, losing no packets (vpc mode=rotate_keys)", body: true, long: true, status: 202 },
  { method: 'GET', path: '/operations/:id', op: 'operation', summary: 'A long operation: status (running, success, failure), its events and result' },
  { method: 'GET', path: '/containers', op: 'jls', summary: 'Every container of the cluster', fixed: { cluster: true } },
  { method: 'POST', path: '/containers', op: 'jcreate', summary: 'Create a container on this host', body: true, status: 201 },
  { method: 'POST', path: '/containers/:name/start', op: 'jstart', summary: 'Start a container of this host', params: { name: 'jname' } },
  { method: 'POST', path: '/containers/:name/stop', op: 'jstop', summary: 'Stop a container of this host', params: { name: 'jname' } },
  { method: 'DELETE', path: '/containers/:name', op: 'jremove', summary: 'Stop and delete a container of this host', params: { name: 'jname' } },
  { method: 'GET', path: '/vms', op: 'bls', summary: "This host's VMs: state, VPC, address, MAC, RAM, CPUs, pid" },
  { method: 'POST', path: '/vms', op: 'bcreate', summary: 'Create a VM on this host (counted and addressed cluster-wide when the VPC has a quota or guest network)', body: true, status: 201 },
  { method: 'POST', path: '/vms/:name/start', op: 'bstart', summary: 'Start a VM of this host', params: { name: 'jname' } },
  { method: 'POST', path: '/vms/:name/stop', op: 'bstop', summary: 'Stop a VM of this host', params: { name: 'jname' } },
  { method: 'GET', path: '/vms/:name/console', op: 'bconsole', summary: "A VM's serial console log", params: { name: 'jname' } },
  { method: 'DELETE', path: '/vms/:name', op: 'bremove', summary: 'Stop and delete a VM of this host', params: { name: 'jname' } },
  { method: 'GET', path: '/events', op: 'events', summary: 'Server-Sent Events: operation progress and tunnel health changes' },
  { method: 'GET', path: '/openapi.json', op: 'openapi', summary: 'This document' },
];
