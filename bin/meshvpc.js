#!/usr/bin/env node
// The bundle (npm run build) starts faster; the plain compiled tree is the fallback.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bundle/main.js', import.meta.url);
const { main } = await import(existsSync(bundle) ? bundle.href : '../dist/src/adapters/cli/main.js');
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
