import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (user + system) of the processes that serve a benchmark, read from /proc: less disturbed
 * by other load on the machine than throughput is, so "CPU per transfer" compares two configurations
 * even when the machine is not quiet. Linux only; elsewhere every figure is undefined.
 *
 * PostgreSQL is counted as the backends connected to one database (their process title names it), so
 * other databases' work on the same server is left out; backends that exit during the window are
 * lost (the benchmark's pool keeps its connections open).
 */

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux for every architecture in use). */
const ticksPerSecond = 100;

export interface CpuSample {
  server: number;
  postgres: number;
  redis: number;
}

function ticksOf(pid: number | string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) in parentheses: utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function commandOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** Seconds of CPU so far of the server process, the database's backends and every redis-server. */
export function sampleCpu(serverPid: number | undefined, database: string): CpuSample | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  let postgres = 0;
  let redis = 0;
  for (const pid of pids) {
    const command = commandOf(pid);
    if (command.startsWith(`postgres: `) && command.split(' ').includes(database))
      postgres += ticksOf(pid) ?? 0;
    else if (command.startsWith('redis-server')) redis += ticksOf(pid) ?? 0;
  }
  const server = serverPid === undefined ? 0 : (ticksOf(serverPid) ?? 0);
  return {
    server: server / ticksPerSecond,
    postgres: postgres / ticksPerSecond,
    redis: redis / ticksPerSecond,
  };
}

/** Microseconds of CPU per operation between two samples, by part and in total. */
export function cpuPerOperation(
  before: CpuSample | undefined,
  after: CpuSample | undefined,
  operations: number,
): (CpuSample & { total: number }) | undefined {
  if (!before || !after || operations <= 0) return undefined;
  const per = (part: keyof CpuSample) => ((after[part] - before[part]) * 1e6) / operations;
  const sample = { server: per('server'), postgres: per('postgres'), redis: per('redis') };
  return { ...sample, total: sample.server + sample.postgres + sample.redis };
}
