#!/usr/bin/env node
// The `gatewise` command: the compiled CLI when the package is built (dist/), else the
// TypeScript sources through tsx (a fresh clone after `npm install`).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const compiled = path.join(__dirname, '..', 'dist', 'cjs', 'cli', 'main.js');
let cli;
if (fs.existsSync(compiled)) cli = require(compiled);
else {
  require('tsx/cjs/api').register();
  cli = require(path.join(__dirname, '..', 'lib', 'cli', 'main.ts'));
}
cli.main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`gatewise: ${err && err.message ? err.message : err}\n`);
    process.exit(1);
  },
);
