import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { type CheckpointKeys, newestTenantCheckpoint } from '../../platform/audit/audit-checkpoint.ts';
import { verifyTenantAuditChain } from '../../platform/audit/audit-verifier.ts';
import { auditRowCounts, type Period } from './compliance.repository.ts';
import type { ReportContent } from './compliance-report-data.ts';

export interface AttestationSettings {
  /** The audit HMAC keys by id, as `corebank audit verify` uses them. */
  auditKeys: Map<string, Buffer>;
  /** The checkpoint directory and its public keys; undefined when no checkpoint key is configured. */
  checkpoints: { directory: string; keys: CheckpointKeys } | undefined;
}

async function checkpointFields(db: Kysely<Database>, tenantId: string, settings: AttestationSettings) {
  const checkpoints = settings.checkpoints;
  const newest = checkpoints
    ? await newestTenantCheckpoint(db, checkpoints.directory, checkpoints.keys, tenantId)
    : undefined;
  return {
    checkpoint_file: newest?.fileName ?? null,
    checkpoint_sequence: newest?.chainSequence ?? null,
    checkpoint_row_hash: newest && !newest.problem ? newest.rowHash : null,
    checkpoint_taken_at: newest && !newest.problem ? newest.takenAt.toISOString() : null,
    checkpoint_valid: newest ? newest.problem === undefined : null,
    checkpoint_problem: newest?.problem ? `${newest.problem.kind}: ${newest.problem.message}` : null,
  };
}

/**
 * The audit-integrity attestation: the result of walking the tenant's whole hash chain (the walk of
 * `corebank audit verify`) at generation time, with its newest signed checkpoint checked against the
 * database, and the audit rows written in the period. total_records is the sealed rows verified.
 */
export async function buildAttestation(
  db: Kysely<Database>,
  tenantId: string,
  period: Period,
  settings: AttestationSettings,
): Promise<ReportContent> {
  const chain = await verifyTenantAuditChain(db, tenantId, settings.auditKeys);
  const checkpoint = await checkpointFields(db, tenantId, settings);
  const inPeriod = await withScope(db, { tenantId }, (transaction) =>
    auditRowCounts(transaction, tenantId, period),
  );
  const row = {
    chain_valid: chain.problem === undefined,
    sealed_rows: chain.report.sealedRows,
    unsealed_rows: chain.report.unsealedRows,
    problem_kind: chain.problem?.kind ?? null,
    problem_sequence: chain.problem?.chainSequence ?? null,
    problem_message: chain.problem?.message ?? null,
    ...checkpoint,
    audit_rows_in_period: inPeriod.rows,
    sealed_rows_in_period: inPeriod.sealed,
  };
  return {
    columns: Object.keys(row),
    rows: [row],
    summary: {
      chain_valid: row.chain_valid,
      checkpoint_valid: row.checkpoint_valid,
      sealed_rows: row.sealed_rows,
    },
    parameters: {
      verification: 'corebank audit verify',
      checkpoints: settings.checkpoints ? 'checked' : 'not configured',
    },
    totalRecords: chain.report.sealedRows,
  };
}
