/**
 * The one list of errors that mean "the database cannot be reached or cannot serve right now", as
 * opposed to a bug or a rejected statement. The HTTP error mapper answers them with 503
 * SERVICE_UNAVAILABLE, the pool discards the connection they happened on, the scheduler and the
 * readiness probe log them with their SQLSTATE or errno. A new driver message belongs here, nowhere else.
 */
export interface DatabaseUnavailable {
  /** PostgreSQL's SQLSTATE when the server said it (57P01 admin_shutdown, 53300 too_many_connections, …). */
  sqlstate?: string;
  /** The socket's errno code when the network said it (ECONNREFUSED, ECONNRESET, …). */
  errno?: string;
  /** The driver's own message, for the log (it names no credential: pg hides the password). */
  reason: string;
}

/** SQLSTATE class 08 (connection exception) is matched by its prefix; these are the others. */
const unavailableSqlStates = new Set([
  '57P01', // admin_shutdown: the server is shutting down or the connection was terminated
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, or in recovery
  '53300', // too_many_connections
]);

/** query_canceled is ours to answer 503 only when our own statement_timeout cancelled it. */
const queryCanceledSqlState = '57014';

const unavailableErrnoCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * node-postgres, pg-pool and Kysely report a lost, timed-out or closed connection with a plain Error
 * and no code; these are the beginnings of their messages (pg 8, pg-pool 3, Kysely 0.29).
 */
const unavailableMessagePrefixes = [
  'Connection terminated', // unexpectedly / due to connection timeout: the socket closed
  'timeout exceeded when trying to connect', // pg-pool: no connection within the acquire timeout
  'Query read timeout', // pg: query_timeout, the server sent nothing back (a partition)
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool', // shutting down
  'Postgres connection has been discarded', // Kysely, after a failed rollback on a broken connection
  'driver has already been destroyed', // Kysely, shutting down
];

const causeDepthMax = 5;

function classify(error: unknown): DatabaseUnavailable | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : '';
  if (typeof code === 'string') {
    if (unavailableErrnoCodes.has(code)) return { errno: code, reason: message || code };
    const isSqlState = /^[0-9A-Z]{5}$/.test(code);
    if (isSqlState && (code.startsWith('08') || unavailableSqlStates.has(code))) {
      return { sqlstate: code, reason: message };
    }
    if (code === queryCanceledSqlState && message.includes('statement timeout')) {
      return { sqlstate: code, reason: message };
    }
    if (isSqlState) return undefined;
  }
  if (unavailableMessagePrefixes.some((prefix) => message.startsWith(prefix))) return { reason: message };
  return undefined;
}

/**
 * What made the database unavailable, or undefined when the error is something else. Looks through
 * `cause` chains (pg-pool wraps a connect timeout) and AggregateError (a host name with an IPv4 and an
 * IPv6 address fails on both).
 */
export function databaseUnavailable(error: unknown, depth = 0): DatabaseUnavailable | undefined {
  if (depth > causeDepthMax || error === null || typeof error !== 'object') return undefined;
  const direct = classify(error);
  if (direct) return direct;
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const found = databaseUnavailable(inner, depth + 1);
      if (found) return found;
    }
  }
  return databaseUnavailable((error as { cause?: unknown }).cause, depth + 1);
}

/** The fields a log line carries for an unavailable database: SQLSTATE or errno, and the driver's words. */
export function databaseUnavailableLogFields(unavailable: DatabaseUnavailable): Record<string, string> {
  const fields: Record<string, string> = { reason: unavailable.reason.slice(0, 300) };
  if (unavailable.sqlstate) fields.sqlstate = unavailable.sqlstate;
  if (unavailable.errno) fields.errno = unavailable.errno;
  return fields;
}

/** serialization_failure and deadlock_detected: the transaction lost a race and may simply be run again. */
const transactionConflictSqlStates = new Set(['40001', '40P01']);

/**
 * The SQLSTATE when PostgreSQL rolled the statement back for losing a race with another transaction
 * (a deadlock, a serialization failure), or undefined. The money paths retry these themselves; anywhere
 * else one reaching the error mapper is a 503 TRANSACTION_CONFLICT the client may retry, never a 500.
 */
export function transactionConflict(error: unknown, depth = 0): string | undefined {
  if (depth > causeDepthMax || error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && transactionConflictSqlStates.has(code)) return code;
  return transactionConflict((error as { cause?: unknown }).cause, depth + 1);
}
