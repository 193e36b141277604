import type { DatabaseHandle } from '../../db/database.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { AppError } from '../../platform/errors.ts';
import { decodeIdCursor, encodeIdCursor } from '../../platform/pagination.ts';
import { checkRecords, csvRecords, indicatorFromRecord } from './indicators.import.ts';
import type { IndicatorIndex } from './indicators.index.ts';
import {
  type IndicatorRow,
  listIndicators,
  updateIndicator,
  upsertIndicators,
} from './indicators.repository.ts';
import type {
  ImportBody,
  ImportResult,
  IndicatorBody,
  IndicatorChanges,
  IndicatorListQuery,
  IndicatorView,
} from './indicators.schemas.ts';

export interface IndicatorServices {
  database: DatabaseHandle;
  /** This process's index; the other processes hear of a change from PostgreSQL (threat-check.plugin.ts). */
  index: IndicatorIndex;
}

const iso = (value: Date | null) => (value ? value.toISOString() : null);

export function indicatorView(row: IndicatorRow): IndicatorView {
  return {
    id: row.id,
    shared: row.tenant_id === null,
    indicator_type: row.indicator_type,
    indicator_value: row.indicator_value,
    threat_type: row.threat_type,
    severity: row.severity,
    confidence: row.confidence,
    source: row.source,
    description: row.description,
    first_seen: row.first_seen.toISOString(),
    last_seen: row.last_seen.toISOString(),
    expires_at: iso(row.expires_at),
    is_active: row.is_active,
  };
}

function changed(services: IndicatorServices, tenantId: string): void {
  services.index.invalidate(tenantId);
}

export async function createIndicator(
  services: IndicatorServices,
  context: AuditContext,
  body: IndicatorBody,
): Promise<IndicatorView> {
  const checked = indicatorFromRecord({ ...body });
  if ('reason' in checked) {
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field: `body.${checked.field}`, reason: checked.reason },
    ]);
  }
  const [row] = await withScope(services.database.db, { tenantId: context.tenantId }, async (transaction) => {
    const rows = await upsertIndicators(transaction, context.tenantId, [checked]);
    const written = rows[0];
    if (written) {
      await recordAudit(transaction, context, {
        entityType: 'threat_indicator',
        entityId: written.id,
        action: 'upsert',
        eventType: 'THREAT_INDICATOR_CHANGED',
        newValues: {
          type: written.indicator_type,
          value: written.indicator_value,
          severity: written.severity,
        },
      });
    }
    return rows;
  });
  if (!row) throw new AppError('CONFLICT');
  changed(services, context.tenantId);
  return indicatorView(row);
}

export async function changeIndicator(
  services: IndicatorServices,
  context: AuditContext,
  id: string,
  changes: IndicatorChanges,
): Promise<IndicatorView> {
  const row = await withScope(services.database.db, { tenantId: context.tenantId }, async (transaction) => {
    const updated = await updateIndicator(transaction, context.tenantId, id, changes);
    if (!updated)
      throw new AppError(
        'NOT_FOUND',
        'No indicator of this tenant has this id (shared feeds are read-only).',
      );
    await recordAudit(transaction, context, {
      entityType: 'threat_indicator',
      entityId: id,
      action: changes.is_active === false ? 'deactivate' : 'update',
      eventType: 'THREAT_INDICATOR_CHANGED',
      newValues: { ...changes },
    });
    return updated;
  });
  changed(services, context.tenantId);
  return indicatorView(row);
}

export async function listTenantIndicators(
  services: IndicatorServices,
  tenantId: string,
  query: IndicatorListQuery,
): Promise<{ indicators: IndicatorView[]; next_cursor: string | null }> {
  const beforeId = query.cursor ? decodeIdCursor(query.cursor) : undefined;
  const rows = await withScope(services.database.db, { tenantId }, (transaction) =>
    listIndicators(
      transaction,
      { type: query.indicator_type, active: query.is_active, beforeId },
      query.limit + 1,
    ),
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    indicators: page.map(indicatorView),
    next_cursor: rows.length > query.limit && last ? encodeIdCursor(last.id) : null,
  };
}

function importRecords(body: ImportBody): Record<string, unknown>[] {
  const field = body.format === 'csv' ? 'csv' : 'indicators';
  const missing = () =>
    new AppError('VALIDATION_FAILED', undefined, [
      { field: `body.${field}`, reason: `is required for format ${body.format}` },
    ]);
  if (body.format === 'json') {
    if (!body.indicators) throw missing();
    return body.indicators;
  }
  if (body.csv === undefined) throw missing();
  const parsed = csvRecords(body.csv);
  if ('error' in parsed)
    throw new AppError('VALIDATION_FAILED', undefined, [{ field: 'body.csv', reason: parsed.error }]);
  if (parsed.records.length > 5000) {
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field: 'body.csv', reason: 'holds more than 5000 rows' },
    ]);
  }
  return parsed.records;
}

/**
 * Bulk import (CSV or JSON): every row is checked; the valid ones are written in one transaction
 * (new, or refreshing the tenant's indicator with the same type, value and source) and each invalid
 * one is reported with its row number (the first data row is 1), field and reason.
 */
export async function importIndicators(
  services: IndicatorServices,
  context: AuditContext,
  body: ImportBody,
): Promise<ImportResult> {
  const { indicators, errors } = checkRecords(importRecords(body));
  if (indicators.length > 0) {
    await withScope(services.database.db, { tenantId: context.tenantId }, async (transaction) => {
      for (let start = 0; start < indicators.length; start += 500) {
        await upsertIndicators(transaction, context.tenantId, indicators.slice(start, start + 500));
      }
      await recordAudit(transaction, context, {
        entityType: 'threat_indicator',
        entityId: 'import',
        action: 'import',
        eventType: 'THREAT_INDICATOR_CHANGED',
        details: { format: body.format, imported: indicators.length, rejected: errors.length },
      });
    });
    changed(services, context.tenantId);
  }
  return { imported: indicators.length, rejected: errors.length, errors };
}
