#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's CommonJS hook (no build step).
require('tsx/cjs');
const { main } = require('../cli/main');
const { reportFailure } = require('../cli/errors');

// main prints its own failures; these catch what escapes it (a timer, a stream), in the same one-line form.
process.on('uncaughtException', (error) => process.exit(reportFailure(error)));
process.on('unhandledRejection', (error) => process.exit(reportFailure(error)));

main(process.argv.slice(2)).then((code) => process.exit(code));
