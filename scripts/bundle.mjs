// Bundles the compiled CLI (dist/src) into dist/bundle with esbuild: one
// module graph of a few chunks instead of dozens of files, so a command
// resolves and reads far fewer files at start-up. Code that only some
// commands need (SSH, drivers, the server) stays in chunks loaded on demand.
// Native and optional packages stay outside the bundle.
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';

rmSync('dist/bundle', { recursive: true, force: true });
await build({
  entryPoints: ['dist/src/adapters/cli/main.js'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', 'ssh2', 'cpu-features'],
  logLevel: 'warning',
});
writeFileSync('dist/bundle/package.json', '{"type":"module"}\n');
