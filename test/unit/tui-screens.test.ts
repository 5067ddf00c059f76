/**
 * The TUI's screens against a scripted terminal: what each box is asked
 * and answers, with the operations recorded. A refusal is shown in the
 * operation's words and the form comes back as typed; Escape goes back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Screens, type Ops } from '../../src/adapters/tui/screens.js';
import type { FormField, Gauge, Ui } from '../../src/adapters/tui/ui.js';
import { operation, parseInput } from '../../src/app/catalog.js';

type Answer = string | string[] | boolean | null;

/** A terminal that answers from a script and records every box it was shown. */
class ScriptedUi implements Ui {
  readonly shown: string[] = [];
  readonly forms: FormField[][] = [];
  readonly gauges: string[] = [];
  constructor(private readonly answers: Answer[]) {}
  private next(kind: string, title: string): Answer {
    this.shown.push(`${kind}:${title}`);
    if (this.answers.length === 0) return null;
    return this.answers.shift() as Answer;
  }
  async menu(title: string): Promise<string | null> {
    return this.next('menu', title) as string | null;
  }
  async form(title: string, _text: string, fields: readonly FormField[]): Promise<string[] | null> {
    this.forms.push([...fields]);
    return this.next('form', title) as string[] | null;
  }
  async checklist(title: string): Promise<string[] | null> {
    return this.next('checklist', title) as string[] | null;
  }
  async radiolist(title: string): Promise<string | null> {
    return this.next('radiolist', title) as string | null;
  }
  async input(title: string): Promise<string | null> {
    return this.next('input', title) as string | null;
  }
  async password(title: string): Promise<string | null> {
    return this.next('password', title) as string | null;
  }
  async yesno(title: string): Promise<boolean> {
    return this.next('yesno', title) === true;
  }
  async message(title: string, text: string): Promise<void> {
    this.shown.push(`message:${title}:${text}`);
  }
  async text(title: string, text: string): Promise<void> {
    this.shown.push(`text:${title}:${text}`);
  }
  gauge(title: string): Gauge {
    return { update: (_p, text) => void this.gauges.push(`${title}|${text}`), close: async () => undefined };
  }
}

/** Operations checked with the catalog as the real TUI does, answered from canned results. */
function fakeOps(results: Record<string, unknown>): Ops & { calls: [string, Record<string, string>][] } {
  const calls: [string, Record<string, string>][] = [];
  return {
    self: 'host1',
    calls,
    async run(id, args, opts) {
      calls.push([id, { ...args }]);
      parseInput(operation(id), new Map(Object.entries(args)));
      if (id === 'vpc.deploy') {
        opts?.events?.({ type: 'connected', host: 'host2', version: '0.3.0' });
        opts?.events?.({ type: 'host', outcome: { host: 'host2', role: 'member', dryrun: false, ok: true, changes: 3, error: null, kind: null, seconds: 0.4 } });
      }
      return results[id] ?? [];
    },
  };
}

test('a refused container name shows the CLI\'s words and the form comes back with what was typed', async () => {
  const ui = new ScriptedUi(['containers', 'create', ['a;b', '0'], 'on', 'vpc1', ['web1', '0'], 'on', 'vpc1', null, null]);
  const ops = fakeOps({ 'vpc.list': [{ name: 'vpc1' }], jcreate: { jname: 'web1', addresses: [] } });
  await new Screens(ui, ops).main();
  assert.ok(ui.shown.some((s) => /^message:Create a container:Refused: invalid jname "a;b": use 1-32 letters/.test(s)), ui.shown.join('\n'));
  assert.deepEqual(ui.forms[1]?.map((f) => f.value), ['a;b', '0'], 'the second form shows what was typed');
  assert.deepEqual(ops.calls.filter(([id]) => id === 'jcreate').map(([, a]) => a), [
    { jname: 'a;b', ip4_addr: '0', vnet: '1', interface: 'vpc1', runasap: '1' },
    { jname: 'web1', ip4_addr: '0', vnet: '1', interface: 'vpc1', runasap: '1' },
  ]);
  assert.ok(ui.shown.some((s) => s === 'message:Create a container:web1: created on host1 and started, interface vpc1'));
});

test('vnet off is refused with the catalog\'s words; Escape in a form goes back to the menu', async () => {
  const ui = new ScriptedUi(['containers', 'create', ['j1', '0'], 'off', 'vpc1', null, null, null]);
  const ops = fakeOps({ 'vpc.list': [{ name: 'vpc1' }] });
  await new Screens(ui, ops).main();
  assert.ok(ui.shown.some((s) => s === 'message:Create a container:Refused: vnet=1 is required: containers join a VPC with their own network stack'));
  // After the refusal the form came back, Escape (null) left it, then the containers menu, then the main menu.
  assert.deepEqual(ui.shown.slice(-3), ['form:Create a container', 'menu:Containers', 'menu:meshvpc on host1']);
});

test('a VPC from the form with its members, deployed under the gauge', async () => {
  const ui = new ScriptedUi(['vpcs', 'create', ['vpc1', '198.51.100.0/26'], ['host1', 'host2'], 'deploy', 'vpc1', null, null]);
  const ops = fakeOps({ 'node.list': [{ name: 'host2' }], 'vpc.list': [{ name: 'vpc1' }], 'vpc.deploy': { ok: true } });
  await new Screens(ui, ops).main();
  assert.deepEqual(ops.calls.find(([id]) => id === 'vpc.init')?.[1], { vpc_name: 'vpc1', peer_network: '198.51.100.0/26', node_member: 'host1,host2' });
  assert.ok(ui.gauges.some((g) => /host2: converged, 3 changes/.test(g)), ui.gauges.join('\n'));
  assert.ok(ui.shown.some((s) => s.startsWith('message:deploy vpc1:vpc1: deploy done\nhost2: converged')));
});

test('a bad peer network keeps the form and the member choice', async () => {
  const ui = new ScriptedUi(['vpcs', 'create', ['vpc1', '198.51.100.0/33'], ['host1'], ['vpc1', '198.51.100.0/26'], ['host1'], null, null]);
  const ops = fakeOps({ 'node.list': [{ name: 'host2' }] });
  await new Screens(ui, ops).main();
  assert.ok(ui.shown.some((s) => /^message:Create a VPC:Refused: invalid peer_network "198\.51\.100\.0\/33"/.test(s)));
  assert.deepEqual(ui.forms[1]?.map((f) => f.value), ['vpc1', '198.51.100.0/33']);
});

test('lists are the CLI\'s tables; empty choices are said, not offered', async () => {
  const ui = new ScriptedUi(['vms', 'start', 'list', null, null]);
  const ops = fakeOps({ bls: [] });
  await new Screens(ui, ops).main();
  assert.ok(ui.shown.includes('message:start a VM:No VMs here yet.'));
  assert.ok(ui.shown.includes('text:VMs:(none)'));
});
