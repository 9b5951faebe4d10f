#!/usr/bin/env node
// The `paycore` command. Runs the TypeScript sources through tsx, as every
// paycore process does (docs/adr/0001).
require('tsx/cjs');
require('../src/main.ts')
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
