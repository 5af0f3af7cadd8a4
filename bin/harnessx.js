#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's CommonJS hook (no build step).
require('tsx/cjs');
require('../cli/main')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
