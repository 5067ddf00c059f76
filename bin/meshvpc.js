#!/usr/bin/env node
// CommonJS (bin/package.json): with the bundle built (npm run build), starting
// a command needs no ES module loader. The compiled tree is the fallback.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'bundle', 'meshvpc.cjs');
const loaded = existsSync(bundle) ? Promise.resolve(require(bundle)) : import('../dist/src/adapters/cli/main.js');
loaded
  .then(({ main }) => main(process.argv.slice(2)))
  .then((code) => {
    process.exitCode = code;
  });
