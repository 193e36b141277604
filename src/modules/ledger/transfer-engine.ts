import type { Kysely } from 'kysely';
import type { MoneyConfig } from '../../config/money-config.ts';
import type { Database } from '../../db/schema.ts';
import { GroupCommitter } from './group-commit.ts';
import {
  postTransferGroup,
  type StatementSettings,
  type TransferRequest,
  type TransferResult,
  transferSettingsJson,
} from './transfer.repository.ts';

/** The one writer of customer transfers: requests go in, grouped and posted by corebank_transfer_group. */
export type TransferEngine = GroupCommitter<TransferRequest, TransferResult>;

export interface TransferEngineContext {
  db: Kysely<Database>;
  money: MoneyConfig;
  /** The embedded engine has one connection: one group in flight, the rest gathering. */
  databaseEngine?: 'pglite' | 'postgres' | undefined;
}

// One engine per database handle and configuration: each handle has its own pool.
const engines = new WeakMap<Kysely<Database>, WeakMap<MoneyConfig, Map<string, TransferEngine>>>();

export function transferEngineFor(
  context: TransferEngineContext,
  session: StatementSettings,
): TransferEngine {
  let byConfig = engines.get(context.db);
  if (!byConfig) {
    byConfig = new WeakMap();
    engines.set(context.db, byConfig);
  }
  let bySession = byConfig.get(context.money);
  if (!bySession) {
    bySession = new Map();
    byConfig.set(context.money, bySession);
  }
  const sessionKey = JSON.stringify(session);
  let engine = bySession.get(sessionKey);
  if (!engine) {
    engine = createTransferEngine(context, session);
    bySession.set(sessionKey, engine);
  }
  return engine;
}

function createTransferEngine(context: TransferEngineContext, session: StatementSettings): TransferEngine {
  const settingsJson = transferSettingsJson(context.money, session);
  const { groupCommit, transactionAttemptsMax } = context.money;
  return new GroupCommitter<TransferRequest, TransferResult>(
    (tenantId, requests) => postTransferGroup(context.db, tenantId, requests, settingsJson),
    {
      windowMs: groupCommit.windowMs,
      requestsPerGroupMax: groupCommit.requestsPerGroupMax,
      groupsInFlightMax: context.databaseEngine === 'pglite' ? 1 : groupCommit.groupsInFlightMax,
      queuedRequestsMax: groupCommit.queuedRequestsMax,
      queueWaitMsMax: groupCommit.queueWaitMsMax,
      attemptsMax: transactionAttemptsMax,
    },
  );
}

/** Every engine of a database handle, for a graceful shutdown that lets queued groups finish. */
export async function drainTransferEngines(db: Kysely<Database>, money: MoneyConfig): Promise<void> {
  const bySession = engines.get(db)?.get(money);
  if (bySession) await Promise.all([...bySession.values()].map((engine) => engine.drained()));
}
