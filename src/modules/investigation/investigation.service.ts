import { isIP } from 'node:net';
import type { DatabaseHandle } from '../../db/database.ts';
import { type Scope, withScope } from '../../db/tenant-transaction.ts';
import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import { recordAudit } from '../../platform/audit/audit-trail.ts';
import { recordsAsCsv } from '../../platform/csv.ts';
import { AppError } from '../../platform/errors.ts';
import { decodeCursor, encodeCursor } from '../../platform/pagination.ts';
import { type ListRow, listQuery, readList, resolveSecurityEvent } from './investigation.repository.ts';
import type { ListName, ListQuery, ResolveEventBody } from './investigation.schemas.ts';

export type ListPage = {
  items: Record<string, unknown>[];
  next_cursor: string | null;
};

/** The `ip` filter: an address, or a CIDR range whose prefix fits the address family; else 400. */
export function checkIpFilter(value: string | undefined): void {
  if (value === undefined) return;
  const [address = '', prefix, ...rest] = value.split('/');
  const family = isIP(address);
  const bits = family === 4 ? 32 : 128;
  const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
  if (family === 0 || rest.length > 0 || !prefixOk) {
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field: 'querystring.ip', reason: 'must be an IPv4 or IPv6 address or CIDR range' },
    ]);
  }
}

function pageOf(rows: ListRow[], limit: number): ListPage {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const items = page.map(({ cursor_time: _cursor, ...item }) => item);
  return {
    items,
    next_cursor: rows.length > limit && last ? encodeCursor([last.cursor_time, last.id]) : null,
  };
}

/**
 * One page of a list. Staff lists read in the tenant's scope; own lists (ownLoginHistory,
 * ownAuditLogs) in the caller's scope as user, so row-level security admits only their rows.
 */
export async function readListPage(
  database: DatabaseHandle,
  name: ListName,
  scope: Scope,
  query: ListQuery,
): Promise<ListPage> {
  checkIpFilter(typeof query.ip === 'string' ? query.ip : undefined);
  const [time, id] = query.cursor ? decodeCursor(query.cursor, ['time', 'id']) : [];
  const start = time && id ? { time, id } : undefined;
  const compiled = listQuery(database.db, name, scope.tenantId, query, start, scope.userId);
  return pageOf(await readList(database, scope, compiled), query.limit);
}

/** The page as CSV text with a header row (the columns of the list's rows, in order). */
export function pageAsCsv(columns: readonly string[], page: ListPage): string {
  return recordsAsCsv(columns, page.items);
}

/** Resolves a security event (or marks it a false positive), with its audit row, in one transaction. */
export async function resolveEvent(
  database: DatabaseHandle,
  context: AuditContext & { adminId: string },
  eventId: string,
  body: ResolveEventBody,
): Promise<void> {
  await withScope(database.db, { tenantId: context.tenantId }, async (transaction) => {
    const outcome = await resolveSecurityEvent(transaction, context.tenantId, eventId, {
      falsePositive: body.false_positive,
      notes: body.notes,
      resolvedBy: context.adminId,
    });
    if (outcome === 'not_found') throw new AppError('NOT_FOUND');
    if (outcome === 'already_resolved') {
      throw new AppError('CONFLICT', 'The security event is already resolved.');
    }
    await recordAudit(transaction, context, {
      entityType: 'security_event',
      entityId: eventId,
      action: body.false_positive ? 'mark_false_positive' : 'resolve',
      eventType: 'SECURITY_EVENT_RESOLVED',
      newValues: { false_positive: body.false_positive },
      statusCode: 204,
    });
  });
}
