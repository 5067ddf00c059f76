/**
 * The web console in a real browser: Debian's chromium, driven by
 * playwright-core, against `meshvpc server` on host 1 of a 3-host lab. The
 * browser runs inside host 1's network namespace (the server listens on its
 * 127.0.0.1); playwright talks to it over a pipe, which crosses namespaces.
 *
 * MESHVPC_CHROMIUM overrides the browser; MESHVPC_CONSOLE_DIR serves the
 * console's files from that directory instead of the server's (to try a
 * console build against an installed server).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { hostOf } from '../../src/lab/lab.js';
import { joinAll, withLab } from './lab-helpers.js';
import { startServer, type LabServer } from './http-helpers.js';

const CHROMIUM = process.env.MESHVPC_CHROMIUM ?? '/usr/bin/chromium';
/** dist/test/e2e -> dist/screenshots */
const SHOTS = fileURLToPath(new URL('../../screenshots/', import.meta.url));
const PEER_NET = '198.51.100.0/26';
const GUEST = '203.0.113.1/24';

/** Poll `check` until it returns true; the failure names what was last seen. */
async function until(what: string, ms: number, check: () => Promise<boolean>, seen: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms / 1000} s; last seen: ${await seen()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A chromium that runs in a lab host's network namespace (and the test's own mount namespace). */
function browserIn(pid: number, dir: string): string {
  const wrapper = join(dir, 'chromium-in-host');
  writeFileSync(wrapper, `#!/bin/sh\nexec nsenter -t ${pid} -n -- ${CHROMIUM} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}

const TYPES: Readonly<Record<string, string>> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/** MESHVPC_CONSOLE_DIR: the page's own files come from there; /api still goes to the server. */
async function serveConsoleFrom(page: Page, dir: string): Promise<void> {
  await page.route(
    (url) => !url.pathname.startsWith('/api/'),
    async (route) => {
      const path = new URL(route.request().url()).pathname;
      const file = normalize(join(dir, path));
      let body: Buffer;
      try {
        body = readFileSync(file.startsWith(dir) && extname(file) ? file : join(dir, 'index.html'));
      } catch {
        body = readFileSync(join(dir, 'index.html'));
      }
      await route.fulfill({ status: 200, body, contentType: TYPES[extname(file)] ?? 'text/html' });
    },
  );
}

async function opDone(page: Page, op: string, vpc: string, ms: number): Promise<Locator> {
  const card = page.locator(`[data-testid="operation"][data-op="${op}"][data-vpc="${vpc}"]`).first();
  await until(
    `${op} ${vpc} finishes`,
    ms,
    async () => ['success', 'failure'].includes((await card.getAttribute('data-status').catch(() => null)) ?? ''),
    async () => (await card.textContent().catch(() => null)) ?? 'no operation shown',
  );
  assert.equal(await card.getAttribute('data-status'), 'success', `${op} ${vpc}: ${await card.textContent()}`);
  return card;
}

test('the web console logs in, deploys a VPC with live progress, draws its topology, creates a container, and offers a read token nothing that changes anything', { timeout: 420_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: scripts/install-deps.sh installs Debian's chromium`);
  await withLab(3, 'v6', async (lab) => {
    await joinAll(lab);
    const tmp = mkdtempSync(join(tmpdir(), 'meshvpc-console-'));
    let server: LabServer | null = null;
    let browser: Browser | null = null;
    let page: Page | null = null;
    const logs: string[] = [];
    try {
      server = await startServer(lab, 1);
      browser = await chromium.launch({ executablePath: browserIn(hostOf(lab, 1).pid, tmp), headless: true, args: ['--no-sandbox', '--disable-gpu'], timeout: 60_000 });
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      context.setDefaultTimeout(30_000);
      page = await context.newPage();
      page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      if (process.env.MESHVPC_CONSOLE_DIR) await serveConsoleFrom(page, normalize(process.env.MESHVPC_CONSOLE_DIR));

      const index = await page.goto(`${server.url}/`);
      assert.equal(index?.status(), 200, `the server serves the console (npm run build makes dist/web): ${await index?.text()}`);
      assert.equal(await page.title(), 'meshvpc console');

      // A wrong token is refused in words, and the page stays on the login.
      const token = page.getByLabel('API token');
      await token.fill('not-a-real-token');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('alert').filter({ hasText: 'That token was not accepted' }).waitFor();
      assert.equal(await page.getByTestId('this-host').count(), 0);

      await token.fill(server.adminToken);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByTestId('this-host').filter({ hasText: 'host1' }).waitFor();
      await page.locator('.stream.live').waitFor();
      const nodes = page.getByTestId('nodes');
      for (const h of ['host1', 'host2', 'host3']) await nodes.locator(`tr[data-node="${h}"]`).waitFor();

      // Define and deploy vpc1 from the page.
      const form = page.getByTestId('vpc-form');
      await form.getByLabel('vpc_name').fill('vpc1');
      assert.equal(await form.getByLabel('node_member').inputValue(), 'all');
      // A refusal shows the API's own words.
      await form.getByLabel('peer_network').fill('198.51.100.0/33');
      await form.getByRole('button', { name: 'Define VPC' }).click();
      await form.getByRole('alert').filter({ hasText: 'peer_network' }).waitFor();
      await form.getByLabel('peer_network').fill(PEER_NET);
      // Encrypted from the page: every tunnel inside WireGuard.
      await form.getByLabel('encrypt (every tunnel inside WireGuard)').check();
      await form.getByRole('button', { name: 'Define VPC' }).click();
      const card = page.locator('[data-testid="vpc"][data-vpc="vpc1"]');
      await card.waitFor();
      await card.getByText('encrypted (WireGuard)').waitFor();
      await card.getByRole('button', { name: 'Deploy' }).click();
      const deployed = await opDone(page, 'deploy', 'vpc1', 120_000);
      const lines = deployed.getByTestId('op-host');
      assert.deepEqual((await lines.evaluateAll((ls) => ls.map((l) => `${l.getAttribute('data-host')}:${l.getAttribute('data-state')}`))).sort(), ['host1:ok', 'host2:ok', 'host3:ok']);

      // The topology: three hosts, three host pairs, all up.
      const topo = page.getByTestId('topology');
      const edges = topo.getByTestId('topo-edge');
      const health = async (): Promise<string> =>
        JSON.stringify(await edges.evaluateAll((es) => es.map((e) => [e.getAttribute('data-a'), e.getAttribute('data-b'), e.getAttribute('data-health'), e.getAttribute('data-rtt')])));
      await until(
        'the topology shows 3 hosts and 3 healthy edges',
        20_000,
        async () => (await topo.getByTestId('topo-node').count()) === 3 && (await topo.locator('[data-testid="topo-edge"][data-health="up"]').count()) === 3,
        async () => `${await topo.getByTestId('topo-node').count()} nodes, edges ${await health()}`,
      );
      assert.deepEqual((await topo.getByTestId('topo-node').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-node')))).sort(), ['host1', 'host2', 'host3']);
      assert.equal(await edges.count(), 3);

      // A container on host 1, plugged into vpc1, from the page; then stopped and started again.
      const cform = page.getByTestId('container-form');
      await cform.getByLabel('jname').fill('web1');
      assert.equal(await cform.getByLabel('interface (VPC)').inputValue(), 'vpc1');
      await cform.getByLabel('ip4_addr').fill(GUEST);
      assert.equal(await cform.getByLabel('runasap').isChecked(), true);
      await cform.getByRole('button', { name: 'Create container' }).click();
      const row = page.locator('[data-testid="container"][data-jname="web1"]');
      await until('web1 is listed, on host1 and running', 60_000, async () => (await row.getAttribute('data-status').catch(() => null)) === 'On', async () => `${await cform.textContent()} | ${(await row.count()) ? await row.textContent() : 'not listed'}`);
      assert.equal(await row.getAttribute('data-node'), 'host1');
      assert.match((await row.textContent()) ?? '', /203\.0\.113\.1\/24/);
      await row.getByRole('button', { name: 'Stop' }).click();
      await until('web1 stops', 30_000, async () => (await row.getAttribute('data-status')) === 'Off', async () => (await row.textContent()) ?? '');
      await row.getByRole('button', { name: 'Start' }).click();
      await until('web1 starts again', 30_000, async () => (await row.getAttribute('data-status')) === 'On', async () => (await row.textContent()) ?? '');

      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, 'console.png'), fullPage: true });

      // Phone-sized: stacked, nothing wider than the screen.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForTimeout(300);
      const [scrollWidth, clientWidth] = (await page.evaluate('[document.documentElement.scrollWidth, document.documentElement.clientWidth]')) as [number, number];
      assert.ok(scrollWidth <= clientWidth, `no horizontal scrolling at 390 px: the page is ${scrollWidth} px wide in a ${clientWidth} px viewport`);
      const small = (await page.evaluate(
        "[...document.querySelectorAll('button, input, select')].filter((b) => b.offsetParent !== null && b.type !== 'checkbox').map((b) => [b.textContent || b.name, Math.round(b.getBoundingClientRect().height)]).filter(([, h]) => h < 44)",
      )) as [string, number][];
      assert.deepEqual(small, [], 'every button and field is at least 44 px tall on a phone');
      await page.screenshot({ path: join(SHOTS, 'console-phone.png'), fullPage: true });

      // A read token (still on the phone): the page says so, and offers nothing that changes anything.
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByLabel('API token').fill(server.readToken);
      await page.getByRole('button', { name: 'Log in' }).click();
      const badge = page.getByTestId('read-only');
      await badge.waitFor();
      assert.equal((await badge.textContent())?.trim(), 'read-only token');
      const roCard = page.locator('[data-testid="vpc"][data-vpc="vpc1"]');
      await roCard.waitFor();
      const READ_ONLY = 'this token may only read';
      const locked = [
        roCard.getByRole('button', { name: 'Deploy' }),
        roCard.getByRole('button', { name: 'Destroy' }),
        page.getByTestId('container-form').getByRole('button', { name: 'Create container' }),
        page.getByTestId('vpc-form').getByRole('button', { name: 'Define VPC' }),
        row.getByRole('button', { name: 'Stop' }),
      ];
      for (const b of locked) {
        assert.equal(await b.isDisabled(), true, `${await b.textContent()} is disabled for a read token`);
        assert.equal(await b.getAttribute('title'), READ_ONLY, `${await b.textContent()} says why`);
      }
      const [roScroll, roClient] = (await page.evaluate('[document.documentElement.scrollWidth, document.documentElement.clientWidth]')) as [number, number];
      assert.ok(roScroll <= roClient, `read-only, no horizontal scrolling at 390 px: ${roScroll} px in ${roClient} px`);
      await page.screenshot({ path: join(SHOTS, 'console-read-only-phone.png'), fullPage: true });
      const errors = logs.filter((l) => l.startsWith('pageerror'));
      assert.deepEqual(errors, [], 'no script errors on the page');
    } catch (e) {
      if (page) {
        mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: join(SHOTS, 'console-failure.png'), fullPage: true }).catch(() => undefined);
      }
      if (logs.length) process.stderr.write(`browser log:\n${logs.join('\n')}\n`);
      if (server) process.stderr.write(`server log:\n${server.log()}\n`);
      throw e;
    } finally {
      await browser?.close().catch(() => undefined);
      await server?.stop().catch(() => undefined);
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

