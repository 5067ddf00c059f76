/**
 * The TUI's screens (`meshvpc tui`): menus over the same operations the CLI
 * runs, with the CLI's arguments and therefore its checks and its one-line
 * refusals. A refused form comes back with what was typed. Escape or Cancel
 * always goes back one screen. Only the Ui and Ops interfaces are used, so
 * every screen runs against a scripted fake in the unit tests.
 */
import type { Ui } from './ui.js';
import type { OperationEvent } from '../../app/operations.js';
import { operation } from '../../app/catalog.js';
import { renderTable, type Record_ } from '../cli/output.js';
import { applyEvent, newOp, type OpView } from '../../console/ops.js';

/** The application layer as the screens use it: an operation by catalog id, arguments as the CLI writes them. */
export interface Ops {
  run(id: string, args: Readonly<Record<string, string>>, opts?: { events?: (e: OperationEvent) => void; password?: string }): Promise<unknown>;
  readonly self: string;
}

const errorOf = (e: unknown): string => (e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e));

/** A listing as the CLI prints it, with the operation's default columns. */
function table(id: string, rows: readonly object[]): string {
  const op = operation(id);
  return rows.length === 0 ? '(none)' : renderTable(rows as Record_[], op.defaultColumns ?? op.columns ?? [], true);
}

export class Screens {
  constructor(
    private readonly ui: Ui,
    private readonly ops: Ops,
  ) {}

  /** Run an operation; a refusal is shown in its own words and reported as `null`. */
  private async attempt(title: string, fn: () => Promise<unknown>): Promise<unknown> {
    try {
      return await fn();
    } catch (e) {
      await this.ui.message(title, `Refused: ${errorOf(e)}`);
      return null;
    }
  }

  async main(): Promise<void> {
    for (;;) {
      const pick = await this.ui.menu(`meshvpc on ${this.ops.self}`, 'Choose what to work on (Esc quits):', [
        ['nodes', 'Nodes: the hosts of the cluster'],
        ['vpcs', 'VPCs: private networks across hosts'],
        ['containers', 'Containers on a VPC'],
        ['vms', 'VMs on a VPC'],
        ['quit', 'Quit'],
      ]);
      if (pick === null || pick === 'quit') return;
      if (pick === 'nodes') await this.nodes();
      if (pick === 'vpcs') await this.vpcs();
      if (pick === 'containers') await this.containers();
      if (pick === 'vms') await this.vms();
    }
  }

  private async names(id: string, key: string, args: Record<string, string> = {}): Promise<string[]> {
    const rows = (await this.ops.run(id, args).catch(() => [])) as Record<string, unknown>[] | { containers?: Record<string, unknown>[] };
    const list = Array.isArray(rows) ? rows : (rows.containers ?? []);
    return list.map((r) => String(r[key]));
  }

  /** Pick one of `names` (Esc: null); an empty list is said, not shown. */
  private async choose(title: string, what: string, names: readonly string[]): Promise<string | null> {
    if (names.length === 0) {
      await this.ui.message(title, `No ${what} here yet.`);
      return null;
    }
    return this.ui.menu(title, `Choose the ${what.replace(/s$/, '')}:`, names.map((n) => [n, ''] as const));
  }

  // Nodes

  private async nodes(): Promise<void> {
    for (;;) {
      const pick = await this.ui.menu('Nodes', 'Hosts this one knows:', [
        ['list', 'List the known nodes'],
        ['add', 'Add a node (first contact by password)'],
        ['remove', 'Remove a node from every VPC and forget it'],
      ]);
      if (pick === null) return;
      if (pick === 'list') await this.ui.text('Nodes', table('node.list', (await this.attempt('Nodes', () => this.ops.run('node.list', {}))) as object[] ?? []));
      if (pick === 'add') await this.addNode();
      if (pick === 'remove') {
        const name = await this.choose('Remove a node', 'nodes', await this.names('node.list', 'name'));
        if (name === null || !(await this.ui.yesno('Remove a node', `Take ${name} out of every VPC it is in and forget it on both sides?`))) continue;
        const done = await this.attempt('Remove a node', () => this.ops.run('node.remove', { node: name }));
        if (done !== null) await this.ui.message('Remove a node', `${name}: removed`);
      }
    }
  }

  private async addNode(): Promise<void> {
    let values = ['', '22', 'root'];
    for (;;) {
      const got = await this.ui.form('Add a node', 'Its SSH address; its root password is asked next.', [
        { label: 'Address', value: values[0] ?? '' },
        { label: 'SSH port', value: values[1] ?? '22' },
        { label: 'User', value: values[2] ?? 'root' },
      ]);
      if (got === null) return;
      values = got;
      const password = await this.ui.password('Add a node', `Password of ${got[2]}@${got[0]} (used once, never stored):`);
      if (password === null) continue;
      const r = (await this.attempt('Add a node', () => this.ops.run('node.add', { node: got[0] ?? '', port: got[1] ?? '', user: got[2] ?? '' }, { password }))) as { name?: string } | null;
      if (r !== null) {
        await this.ui.message('Add a node', `${r.name ?? got[0]}: added`);
        return;
      }
    }
  }

  // VPCs

  private async vpcs(): Promise<void> {
    for (;;) {
      const pick = await this.ui.menu('VPCs', 'Private networks across hosts:', [
        ['list', 'List the VPCs'],
        ['create', 'Create a VPC (name, members, peer network)'],
        ['deploy', 'Deploy a VPC on every member'],
        ['status', "A VPC's tunnels on every member"],
        ['collapse', "Take a VPC's network down everywhere (keep it)"],
        ['destroy', 'Destroy a VPC everywhere'],
      ]);
      if (pick === null) return;
      if (pick === 'list') await this.ui.text('VPCs', table('vpc.list', ((await this.attempt('VPCs', () => this.ops.run('vpc.list', {}))) as object[]) ?? []));
      if (pick === 'create') await this.createVpc();
      if (pick === 'deploy' || pick === 'collapse' || pick === 'destroy') await this.converge(pick);
      if (pick === 'status') {
        const vpc = await this.choose('Status', 'VPCs', await this.names('vpc.list', 'name'));
        if (vpc === null) continue;
        const r = (await this.attempt('Status', () => this.ops.run('vpc.status', { vpc_name: vpc }))) as { hosts: { node: string; ok: boolean; error: string | null; tunnels: object[] }[] } | null;
        if (r === null) continue;
        const rows = r.hosts.flatMap((h): object[] => (h.ok ? h.tunnels : [{ node: h.node, tunnel: `ERROR: ${h.error ?? ''}` }]));
        await this.ui.text(`Status of ${vpc}`, table('vpc.status', rows));
      }
    }
  }

  private async createVpc(): Promise<void> {
    let values = ['', ''];
    const nodes = await this.names('node.list', 'name');
    let chosen = [this.ops.self, ...nodes];
    for (;;) {
      const got = await this.ui.form('Create a VPC', 'Name (lowercase, also the bridge name) and the network for the tunnel ends:', [
        { label: 'Name', value: values[0] ?? '' },
        { label: 'Peer network', value: values[1] ?? '' },
      ]);
      if (got === null) return;
      values = got;
      const members = await this.ui.checklist('Members', 'Hosts in the VPC (this one must be):', [this.ops.self, ...nodes].map((n) => [n, n === this.ops.self ? 'this host' : '', chosen.includes(n)] as const));
      if (members === null) continue;
      chosen = members;
      const r = await this.attempt('Create a VPC', () => this.ops.run('vpc.init', { vpc_name: got[0] ?? '', peer_network: got[1] ?? '', node_member: members.join(',') }));
      if (r !== null) {
        await this.ui.message('Create a VPC', `${got[0]}: defined with members ${members.join(', ')}. Deploy it from the VPCs menu.`);
        return;
      }
    }
  }

  /** deploy, collapse, destroy: a gauge with one line per host while it runs, then the outcome. */
  private async converge(mode: 'deploy' | 'collapse' | 'destroy'): Promise<void> {
    const vpc = await this.choose(mode[0]?.toUpperCase() + mode.slice(1), 'VPCs', await this.names('vpc.list', 'name'));
    if (vpc === null) return;
    if (mode !== 'deploy' && !(await this.ui.yesno(mode, `${mode === 'destroy' ? 'Destroy' : 'Collapse'} ${vpc} on every member?`))) return;
    const title = `${mode} ${vpc}`;
    const gauge = this.ui.gauge(title, 'starting...');
    let view: OpView = newOp('tui', `vpc.${mode}`, vpc);
    const draw = (): void => {
      const total = Math.max(view.hosts.length, 1);
      const finished = view.hosts.filter((h) => h.state !== 'waiting').length;
      gauge.update((100 * finished) / total, view.hosts.map((h) => `${h.state === 'failed' ? '!' : h.state === 'ok' ? '+' : ' '} ${h.host}: ${h.text}`).join('\n') || 'checking the members...');
    };
    let result: unknown = null;
    let refusal: string | null = null;
    try {
      result = await this.ops.run(`vpc.${mode}`, { vpc_name: vpc }, {
        events: (e) => {
          view = applyEvent(view, e);
          draw();
        },
      });
    } catch (e) {
      refusal = errorOf(e);
    } finally {
      await gauge.close();
    }
    const lines = view.hosts.map((h) => `${h.host}: ${h.text}`);
    const ok = refusal === null && (result as { ok?: boolean } | null)?.ok !== false;
    await this.ui.message(title, [refusal === null ? `${vpc}: ${mode} ${ok ? 'done' : 'did not reach every host'}` : `Refused: ${refusal}`, ...lines].join('\n'));
  }

  // Containers

  private async containers(): Promise<void> {
    for (;;) {
      const pick = await this.ui.menu('Containers', 'Containers on a VPC:', [
        ['list', "Every host's containers"],
        ['create', 'Create a container on this host'],
        ['start', 'Start a container'],
        ['stop', 'Stop a container'],
        ['remove', 'Remove a container'],
      ]);
      if (pick === null) return;
      if (pick === 'list') {
        const r = (await this.attempt('Containers', () => this.ops.run('jls', { cluster: '1' }))) as { containers: object[]; unreachable: { node: string; error: string }[] } | null;
        if (r) await this.ui.text('Containers (every host)', [table('jls', r.containers), ...r.unreachable.map((u) => `${u.node}: ${u.error}`)].join('\n'));
      }
      if (pick === 'create') await this.createContainer();
      if (pick === 'start' || pick === 'stop' || pick === 'remove') {
        const name = await this.choose(`${pick} a container`, 'containers', await this.names('jls', 'jname'));
        if (name === null) continue;
        const r = await this.attempt(`${pick} a container`, () => this.ops.run(`j${pick}`, { jname: name }));
        if (r !== null) await this.ui.message(`${pick} a container`, `${name}: ${pick === 'stop' ? 'stopped' : pick === 'start' ? 'started' : 'removed'}`);
      }
    }
  }

  private async createContainer(): Promise<void> {
    const vpcs = await this.names('vpc.list', 'name');
    if (vpcs.length === 0) {
      await this.ui.message('Create a container', 'No VPC here yet: create one in VPCs first.');
      return;
    }
    let values = ['', '0'];
    let vnet = 'on';
    let iface = vpcs[0] as string;
    for (;;) {
      const got = await this.ui.form('Create a container', 'ip4_addr: A/N, auto (from the guest network) or 0 (none).', [
        { label: 'jname', value: values[0] ?? '' },
        { label: 'ip4_addr', value: values[1] ?? '0' },
      ]);
      if (got === null) return;
      values = got;
      const v = await this.ui.radiolist('vnet', 'Its own network stack (containers on a VPC need it):', [
        ['on', 'vnet=1', vnet === 'on'],
        ['off', 'vnet=0', vnet === 'off'],
      ]);
      if (v === null) continue;
      vnet = v;
      const i = await this.ui.radiolist('interface', "The VPC its eth0 joins (this host's VPCs):", vpcs.map((n) => [n, '', n === iface] as const));
      if (i === null) continue;
      iface = i;
      const r = (await this.attempt('Create a container', () =>
        this.ops.run('jcreate', { jname: got[0] ?? '', ip4_addr: got[1] ?? '', vnet: vnet === 'on' ? '1' : '0', interface: iface, runasap: '1' }),
      )) as { jname: string; addresses: string[] } | null;
      if (r !== null) {
        await this.ui.message('Create a container', `${r.jname}: created on ${this.ops.self} and started, interface ${iface}${r.addresses.length > 0 ? `, eth0 ${r.addresses.join(', ')}` : ''}`);
        return;
      }
    }
  }

  // VMs

  private async vms(): Promise<void> {
    for (;;) {
      const pick = await this.ui.menu('VMs', "This host's VMs:", [
        ['list', 'List the VMs'],
        ['create', 'Create a VM on this host'],
        ['start', 'Start a VM'],
        ['stop', 'Stop a VM'],
        ['console', "A VM's console log"],
        ['remove', 'Remove a VM'],
      ]);
      if (pick === null) return;
      if (pick === 'list') await this.ui.text('VMs', table('bls', ((await this.attempt('VMs', () => this.ops.run('bls', {}))) as object[]) ?? []));
      if (pick === 'create') await this.createVm();
      if (pick === 'start' || pick === 'stop' || pick === 'remove' || pick === 'console') {
        const name = await this.choose(`${pick} a VM`, 'VMs', await this.names('bls', 'jname'));
        if (name === null) continue;
        if (pick === 'console') {
          const r = (await this.attempt('Console', () => this.ops.run('bconsole', { jname: name, lines: '200' }))) as { text: string } | null;
          if (r) await this.ui.text(`Console of ${name}`, r.text);
          continue;
        }
        const r = await this.attempt(`${pick} a VM`, () => this.ops.run(`b${pick}`, { jname: name }));
        if (r !== null) await this.ui.message(`${pick} a VM`, `${name}: ${pick === 'stop' ? 'stopped' : pick === 'start' ? 'started' : 'removed'}`);
      }
    }
  }

  private async createVm(): Promise<void> {
    const vpcs = await this.names('vpc.list', 'name');
    if (vpcs.length === 0) {
      await this.ui.message('Create a VM', 'No VPC here yet: create one in VPCs first.');
      return;
    }
    let values = ['', '256m', '1', 'auto'];
    let iface = vpcs[0] as string;
    for (;;) {
      const got = await this.ui.form('Create a VM', 'The default guest boots unless you give vm_kernel=/vm_disk= on the CLI.', [
        { label: 'jname', value: values[0] ?? '' },
        { label: 'vm_ram', value: values[1] ?? '256m' },
        { label: 'vm_cpus', value: values[2] ?? '1' },
        { label: 'ip4_addr', value: values[3] ?? 'auto' },
      ]);
      if (got === null) return;
      values = got;
      const i = await this.ui.radiolist('interface', "The VPC its NIC joins (this host's VPCs):", vpcs.map((n) => [n, '', n === iface] as const));
      if (i === null) continue;
      iface = i;
      const r = (await this.attempt('Create a VM', () =>
        this.ops.run('bcreate', { jname: got[0] ?? '', vm_ram: got[1] ?? '', vm_cpus: got[2] ?? '', ip4_addr: got[3] ?? '', interface: iface, runasap: '1' }),
      )) as { jname: string; addresses: string[]; accel: string } | null;
      if (r !== null) {
        await this.ui.message('Create a VM', `${r.jname}: created and started (${r.accel}), interface ${iface}${r.addresses.length > 0 ? `, ${r.addresses.join(', ')}` : ''}`);
        return;
      }
    }
  }
}
