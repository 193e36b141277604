#!/usr/bin/env node
// Runs the compiled JavaScript in dist/ when it is at least as new as every TypeScript source (npm
// install builds it: the `prepare` script), and the TypeScript sources through tsx otherwise, so an
// edited source is never shadowed by a stale build. COREBANK_DIST=1 forces dist/, COREBANK_DIST=0 tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiledEntry = join(root, 'dist/src/cli/main.js');

function newestModificationMs(directory) {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    const modified = entry.isDirectory() ? newestModificationMs(path) : statSync(path).mtimeMs;
    if (modified > newest) newest = modified;
  }
  return newest;
}

function compiledIsCurrent() {
  if (process.env.COREBANK_DIST === '1') return true;
  if (process.env.COREBANK_DIST === '0' || !existsSync(compiledEntry)) return false;
  return statSync(compiledEntry).mtimeMs >= newestModificationMs(join(root, 'src'));
}

let runCli;
if (compiledIsCurrent()) {
  ({ runCli } = await import(compiledEntry));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ runCli } = await import('../src/cli/main.ts'));
}
process.exitCode = await runCli(process.argv.slice(2));
