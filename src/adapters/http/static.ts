/**
 * The web console's files (built by Vite into dist/web), served as they are.
 * Any path that is not a file gets index.html: the console routes itself.
 */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { Context } from 'hono';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** Nothing of the console is loaded from elsewhere, and no other site may frame it. */
const HEADERS = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

export function staticFiles(root: string): (c: Context) => Promise<Response> {
  const base = normalize(root);
  return async (c) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(c.req.url).pathname);
    } catch {
      return c.text('bad path', 400);
    }
    const file = normalize(join(base, path));
    const inside = file.startsWith(base + sep) && !path.includes('\0');
    const type = TYPES[extname(file)];
    const body = inside && type ? await readFile(file).catch(() => null) : null;
    if (body && type) return c.body(body, 200, { ...HEADERS, 'Content-Type': type, 'Cache-Control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache' });
    const index = await readFile(join(base, 'index.html')).catch(() => null);
    if (!index) return c.text('the web console is not built (npm run build)', 404);
    return c.body(index, 200, { ...HEADERS, 'Content-Type': TYPES['.html'] as string, 'Cache-Control': 'no-cache' });
  };
}
