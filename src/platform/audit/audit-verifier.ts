import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { applyScope, type ScopedTransaction } from '../../db/tenant-transaction.ts';
import {
  canonicalRowSql,
  computeRowHash,
  erasureAttestationMatches,
  genesisHash,
  signatureMatches,
} from './audit-hash.ts';
import { sealerRole } from './audit-sealer.ts';

export type ChainProblemKind = 'missing' | 'altered' | 'out_of_order' | 'bad_signature' | 'unknown_key';

export interface ChainProblem {
  tenantId: string;
  kind: ChainProblemKind;
  chainSequence: number;
  rowId: string | undefined;
  message: string;
}

export interface TenantChainReport {
  tenantId: string;
  sealedRows: number;
  unsealedRows: number;
  oldestUnsealedAgeSeconds: number | undefined;
}

export interface VerificationResult {
  problem: ChainProblem | undefined;
  tenants: TenantChainReport[];
}

interface ChainRow {
  id: string;
  chain_sequence: number;
  previous_hash: string;
  row_hash: string;
  signature: string;
  signing_key_id: string;
  canonical: string;
  /** The attestation of the row's erasure (audit_erasures), when its personal fields were erased. */
  erasure_attestation: string | null;
  erasure_key_id: string | null;
}

interface WalkState {
  expectedSequence: number;
  previousHash: string;
}

const pageSize = 2000;

/**
 * Walks every tenant's audit chain in sequence order and stops at the first row that is missing
 * (a gap in the sequence or a tail shorter than the recorded chain head), altered (its content no
 * longer hashes to its row_hash, or the signature does not match) or out of order (its previous_hash
 * is not the hash of the row before it).
 */
export async function verifyAuditChains(
  db: Kysely<Database>,
  keys: Map<string, Buffer>,
  onProgress?: (rowsChecked: number) => void,
): Promise<VerificationResult> {
  const tenants = await db.selectFrom('tenants').select('id').orderBy('id').execute();
  const reports: TenantChainReport[] = [];
  for (const tenant of tenants) {
    const outcome = await verifyTenantAuditChain(db, tenant.id, keys, onProgress);
    reports.push(outcome.report);
    if (outcome.problem) return { problem: outcome.problem, tenants: reports };
  }
  return { problem: undefined, tenants: reports };
}

/**
 * One tenant's chain (verifyAuditChains walks each; the compliance attestation of issue 11 item 4
 * attests one tenant's chain and never reads another's).
 */
export async function verifyTenantAuditChain(
  db: Kysely<Database>,
  tenantId: string,
  keys: Map<string, Buffer>,
  onProgress?: (rowsChecked: number) => void,
): Promise<{ problem: ChainProblem | undefined; report: TenantChainReport }> {
  return db.transaction().execute(async (transaction) => {
    await applyScope(transaction, { tenantId }, sealerRole);
    await sql`select set_config('TimeZone', 'UTC', true)`.execute(transaction);
    const state: WalkState = { expectedSequence: 1, previousHash: genesisHash };
    let problem: ChainProblem | undefined;
    while (!problem) {
      const page = await sql<ChainRow>`
        select a.id, a.chain_sequence, a.previous_hash, a.row_hash, a.signature, a.signing_key_id,
               ${sql.raw(canonicalRowSql)} as canonical,
               e.attestation as erasure_attestation, e.signing_key_id as erasure_key_id
        from audit_logs a
        left join audit_erasures e on e.tenant_id = a.tenant_id and e.audit_log_id = a.id
        where a.tenant_id = ${tenantId} and a.chain_sequence >= ${state.expectedSequence}
        order by a.chain_sequence, a.id
        limit ${pageSize}`.execute(transaction);
      for (const row of page.rows) {
        problem = checkRow(tenantId, row, state, keys);
        if (problem) break;
      }
      onProgress?.(page.rows.length);
      if (page.rows.length < pageSize) break;
    }
    problem ??= await checkHead(transaction, tenantId, state);
    const report = await summarize(transaction, tenantId, state.expectedSequence - 1);
    return { problem, report };
  });
}

function checkRow(
  tenantId: string,
  row: ChainRow,
  state: WalkState,
  keys: Map<string, Buffer>,
): ChainProblem | undefined {
  const at = (kind: ChainProblemKind, message: string): ChainProblem => ({
    tenantId,
    kind,
    chainSequence: row.chain_sequence,
    rowId: row.id,
    message,
  });
  if (row.chain_sequence > state.expectedSequence) {
    return {
      ...at('missing', `row ${state.expectedSequence} of the chain is missing`),
      chainSequence: state.expectedSequence,
      rowId: undefined,
    };
  }
  if (row.chain_sequence < state.expectedSequence) {
    return at('out_of_order', `sequence ${row.chain_sequence} appears twice`);
  }
  if (row.previous_hash !== state.previousHash) {
    return at('out_of_order', 'its previous_hash is not the hash of the row before it');
  }
  if (
    computeRowHash(row.previous_hash, row.chain_sequence, row.canonical) !== row.row_hash &&
    !erasureAttested(row, keys)
  ) {
    return at('altered', 'its content does not match its hash');
  }
  const key = keys.get(row.signing_key_id);
  if (!key) return at('unknown_key', `it is signed with unknown key id "${row.signing_key_id}"`);
  if (!signatureMatches(key, row.row_hash, row.signature)) {
    return at('bad_signature', 'its signature does not match its hash');
  }
  state.expectedSequence += 1;
  state.previousHash = row.row_hash;
  return undefined;
}

/** An erased row verifies by the attestation of its current content (audit-hash.ts attestErasure). */
function erasureAttested(row: ChainRow, keys: Map<string, Buffer>): boolean {
  if (row.erasure_attestation === null || row.erasure_key_id === null) return false;
  const key = keys.get(row.erasure_key_id);
  return (
    key !== undefined && erasureAttestationMatches(key, row.row_hash, row.canonical, row.erasure_attestation)
  );
}

async function checkHead(
  transaction: ScopedTransaction,
  tenantId: string,
  state: WalkState,
): Promise<ChainProblem | undefined> {
  const head = await transaction
    .selectFrom('audit_chain_heads')
    .select(['last_sequence', 'last_hash'])
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  const lastSequence = state.expectedSequence - 1;
  if (!head || head.last_sequence === lastSequence) {
    if (!head || head.last_hash === state.previousHash) return undefined;
    return {
      tenantId,
      kind: 'altered',
      chainSequence: lastSequence,
      rowId: undefined,
      message: 'the last row does not match the recorded chain head',
    };
  }
  return {
    tenantId,
    kind: 'missing',
    chainSequence: lastSequence + 1,
    rowId: undefined,
    message: `the chain ends at ${lastSequence} but its head records ${head.last_sequence} rows`,
  };
}

async function summarize(
  transaction: ScopedTransaction,
  tenantId: string,
  sealedRows: number,
): Promise<TenantChainReport> {
  const unsealed = await sql<{ count: number; oldest_age_seconds: number | null }>`
    select count(*)::int as count,
           extract(epoch from now() - min(created_at))::float8 as oldest_age_seconds
    from audit_logs where tenant_id = ${tenantId} and row_hash is null`.execute(transaction);
  const summary = unsealed.rows[0];
  return {
    tenantId,
    sealedRows,
    unsealedRows: summary?.count ?? 0,
    oldestUnsealedAgeSeconds: summary?.oldest_age_seconds ?? undefined,
  };
}
