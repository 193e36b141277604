import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { applyScope, type ScopedTransaction } from '../../db/tenant-transaction.ts';
import {
  checkpointFileName,
  checkpointSignatureMatches,
  type ParsedCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from './audit-checkpoint-format.ts';
import {
  type CheckpointFileName,
  checkpointEntry,
  ensureCheckpointDirectory,
  listCheckpointFiles,
  readCheckpointFile,
  writeCheckpointFile,
} from './audit-checkpoint-store.ts';
import { sealerRole } from './audit-sealer.ts';

export interface CheckpointKeys {
  keyName: string;
  signingKey: KeyObject | undefined;
  publicKeys: readonly KeyObject[];
}

export type CheckpointProblemKind = 'unreadable' | 'bad_signature' | 'missing' | 'altered' | 'rewound';

export interface CheckpointProblem {
  fileName: string;
  tenantId: string;
  chainSequence: number;
  kind: CheckpointProblemKind;
  message: string;
}

export interface CheckpointWriteResult {
  written: string[];
  /** Tenants whose head has not moved since their newest checkpoint (or whose file another process wrote). */
  unchanged: number;
  /** Tenants with no sealed row yet: nothing to checkpoint. */
  empty: number;
  /** Tenants not checkpointed because their database state contradicts their newest checkpoint. */
  refused: CheckpointProblem[];
}

export interface CheckpointVerificationResult {
  checked: number;
  /** Every checkpoint that no longer matches, oldest first per tenant (tenants in id order). */
  problems: CheckpointProblem[];
}

interface ChainHead {
  chainSequence: number;
  rowHash: string;
  /** Whether exactly one sealed row sits at the head's sequence with the head's hash. */
  rowMatches: boolean;
}

async function inSealerScope<T>(
  db: Kysely<Database>,
  tenantId: string,
  work: (transaction: ScopedTransaction) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (transaction) => {
    await applyScope(transaction, { tenantId }, sealerRole);
    return work(transaction);
  });
}

// One statement, so the head and its row are read from one snapshot while a sealer moves the head on.
async function readChainHead(
  transaction: ScopedTransaction,
  tenantId: string,
): Promise<ChainHead | undefined> {
  const result = await sql<{ last_sequence: string; last_hash: string; matching: number }>`
    select h.last_sequence::text as last_sequence, h.last_hash,
           (select count(*)::int from audit_logs a
            where a.tenant_id = h.tenant_id and a.chain_sequence = h.last_sequence
              and a.row_hash = h.last_hash) as matching
    from audit_chain_heads h
    where h.tenant_id = ${tenantId}`.execute(transaction);
  const row = result.rows[0];
  if (!row || Number(row.last_sequence) === 0) return undefined;
  return { chainSequence: Number(row.last_sequence), rowHash: row.last_hash, rowMatches: row.matching === 1 };
}

/** Compares one signed checkpoint with the database: its row must still be there, unchanged, under the head. */
async function compareWithDatabase(
  transaction: ScopedTransaction,
  checkpoint: ParsedCheckpoint,
  fileName: string,
): Promise<CheckpointProblem | undefined> {
  const { tenantId, chainSequence } = checkpoint;
  const head = await readChainHead(transaction, tenantId);
  const rows = await sql<{ row_hash: string }>`
    select row_hash from audit_logs
    where tenant_id = ${tenantId} and chain_sequence = ${chainSequence}`.execute(transaction);
  const problem = (kind: CheckpointProblemKind, message: string): CheckpointProblem => ({
    fileName,
    tenantId,
    chainSequence,
    kind,
    message,
  });
  const headText = head ? `the chain head is at ${head.chainSequence}` : 'the tenant has no chain head';
  if (rows.rows.length === 0) return problem('missing', `no sealed row at this sequence (${headText})`);
  if (rows.rows.length > 1 || rows.rows[0]?.row_hash !== checkpoint.rowHash) {
    return problem('altered', 'the row at this sequence no longer has the checkpointed hash');
  }
  if (!head || head.chainSequence < chainSequence) {
    return problem('rewound', `${headText}, behind the checkpoint`);
  }
  return undefined;
}

type LoadedCheckpoint = { file: CheckpointFileName; checkpoint: ParsedCheckpoint };

async function loadCheckpoint(
  directory: string,
  file: CheckpointFileName,
  keys: CheckpointKeys,
): Promise<LoadedCheckpoint | CheckpointProblem> {
  const at = (kind: CheckpointProblemKind, message: string): CheckpointProblem => ({
    fileName: file.fileName,
    tenantId: file.tenantId,
    chainSequence: file.chainSequence,
    kind,
    message,
  });
  if (!file.regular) return at('unreadable', 'it is not a regular file (a symlink or a directory)');
  let checkpoint: ParsedCheckpoint;
  try {
    checkpoint = parseCheckpoint(await readCheckpointFile(join(directory, file.fileName)));
  } catch (error) {
    return at('unreadable', `it is not a checkpoint: ${(error as Error).message}`);
  }
  if (!checkpointSignatureMatches(checkpoint, keys.keyName, keys.publicKeys)) {
    return {
      ...at('bad_signature', `it carries no valid signature by key "${keys.keyName}"`),
      tenantId: checkpoint.tenantId,
      chainSequence: checkpoint.chainSequence,
    };
  }
  // A genuine checkpoint copied under another name (another sequence, another tenant) must not pass
  // for that one: the writer orders and compares by name, so the name has to say what was signed.
  if (checkpoint.tenantId !== file.tenantId || checkpoint.chainSequence !== file.chainSequence) {
    return at(
      'unreadable',
      `its name does not match what it signs (tenant ${checkpoint.tenantId}, sequence ${checkpoint.chainSequence})`,
    );
  }
  return { file, checkpoint };
}

function compareProblems(left: CheckpointProblem, right: CheckpointProblem): number {
  if (left.tenantId !== right.tenantId) return left.tenantId < right.tenantId ? -1 : 1;
  if (left.chainSequence !== right.chainSequence) return left.chainSequence - right.chainSequence;
  return left.fileName < right.fileName ? -1 : left.fileName > right.fileName ? 1 : 0;
}

/**
 * Checks every checkpoint file in the directory: its signature, then that the database still holds a
 * sealed row at its tenant and sequence with exactly its hash, under a chain head at or beyond it.
 * Truncation (rows deleted, head rewound) and rewriting (rows changed, chain re-hashed) done in the
 * database alone both fail here for every checkpoint covering the affected range.
 */
export async function verifyAuditCheckpoints(
  db: Kysely<Database>,
  directory: string,
  keys: CheckpointKeys,
  onProgress?: (checked: number) => void,
): Promise<CheckpointVerificationResult> {
  if (keys.publicKeys.length === 0) throw new Error('no checkpoint public key is configured');
  const problems: CheckpointProblem[] = [];
  const byTenant = new Map<string, LoadedCheckpoint[]>();
  const files = await listCheckpointFiles(directory);
  for (const file of files) {
    const loaded = await loadCheckpoint(directory, file, keys);
    if ('kind' in loaded) {
      problems.push(loaded);
      continue;
    }
    const list = byTenant.get(loaded.checkpoint.tenantId) ?? [];
    list.push(loaded);
    byTenant.set(loaded.checkpoint.tenantId, list);
  }
  let checked = 0;
  for (const [tenantId, loaded] of byTenant) {
    loaded.sort((left, right) => left.checkpoint.chainSequence - right.checkpoint.chainSequence);
    await inSealerScope(db, tenantId, async (transaction) => {
      for (const { file, checkpoint } of loaded) {
        const problem = await compareWithDatabase(transaction, checkpoint, file.fileName);
        if (problem) problems.push(problem);
        checked += 1;
      }
    });
    onProgress?.(checked);
  }
  return { checked, problems: problems.sort(compareProblems) };
}

export interface NewestCheckpoint {
  fileName: string;
  chainSequence: number;
  rowHash: string;
  takenAt: Date;
  /** Why the checkpoint no longer matches (or cannot be read); undefined when it matches the database. */
  problem: CheckpointProblem | undefined;
}

/**
 * The tenant's newest checkpoint in the directory (highest sequence), checked like verifyAuditCheckpoints
 * checks each: its signature, then the database row it covers. Undefined when the directory is missing
 * or holds none of the tenant's.
 */
export async function newestTenantCheckpoint(
  db: Kysely<Database>,
  directory: string,
  keys: CheckpointKeys,
  tenantId: string,
): Promise<NewestCheckpoint | undefined> {
  const files = await listCheckpointFiles(directory).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
    throw error;
  });
  const newest = files
    .filter((file) => file.tenantId === tenantId)
    .reduce<CheckpointFileName | undefined>(
      (best, file) => (best === undefined || file.chainSequence > best.chainSequence ? file : best),
      undefined,
    );
  if (!newest) return undefined;
  const loaded = await loadCheckpoint(directory, newest, keys);
  const base = { fileName: newest.fileName, chainSequence: newest.chainSequence };
  if ('kind' in loaded) return { ...base, rowHash: '', takenAt: new Date(0), problem: loaded };
  const problem = await inSealerScope(db, tenantId, (transaction) =>
    compareWithDatabase(transaction, loaded.checkpoint, newest.fileName),
  );
  return { ...base, rowHash: loaded.checkpoint.rowHash, takenAt: loaded.checkpoint.takenAt, problem };
}

/**
 * Writes one signed checkpoint per tenant whose chain head moved since its newest checkpoint in the
 * directory. A tenant is refused, not checkpointed, when its head does not match its own row or when
 * its newest checkpoint no longer matches the database: signing a rewound or rewritten chain would
 * launder the tampering the earlier checkpoint exposes.
 */
export async function writeAuditCheckpoints(
  db: Kysely<Database>,
  directory: string,
  keys: CheckpointKeys,
  now: () => Date = () => new Date(),
): Promise<CheckpointWriteResult> {
  const { signingKey } = keys;
  if (!signingKey) throw new Error('no checkpoint signing key is configured');
  await ensureCheckpointDirectory(directory);
  const byTenant = new Map<string, CheckpointFileName[]>();
  for (const file of await listCheckpointFiles(directory)) {
    byTenant.set(file.tenantId, [...(byTenant.get(file.tenantId) ?? []), file]);
  }
  const result: CheckpointWriteResult = { written: [], unchanged: 0, empty: 0, refused: [] };
  const tenants = await db.selectFrom('tenants').select('id').orderBy('id').execute();
  for (const tenant of tenants) {
    const newestFirst = (byTenant.get(tenant.id) ?? []).sort(
      (left, right) => right.chainSequence - left.chainSequence,
    );
    const outcome = await inSealerScope(db, tenant.id, (transaction) =>
      checkpointTenant(transaction, tenant.id, newestFirst, { directory, keys, signingKey, now }),
    );
    if (outcome.kind === 'empty') result.empty += 1;
    else if (outcome.kind === 'unchanged') result.unchanged += 1;
    else if (outcome.kind === 'written') result.written.push(outcome.fileName);
    else result.refused.push(outcome.problem);
  }
  return result;
}

/**
 * The tenant's newest checkpoint that carries a valid signature. Files that do not are passed over
 * here (verification reports them): anyone who can write the directory could plant one, and it must
 * not stop the writer. After a key rotation, list the retired public key in AUDIT_CHECKPOINT_PUBLIC_KEY
 * so the writer keeps comparing with the checkpoints it signed.
 */
async function newestGenuineCheckpoint(
  directory: string,
  newestFirst: readonly CheckpointFileName[],
  keys: CheckpointKeys,
): Promise<LoadedCheckpoint | undefined> {
  for (const file of newestFirst) {
    const loaded = await loadCheckpoint(directory, file, keys);
    if (!('kind' in loaded)) return loaded;
  }
  return undefined;
}

type TenantOutcome =
  | { kind: 'empty' }
  | { kind: 'unchanged' }
  | { kind: 'written'; fileName: string }
  | { kind: 'refused'; problem: CheckpointProblem };

interface TenantCheckpointContext {
  directory: string;
  keys: CheckpointKeys;
  signingKey: KeyObject;
  now: () => Date;
}

async function checkpointTenant(
  transaction: ScopedTransaction,
  tenantId: string,
  newestFirst: readonly CheckpointFileName[],
  context: TenantCheckpointContext,
): Promise<TenantOutcome> {
  const head = await readChainHead(transaction, tenantId);
  if (!head) return { kind: 'empty' };
  const fileName = checkpointFileName(tenantId, head.chainSequence);
  if (!head.rowMatches) {
    const message = 'the chain head does not match the row at its sequence';
    const problem: CheckpointProblem = {
      fileName,
      tenantId,
      chainSequence: head.chainSequence,
      kind: 'altered',
      message,
    };
    return { kind: 'refused', problem };
  }
  const latest = await newestGenuineCheckpoint(context.directory, newestFirst, context.keys);
  if (latest) {
    const problem = await compareWithDatabase(transaction, latest.checkpoint, latest.file.fileName);
    if (problem) return { kind: 'refused', problem };
    if (latest.checkpoint.chainSequence === head.chainSequence) return { kind: 'unchanged' };
  }
  const present = await checkpointEntry(context.directory, fileName);
  if (present) return settleExisting(present, head.rowHash, context);
  const text = signCheckpoint(
    { tenantId, chainSequence: head.chainSequence, rowHash: head.rowHash, takenAt: context.now() },
    context.keys.keyName,
    context.signingKey,
  );
  if (await writeCheckpointFile(context.directory, fileName, text)) return { kind: 'written', fileName };
  // Another process wrote it first; judge what is there now.
  const raced = await checkpointEntry(context.directory, fileName);
  return raced ? settleExisting(raced, head.rowHash, context) : { kind: 'unchanged' };
}

/**
 * A file already at the head's name: the same head, genuinely signed (another process, an earlier
 * run) is nothing to do; anything else at that name would silently stop this tenant's checkpoints,
 * so it is refused and reported.
 */
async function settleExisting(
  file: CheckpointFileName,
  rowHash: string,
  context: TenantCheckpointContext,
): Promise<TenantOutcome> {
  const loaded = await loadCheckpoint(context.directory, file, context.keys);
  if ('kind' in loaded) return { kind: 'refused', problem: loaded };
  if (loaded.checkpoint.rowHash === rowHash) return { kind: 'unchanged' };
  return {
    kind: 'refused',
    problem: {
      fileName: file.fileName,
      tenantId: file.tenantId,
      chainSequence: file.chainSequence,
      kind: 'altered',
      message: 'a checkpoint at the head sequence holds another hash than the chain head',
    },
  };
}
