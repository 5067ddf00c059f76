/**
 * `meshvpc tui` (alias `bsdconfig-tui`): the screens on a real terminal,
 * drawn by dialog, over the application layer with the CLI's argument
 * checks. Refused when there is no terminal or no dialog program.
 */
import { UserError } from '../../core/errors.js';
import type { Invocation } from '../cli/args.js';
import { Dialog, findDialog } from './dialog.js';
import { Screens, type Ops } from './screens.js';

export async function run(inv: Invocation): Promise<number> {
  inv.params.only([], 'tui');
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new UserError('meshvpc tui needs a terminal (run it in one, or use the commands: meshvpc help)');
  const program = findDialog();
  if (program === null) throw new UserError('meshvpc tui draws its menus with dialog: apt-get install dialog (FreeBSD: bsddialog is in base)');
  const [{ operation, parseInput }, { runOperation }, { openHost }] = await Promise.all([import('../../app/catalog.js'), import('../../app/operations.js'), import('../../app/host.js')]);
  const probe = await openHost(undefined, 'read', false);
  const self = probe.self.nodename;
  probe.db.close();
  const ops: Ops = {
    self,
    run: (id, args, opts = {}) => {
      const input = parseInput(operation(id), new Map(Object.entries(args)));
      return runOperation(id, input, { events: opts.events ?? (() => undefined), password: async () => opts.password ?? null });
    },
  };
  await new Screens(new Dialog(program, `meshvpc on ${self}`), ops).main();
  // dialog leaves the screen as it was drawn: clear it on the way out.
  process.stdout.write('\x1b[2J\x1b[H');
  return 0;
}
