import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { AppError } from '../../platform/errors.ts';
import {
  findPolicy,
  listPolicies,
  lockPolicy,
  type PolicyRow,
  updatePolicy,
} from './retention.repository.ts';
import type { RetentionPolicyChanges, RetentionPolicyView } from './retention.schemas.ts';

const iso = (value: Date | null) => (value ? value.toISOString() : null);

function policyView(row: PolicyRow): RetentionPolicyView {
  return {
    ...row,
    last_cleanup_at: iso(row.last_cleanup_at),
    archived_through: iso(row.archived_through),
    updated_at: row.updated_at.toISOString(),
  };
}

/** The policies are platform-wide (one per table, every tenant's rows): any tenant's staff read the same. */
export async function listRetentionPolicies(
  db: Kysely<Database>,
  tenantId: string,
): Promise<{ items: RetentionPolicyView[] }> {
  const rows = await withScope(db, { tenantId }, (transaction) => listPolicies(transaction));
  return { items: rows.map(policyView) };
}

export async function readRetentionPolicy(
  db: Kysely<Database>,
  tenantId: string,
  table: string,
): Promise<RetentionPolicyView> {
  const row = await withScope(db, { tenantId }, (transaction) => findPolicy(transaction, table));
  if (!row) throw new AppError('NOT_FOUND');
  return policyView(row);
}

function invalid(field: string, reason: string): AppError {
  return new AppError('VALIDATION_FAILED', undefined, [{ field, reason }]);
}

/** The ages as they will be once the change applies: delete ≥ archive and delete ≥ retention. */
function checkAges(current: PolicyRow, changes: RetentionPolicyChanges): void {
  const retention = changes.retention_period_days ?? current.retention_period_days;
  const archive =
    changes.archive_after_days === undefined ? current.archive_after_days : changes.archive_after_days;
  const deletion =
    changes.delete_after_days === undefined ? current.delete_after_days : changes.delete_after_days;
  if (deletion !== null && archive !== null && deletion < archive) {
    throw invalid('body.delete_after_days', 'must be at least archive_after_days');
  }
  if (deletion !== null && deletion < retention) {
    throw invalid('body.delete_after_days', 'must be at least retention_period_days');
  }
}

/**
 * Changes a policy under its row lock (the bounds are checked against the row as it is when the
 * change commits), with its audit row in the same transaction.
 */
export async function changeRetentionPolicy(
  db: Kysely<Database>,
  context: AuditContext,
  table: string,
  changes: RetentionPolicyChanges,
): Promise<RetentionPolicyView> {
  const row = await withScope(db, { tenantId: context.tenantId }, async (transaction) => {
    const current = await lockPolicy(transaction, table);
    if (!current) throw new AppError('NOT_FOUND');
    checkAges(current, changes);
    const updated = await updatePolicy(transaction, table, changes);
    await recordAudit(transaction, context, {
      entityType: 'retention_policy',
      entityId: table,
      action: 'UPDATE',
      eventType: 'CONFIG_CHANGE',
      oldValues: {
        retention_period_days: current.retention_period_days,
        archive_after_days: current.archive_after_days,
        delete_after_days: current.delete_after_days,
        is_active: current.is_active,
      },
      newValues: { ...changes },
    });
    return updated;
  });
  return policyView(row);
}
