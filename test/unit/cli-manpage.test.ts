/**
 * The manual page and the help are made from one source: every command,
 * mode and argument of the catalog is in both, as are the exit statuses and
 * every MESHVPC_ variable the code reads. The roff is escaped, and man(1)
 * renders the built page without a warning.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { escape, manPage, textLines } from '../../src/adapters/cli/manpage.js';
import { COMMANDS, commandHelp, generalHelp } from '../../src/adapters/cli/help.js';
import { EXIT_MEANINGS, EXIT_STATUS } from '../../src/adapters/cli/exit-status.js';
import { OPERATIONS } from '../../src/app/catalog.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PAGE = manPage();

/** The page's text with roff's escapes for "-" and "\" undone, as a reader sees it. */
const plain = PAGE.replace(/\\-/g, '-').replace(/\\e/g, '\\').replace(/\\f[BIR]/g, '');

/** The .SS section of the page for one command. */
function section(command: string): string {
  const start = plain.indexOf(`\n.SS ${command}\n`);
  assert.ok(start >= 0, `no section for ${command}`);
  const end = plain.indexOf('\n.S', start + 1);
  return plain.slice(start, end);
}

describe('man page', () => {
  test('every catalog operation, with each of its arguments, is in the man page and in meshvpc help', () => {
    const general = generalHelp();
    for (const op of OPERATIONS) {
      const page = section(op.command);
      const help = commandHelp(op.command);
      assert.match(general, new RegExp(`^  ${op.command} `, 'm'), op.id);
      if (op.mode !== undefined) {
        assert.ok(page.includes(`\nmode=${op.mode}\n`), `man: ${op.id}`);
        assert.ok(help.includes(`mode=${op.mode}`), `help: ${op.id}`);
      }
      for (const a of op.args) {
        assert.ok(page.includes(`${a.name}=`), `man: ${op.id} ${a.name}=`);
        assert.ok(help.includes(`${a.name}=`), `help: ${op.id} ${a.name}=`);
      }
    }
  });

  test("every command of help has a section, with help's usage", () => {
    for (const [name, doc] of Object.entries(COMMANDS)) assert.ok(section(name).includes(doc.usage), name);
  });

  test('the exit statuses: every status the CLI returns is explained, in the page and in help', () => {
    const codes = EXIT_MEANINGS.map((e) => e.code);
    for (const code of Object.values(EXIT_STATUS)) assert.ok(codes.includes(code), `exit status ${code}`);
    const exit = plain.slice(plain.indexOf('.SH EXIT STATUS'), plain.indexOf('.SH ENVIRONMENT'));
    for (const e of EXIT_MEANINGS) {
      assert.ok(exit.includes(`.TP\n${e.code}\n`), `man: ${e.code}`);
      assert.ok(generalHelp().replace(/\n/g, ' ').includes(`${e.code} ${e.meaning}`), `help: ${e.code}`);
    }
  });

  test('every MESHVPC_ variable the code reads is in ENVIRONMENT', () => {
    const env = plain.slice(plain.indexOf('.SH ENVIRONMENT'), plain.indexOf('.SH FILES'));
    const read = new Set<string>();
    const walk = (dir: string): void => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/process\.env\.(MESHVPC_[A-Z0-9_]+)/g)) read.add(m[1] as string);
      }
    };
    walk(join(ROOT, 'src'));
    assert.ok(read.has('MESHVPC_HOME'));
    for (const name of read) assert.ok(env.includes(`.TP\n${name}\n`), name);
  });

  test('the files under MESHVPC_HOME and the examples of the article', () => {
    for (const f of ['meshvpc.sqlite', 'id_ed25519', 'vm/NAME/console.log', '/var/lib/meshvpc/guest']) assert.ok(plain.includes(f), f);
    const examples = plain.slice(plain.indexOf('.SH EXAMPLES'), plain.indexOf('.SH SEE ALSO'));
    for (const c of ['node mode=add', 'vpc mode=init ', 'mode=init_peers', 'mode=sync', 'mode=init_vxlan', 'mode=init_bridge', 'mode=deploy', 'jcreate', 'bcreate']) assert.ok(examples.includes(c), c);
  });

  test('roff escapes: a backslash prints as one, a leading dot or quote is text, not a request', () => {
    assert.equal(escape('a\\b'), 'a\\eb');
    assert.equal(escape('--json'), '\\-\\-json');
    assert.equal(escape('3\u00d74'), '3\\[u00D7]4');
    // No line of the page is an accidental request: each . line is a macro the page means.
    const meant = ['.BR', '.EE', '.EX', '.IP', '.PP', '.RE', '.RS', '.SH', '.SS', '.TH', '.TP', '.\\"', '.ad', '.br', '.nh', '.nr'];
    for (const l of PAGE.split('\n')) if (/^[.']/.test(l)) assert.ok(meant.includes(l.split(' ')[0] as string), l);
    // Text that starts with a dot stays text.
    assert.deepEqual(textLines('.hidden\n  \'quoted\n\\x'), ['\\&.hidden', "\\&'quoted", '\\ex']);
  });

  const man = spawnSync('man', ['--version']).status === 0;
  const built = join(ROOT, 'dist/man/meshvpc.8');
  test('man renders the built page without warnings', { skip: !man ? 'man is not installed (scripts/install-deps.sh installs man-db)' : !existsSync(built) ? 'dist/man/meshvpc.8 is not built (npm run build)' : false }, () => {
    assert.equal(readFileSync(built, 'utf8'), PAGE, 'dist/man/meshvpc.8 is not the page this build makes (npm run build)');
    const r = spawnSync('sh', ['-c', `MANWIDTH=80 man --warnings -l '${built}' 2>&1 >/dev/null`], { encoding: 'utf8' });
    assert.equal(r.stdout, '');
    const all = spawnSync('sh', ['-c', `MANWIDTH=80 man --warnings=w -l '${built}' 2>&1 >/dev/null`], { encoding: 'utf8' });
    assert.equal(all.stdout, '', 'with every groff warning');
    const text = spawnSync('man', ['-l', built], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80' } }).stdout;
    assert.match(text, /^MESHVPC\(8\)/);
    assert.match(text, /\n {7}--json \| json=1\n/);
  });
});

