#!/usr/bin/env node
// `npm test`: unit tests once, then every database suite on PGlite, and again on the PostgreSQL server
// when TEST_DATABASE_URL is set. Each engine gets a migrated template built once (see
// build-test-template.ts); test files run in parallel processes, each on its own copy.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const cacheDirectory = join(root, '.test-cache');
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const only = process.argv.slice(2);

function findTests(directory) {
  const found = [];
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.ts')) found.push(path);
  }
  return found.sort();
}

function selected(files) {
  return only.length === 0 ? files : files.filter((file) => only.some((pattern) => file.includes(pattern)));
}

function run(label, command, args, environment) {
  process.stdout.write(`\n=== ${label}\n`);
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...environment },
  });
  return result.status === 0;
}

function runTests(label, files, environment) {
  if (files.length === 0) return true;
  const args = [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    ...files,
  ];
  return run(label, process.execPath, args, { NODE_ENV: 'test', ...environment });
}

mkdirSync(cacheDirectory, { recursive: true });
const unitFiles = selected(findTests(join(root, 'src')));
const suiteFiles = selected(findTests(join(root, 'test')));
const results = [];

results.push(runTests('unit tests', unitFiles, {}));

const image = join(cacheDirectory, 'pglite-template.tar');
const templateBuilt = run(
  'building PGlite template',
  process.execPath,
  ['--import', 'tsx', 'scripts/build-test-template.ts', 'pglite', image],
  {},
);
results.push(
  templateBuilt &&
    runTests('suites on PGlite', suiteFiles, { TEST_ENGINE: 'pglite', COREBANK_PGLITE_TEMPLATE: image }),
);

const serverUrl = process.env.TEST_DATABASE_URL;
if (serverUrl) {
  // Named after the checkout, so two checkouts testing against one server never drop each other's template.
  const template = `corebank_test_template_${createHash('sha256').update(root).digest('hex').slice(0, 10)}`;
  const built = run(
    'building PostgreSQL template',
    process.execPath,
    ['--import', 'tsx', 'scripts/build-test-template.ts', 'postgres', serverUrl, template],
    {},
  );
  results.push(
    built &&
      runTests('suites on PostgreSQL', suiteFiles, {
        TEST_ENGINE: 'postgres',
        COREBANK_POSTGRES_TEMPLATE: template,
      }),
  );
} else {
  process.stdout.write('\nTEST_DATABASE_URL is not set: the PostgreSQL server suites were skipped.\n');
}

const failed = results.filter((ok) => !ok).length;
process.stdout.write(`\n${results.length - failed} test runs passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
