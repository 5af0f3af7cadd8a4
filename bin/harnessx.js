#!/usr/bin/env node
const { existsSync } = require('node:fs');
const { join } = require('node:path');

// A clone runs the TypeScript sources through tsx's CommonJS hook (no build step). The installed package
// ships no sources: it runs the JavaScript `npm pack` compiled into dist/ (prepack), which starts faster and
// lets Temporal's bundler take the workflows from node_modules.
const fromSources = existsSync(join(__dirname, '..', 'cli', 'main.ts'));
if (fromSources) require('tsx/cjs');
const cli = fromSources ? '../cli' : '../dist/cli';
const { main } = require(`${cli}/main`);
const { reportFailure } = require(`${cli}/errors`);

// main prints its own failures; these catch what escapes it (a timer, a stream), in the same one-line form.
process.on('uncaughtException', (error) => process.exit(reportFailure(error)));
process.on('unhandledRejection', (error) => process.exit(reportFailure(error)));

main(process.argv.slice(2)).then((code) => process.exit(code));
