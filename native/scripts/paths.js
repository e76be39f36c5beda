// Shared by the build scripts: the package root and how many parallel build jobs to run.
'use strict';
const os = require('node:os');
const path = require('node:path');

module.exports = {
  root: path.resolve(__dirname, '..', '..'),
  jobs: String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length)),
};
