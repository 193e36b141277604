/**
 * `npm run bench:startup`: how long `corebank serve` takes from process spawn to a 200 from /ready on
 * the embedded engine, from an empty DATA_DIR (initdb + migrations + seed) and on restart (data present).
 * Reference, measured in the same run: a bare PGlite created on an empty directory (initdb alone) and a
 * bare `node -e ''` process. Prints medians; the ratios are what to compare across machines.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './statistics.ts';

const runs = Number(process.env.BENCH_RUNS ?? 3);

function timeProcess(
  args: string[],
  environment: Record<string, string>,
  readyUrlFrom?: RegExp,
): Promise<number> {
  const startedAt = performance.now();
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH, ...environment },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.on('exit', (code) => {
      if (!readyUrlFrom) resolve(performance.now() - startedAt);
      else if (code !== 0 && code !== null) reject(new Error(`exited ${code}: ${output}`));
    });
    child.stdout.on('data', async (chunk: Buffer) => {
      output += chunk.toString();
      const match = readyUrlFrom?.exec(output);
      if (!match?.[1]) return;
      for (;;) {
        const response = await fetch(`${match[1]}/ready`).catch(() => undefined);
        if (response?.status === 200) break;
        await new Promise((wait) => setTimeout(wait, 20));
      }
      resolve(performance.now() - startedAt);
      child.kill('SIGTERM');
    });
  });
}

async function main(): Promise<void> {
  const serve = {
    fresh: [] as number[],
    restart: [] as number[],
    initdb: [] as number[],
    node: [] as number[],
  };
  const listening = /"address":"(http:\/\/[^"]+)"/;
  for (let run = 0; run < runs; run += 1) {
    const directory = mkdtempSync(join(tmpdir(), 'corebank-bench-'));
    const environment = { NODE_ENV: 'development', DATA_DIR: directory, PORT: '0', LOG_LEVEL: 'info' };
    serve.fresh.push(await timeProcess(['bin/corebank.js', 'serve'], environment, listening));
    await new Promise((wait) => setTimeout(wait, 500));
    serve.restart.push(await timeProcess(['bin/corebank.js', 'serve'], environment, listening));
    rmSync(directory, { recursive: true, force: true });
    const bare = mkdtempSync(join(tmpdir(), 'corebank-initdb-'));
    const script = `import('@electric-sql/pglite').then(async ({ PGlite }) => { const p = await PGlite.create(${JSON.stringify(bare)}); await p.close(); })`;
    serve.initdb.push(await timeProcess(['-e', script], {}));
    rmSync(bare, { recursive: true, force: true });
    serve.node.push(await timeProcess(['-e', ''], {}));
    process.stderr.write(`run ${run + 1}/${runs} done\n`);
  }
  const fresh = median(serve.fresh);
  const initdb = median(serve.initdb);
  console.log(`startup to /ready, fresh DATA_DIR (initdb+migrate+seed): median ${fresh.toFixed(0)} ms`);
  console.log(
    `startup to /ready, restart on existing data:            median ${median(serve.restart).toFixed(0)} ms`,
  );
  console.log(`reference: bare PGlite initdb in a new process:          median ${initdb.toFixed(0)} ms`);
  console.log(
    `reference: empty node process:                           median ${median(serve.node).toFixed(0)} ms`,
  );
  console.log(`ratio fresh start / bare initdb: ${(fresh / initdb).toFixed(2)}`);
}

await main();
