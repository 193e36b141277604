import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import { sessionTouchIntervalMs } from '../../platform/auth/auth-guard.ts';
import { rolePermissions } from '../../platform/auth/permissions.ts';
import { AppError, type ErrorCode, type ErrorDetail } from '../../platform/errors.ts';
import { locationObject } from '../../platform/geolocation.ts';
import { type MoneyResponse, requestHash } from '../ledger/idempotency.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import type {
  StatementSettings,
  TransferAudit,
  TransferItem,
  TransferRequest,
  TransferResult,
} from '../ledger/transfer.repository.ts';
import { type TransferEngine, transferEngineFor } from '../ledger/transfer-engine.ts';
import { assertAmount, requireAsset } from '../wallets/assets.service.ts';

export interface TransferInput {
  to_account_number: string;
  amount: number;
  asset?: string | undefined;
  description?: string | undefined;
  /** A batch item's client reference, unique within the batch. */
  reference?: string | undefined;
}

export interface TransferBatchInput {
  transfers: TransferInput[];
  atomic: boolean;
}

/**
 * Who moves the money. With `uncheckedSessionId` the session is checked in the transfer's own statement (the
 * route's guard verified only the token); without it the caller was checked already (a service test,
 * a job).
 */
export interface TransferCaller {
  tenantId: string;
  userId: string;
  uncheckedSessionId?: string | undefined;
}

export const transferEndpoint = 'POST /v1/transactions/transfer';
export const transferBatchEndpoint = 'POST /v1/transactions/batch';
export const transferPermission = 'transactions:create';

const userAgentLengthMax = 1000;

/**
 * Moves money from the caller to the owner of `to_account_number`: a transfer_out entry for the sender
 * and a transfer_in entry for the receiver in one movement, at most once per key, in one database
 * call shared with the transfers that arrive at the same time (group commit).
 */
export async function transfer(
  services: MoneyServices,
  caller: TransferCaller,
  audit: AuditContext,
  idempotencyKey: string | undefined,
  input: TransferInput,
): Promise<MoneyResponse> {
  const items = [await transferItem(services, input, 'body.')];
  return submit(services, caller, audit, idempotencyKey, {
    endpoint: transferEndpoint,
    body: input,
    batch: false,
    atomic: true,
    items,
  });
}

/**
 * Up to 1,000 transfers from the caller's wallets under one key: `atomic` posts all or none (the first
 * failing item is named by its index), otherwise each item gets its own outcome.
 */
export async function transferBatch(
  services: MoneyServices,
  caller: TransferCaller,
  audit: AuditContext,
  idempotencyKey: string | undefined,
  input: TransferBatchInput,
): Promise<MoneyResponse> {
  const items: TransferItem[] = [];
  for (const [index, item] of input.transfers.entries()) {
    items.push(await transferItem(services, item, `body.transfers.${index}.`));
  }
  return submit(services, caller, audit, idempotencyKey, {
    endpoint: transferBatchEndpoint,
    body: input,
    batch: true,
    atomic: input.atomic,
    items,
  });
}

async function transferItem(
  services: MoneyServices,
  input: TransferInput,
  prefix: string,
): Promise<TransferItem> {
  if (services.money.maintenanceMode) throw new AppError('MAINTENANCE_MODE');
  const asset = await requireAsset(services.db, input.asset ?? 'IDR', `${prefix}asset`);
  assertAmount(input.amount, asset, `${prefix}amount`);
  return {
    to_account_number: input.to_account_number,
    amount: input.amount,
    asset: asset.code,
    description: input.description,
    reference: input.reference,
  };
}

interface Submission {
  endpoint: string;
  body: unknown;
  batch: boolean;
  atomic: boolean;
  items: TransferItem[];
}

async function submit(
  services: MoneyServices,
  caller: TransferCaller,
  audit: AuditContext,
  key: string | undefined,
  submission: Submission,
): Promise<MoneyResponse> {
  const request: TransferRequest = {
    user_id: caller.userId,
    session_id: caller.uncheckedSessionId,
    key,
    hash: requestHash(submission.endpoint, submission.body),
    endpoint: submission.endpoint,
    batch: submission.batch,
    atomic: submission.atomic,
    items: submission.items,
    audit: transferAudit(audit, caller),
  };
  return responseOf(await transferEngine(services).submit(caller.tenantId, request));
}

const enginesByServices = new WeakMap<MoneyServices, TransferEngine>();

/** The group committer that posts this application's transfers (its statistics show the grouping). */
export function transferEngine(services: MoneyServices): TransferEngine {
  // Looked up once per services object: this runs on every transfer.
  let engine = enginesByServices.get(services);
  if (!engine) {
    engine = transferEngineFor(services, statementSettings(services));
    enginesByServices.set(services, engine);
  }
  return engine;
}

function statementSettings(services: MoneyServices): StatementSettings {
  const roles = Object.entries(rolePermissions)
    .filter(([, permissions]) => (permissions as readonly string[]).includes(transferPermission))
    .map(([role]) => role);
  return {
    idleSeconds: services.sessionIdleTimeoutSeconds ?? 1800,
    touchSeconds: Math.round(sessionTouchIntervalMs / 1000),
    permission: transferPermission,
    roles,
    velocityWindowMinutes: services.velocityWindowMinutes,
  };
}

function transferAudit(audit: AuditContext, caller: TransferCaller): TransferAudit {
  return {
    ip_address: audit.ipAddress,
    user_agent: audit.userAgent?.slice(0, userAgentLengthMax),
    endpoint: audit.endpoint?.slice(0, 255),
    method: audit.method,
    request_id: audit.requestId,
    session_id: audit.sessionId ?? caller.uncheckedSessionId,
    status_code: audit.statusCode,
    device_fingerprint: audit.deviceFingerprint,
    location: locationObject(audit.location),
  };
}

interface ResultError {
  error: { code: ErrorCode; message: string; details?: ErrorDetail[] };
}

/** A success (fresh or replayed) is the response; a rejection (stored or not) is thrown as the typed error. */
function responseOf(result: TransferResult): MoneyResponse {
  if (result.status < 400 && result.unstored !== true)
    return { status: result.status, body: result.body, velocityTransfers: result.velocity_transfers };
  const { error } = result.body as unknown as ResultError;
  throw new AppError(error.code, error.message, error.details);
}
