import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';

/** A `corebank serve` started as a user would, with its output collected. */
export interface Started {
  child: ChildProcess;
  /** The address of the first "corebank listening" line. */
  address: Promise<string>;
  output: () => string;
  exited: Promise<number | null>;
}

export function startServer(environment: Record<string, string | undefined>, args: string[] = []): Started {
  const child = spawn(process.execPath, ['bin/corebank.js', 'serve', ...args], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const address = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"address":"(http:\/\/[^"]+)"/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.on('exit', () => reject(new Error(`server exited before listening:\n${output}`)));
  });
  address.catch(() => {});
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, address, output: () => output, exited };
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one `corebank` command to its end, as a user would from a shell. */
export function runCommand(
  args: string[],
  environment: Record<string, string | undefined>,
): Promise<Finished> {
  const child = spawn(process.execPath, ['bin/corebank.js', ...args], {
    env: { PATH: process.env.PATH, ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

export async function waitFor(condition: () => boolean, limitMs: number): Promise<void> {
  for (let waited = 0; !condition() && waited < limitMs; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface Answer {
  status: number;
  body: string;
}

/**
 * One request on a connection of its own (no keep-alive agent), so that behind `serve --workers` the
 * primary hands each request to the next worker.
 */
export function requestOnNewConnection(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = { ...options.headers };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method: options.method ?? 'GET', headers, agent: false }, (incoming) => {
      let body = '';
      incoming.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body }));
    });
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}
