import assert from 'node:assert/strict';

/**
 * The readers every configuration section uses, and the error they report. They live apart from
 * config.ts so that a section (money, authentication, exposure) can use them while config.ts imports
 * the section: no import cycle.
 */
export type Environment = 'development' | 'test' | 'production';

export type Source = Record<string, string | undefined>;

export class ConfigurationError extends Error {
  constructor(
    readonly variable: string,
    readonly reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`);
    this.name = 'ConfigurationError';
  }
}

/**
 * Every problem loadConfig found, in one message, so an operator fixes them all after one start
 * instead of one per start. `variable` names the first, as on a single ConfigurationError.
 */
export class ConfigurationErrors extends ConfigurationError {
  constructor(readonly problems: readonly ConfigurationError[]) {
    const [first] = problems;
    assert.ok(first !== undefined && problems.length > 1, 'ConfigurationErrors holds two problems or more');
    super(first.variable, first.reason);
    this.name = 'ConfigurationErrors';
    this.message = `Invalid configuration (${problems.length} problems): ${problems
      .map((problem) => `${problem.variable} ${problem.reason}`)
      .join('; ')}`;
  }

  get variables(): string[] {
    return this.problems.map((problem) => problem.variable);
  }
}

/** The problems of the loadConfig call under way; undefined outside one, where problems throw at once. */
let collectedProblems: ConfigurationError[] | undefined;

/**
 * Reports a missing or invalid variable. While loadConfig runs, the problem is recorded and `fallback`
 * stands in for the value so the remaining variables are still read (the collected problems are thrown
 * together at the end); anywhere else it throws at once. Readers of new variables use this instead of
 * `throw`, so their problems join the one message too.
 */
export function reportInvalid<T>(error: ConfigurationError, fallback: T): T {
  if (!collectedProblems) throw error;
  if (!collectedProblems.some((problem) => problem.variable === error.variable))
    collectedProblems.push(error);
  return fallback;
}

/** Runs a reader that throws ConfigurationError (one that parses a structured value) as reportInvalid would. */
export function reportThrown<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ConfigurationError) return reportInvalid(error, fallback);
    throw error;
  }
}

export function readString(source: Source, name: string, fallback: string): string {
  const value = source[name];
  return value === undefined || value === '' ? fallback : value;
}

export function readInteger(
  source: Source,
  name: string,
  fallback: number,
  minimum: number,
  maximum: number,
): number {
  const raw = source[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw)) {
    return reportInvalid(new ConfigurationError(name, `must be a whole number, got "${raw}"`), fallback);
  }
  const value = Number(raw);
  if (value < minimum || value > maximum) {
    const reason = `must be between ${minimum} and ${maximum}, got ${value}`;
    return reportInvalid(new ConfigurationError(name, reason), fallback);
  }
  return value;
}

export function readBoolean(source: Source, name: string, fallback: boolean): boolean {
  const raw = source[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  return reportInvalid(new ConfigurationError(name, `must be true or false, got "${raw}"`), fallback);
}

export function readChoice<T extends string>(
  source: Source,
  name: string,
  fallback: T,
  choices: readonly T[],
): T {
  const raw = readString(source, name, fallback);
  if (!(choices as readonly string[]).includes(raw)) {
    const reason = `must be one of ${choices.join(', ')}, got "${raw}"`;
    return reportInvalid(new ConfigurationError(name, reason), fallback);
  }
  return raw as T;
}

/**
 * Runs `read` collecting every problem the readers report (instead of throwing at the first), and
 * returns its value with the problems; a reader that still throws ends the reading, its problem joining
 * those found before it.
 */
export function collectProblems<T>(read: () => T): { value: T | undefined; problems: ConfigurationError[] } {
  const problems: ConfigurationError[] = [];
  const outer = collectedProblems;
  collectedProblems = problems;
  try {
    return { value: read(), problems };
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    problems.push(error);
    return { value: undefined, problems };
  } finally {
    collectedProblems = outer;
  }
}
