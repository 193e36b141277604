import { type Kysely, sql } from 'kysely';
import type { MoneyConfig } from '../../config/money-config.ts';
import type { Database } from '../../db/schema.ts';
import { staffRoles } from '../../platform/auth/permissions.ts';
import { type ErrorCode, errorCatalog } from '../../platform/errors.ts';

/** One transfer of a request: what the client asked for, validated and with its asset resolved. */
export interface TransferItem {
  to_account_number: string;
  amount: number;
  asset: string;
  description?: string | undefined;
  reference?: string | undefined;
}

/** Where a request came from, for its audit rows. */
export interface TransferAudit {
  ip_address?: string | undefined;
  user_agent?: string | undefined;
  endpoint?: string | undefined;
  method?: string | undefined;
  request_id?: string | undefined;
  session_id?: string | undefined;
  /** The status the request answers with when the transfer succeeds (migration 0013). */
  status_code?: number | undefined;
  device_fingerprint?: string | undefined;
  location?: Record<string, unknown> | undefined;
}

/**
 * One money request as corebank_transfer_group (migration 0010) takes it. With `session_id` the
 * statement checks the session as the guard would; without it the caller was checked already.
 */
export interface TransferRequest {
  user_id: string;
  session_id?: string | undefined;
  key?: string | undefined;
  hash: string;
  endpoint: string;
  batch: boolean;
  atomic: boolean;
  items: TransferItem[];
  audit: TransferAudit;
}

/** A request's outcome: its response, and whether it is stored under its key (`unstored` is not). */
export interface TransferResult {
  status: number;
  body: Record<string, unknown>;
  unstored?: boolean;
  replayed?: boolean;
  /** The sender's transfers in the current and previous velocity windows (migration 0018). */
  velocity_transfers?: number;
}

/** The codes the statement may answer with, so its rejections carry the catalog's messages. */
const statementCodes: readonly ErrorCode[] = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'TENANT_SUSPENDED',
  'ACCOUNT_BLOCKED',
  'MAINTENANCE_MODE',
  'IDEMPOTENCY_KEY_REUSED',
  'KYC_LIMIT_EXCEEDED',
  'RECIPIENT_NOT_FOUND',
  'SELF_TRANSFER',
  'RECIPIENT_BLOCKED',
  'INSUFFICIENT_FUNDS',
  'BALANCE_LIMIT_EXCEEDED',
];

export interface StatementSettings {
  idleSeconds: number;
  touchSeconds: number;
  /** The permission the request needs, and the roles that hold it. */
  permission: string;
  roles: readonly string[];
  /** Detection's velocity window: the statement keeps and answers each sender's count (migration 0018). */
  velocityWindowMinutes?: number | undefined;
}

/** The settings every group carries, as one JSON text built once per configuration. */
export function transferSettingsJson(money: MoneyConfig, session: StatementSettings): string {
  const messages: Record<string, string> = {};
  const statuses: Record<string, number> = {};
  for (const code of statementCodes) {
    messages[code] = errorCatalog[code].message;
    statuses[code] = errorCatalog[code].status;
  }
  return JSON.stringify({
    idle_seconds: session.idleSeconds,
    touch_seconds: session.touchSeconds,
    permission: session.permission,
    roles: session.roles,
    staff_roles: staffRoles,
    ttl_hours: money.idempotencyKeyTtlHours,
    limited_asset: money.kycLimitedAsset,
    tiers: money.kycTierLimits.map((tier) => ({
      max_balance: tier.maximumBalanceMinor,
      daily: tier.dailyOutgoingMinor,
      single: tier.singleTransferMaximumMinor,
    })),
    messages,
    statuses,
    ...(session.velocityWindowMinutes === undefined
      ? {}
      : { velocity_minutes: session.velocityWindowMinutes }),
  });
}

/**
 * Posts a group of one tenant's transfer requests in one statement: one database round trip and one
 * transaction (the statement's own), with one result per request in order.
 */
export async function postTransferGroup(
  db: Kysely<Database>,
  tenantId: string,
  requests: readonly TransferRequest[],
  settingsJson: string,
): Promise<TransferResult[]> {
  const result = await sql<{ results: TransferResult[] }>`
    select corebank_transfer_group(${tenantId}::uuid, ${JSON.stringify(requests)}::jsonb,
      ${settingsJson}::jsonb) as results`.execute(db);
  const results = result.rows[0]?.results;
  if (!Array.isArray(results) || results.length !== requests.length) {
    throw new Error('corebank_transfer_group answered a result per request');
  }
  return results;
}
