// Bundles the compiled CLI (dist/src) into one CommonJS file with esbuild,
// dist/bundle/meshvpc.cjs, which bin/meshvpc.js loads when it exists. One
// file instead of dozens of ES modules: no ES module loader at start-up, and
// better-sqlite3 (CommonJS) is required natively. Code only some commands
// need (SSH, drivers, the server) is still evaluated only when first used:
// esbuild keeps each dynamic import() a lazily initialised part of the file.
// Native and optional packages stay outside the bundle.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

rmSync('dist/bundle', { recursive: true, force: true });
await build({
  entryPoints: ['dist/src/adapters/cli/main.js'],
  outfile: 'dist/bundle/meshvpc.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // hono is left to node_modules: only `meshvpc server` needs it, and it would be most of the file.
  external: ['better-sqlite3', 'ssh2', 'cpu-features', 'hono', 'hono/*', '@hono/node-server', '@hono/node-server/*'],
  // The sources locate files next to themselves (the console, native addons) through import.meta.url.
  define: { 'import.meta.url': '__meshvpcModuleUrl' },
  banner: { js: "const __meshvpcModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
