#!/usr/bin/env node
// Runs the TypeScript sources through tsx, so `npm install` is the only set-up step; a production
// image may run `npm run build` and point this at dist/ instead (COREBANK_DIST=1).
import { register } from 'tsx/esm/api';

if (process.env.COREBANK_DIST === '1') {
  const { runCli } = await import('../dist/src/cli/main.js');
  process.exitCode = await runCli(process.argv.slice(2));
} else {
  register();
  const { runCli } = await import('../src/cli/main.ts');
  process.exitCode = await runCli(process.argv.slice(2));
}
