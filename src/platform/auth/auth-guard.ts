import assert from 'node:assert/strict';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { databaseUnavailable } from '../../db/database-errors.ts';
import type { Database } from '../../db/schema.ts';
import type { PendingSessionCheck } from '../../db/tenant-transaction.ts';
import { userStatus } from '../../modules/identity/user-status.ts';
import { AppError } from '../errors.ts';
import { publicPermission } from '../route-permission.ts';
import { tenantHeader } from '../tenant-resolver.ts';
import {
  type AccessTokenClaims,
  type AccessTokenVerifier,
  createAccessTokenVerifier,
} from './access-token.ts';
import { permissionsFor, type RoleName, rolePermissions, staffRoles } from './permissions.ts';
import type { Principal } from './principal.ts';

/**
 * Staff must pass a second factor (issue 3: MFA is mandatory for staff roles). Until a staff session
 * has, it may only enrol MFA and end its sessions.
 */
export const staffWithoutMfaPermissions: ReadonlySet<string> = new Set([
  'mfa:manage_own',
  'sessions:manage_own',
]);

/**
 * last_activity_at is written at most this often per session: the idle timeout is minutes long, so
 * a write on every request would cost far more than the precision it buys.
 */
export const sessionTouchIntervalMs = 30_000;

const bearerPattern = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/;
const tokenLengthMax = 4096;

/** A row of corebank_authenticate_session (its output columns are prefixed to keep PL/pgSQL unambiguous). */
interface SessionRow {
  r_user_id: string;
  r_is_active: boolean;
  r_expires_at: Date;
  r_absolute_expires_at: Date;
  r_mfa_verified: boolean;
  r_role: RoleName;
  r_status: 0 | 1 | 2;
  r_permissions: string[];
  r_deleted_at: Date | null;
  r_tenant_status: string;
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header.length > tokenLengthMax) return undefined;
  return bearerPattern.exec(header)?.[1];
}

/** Permission sets are shared between requests of the same role and extras: building one is the costly part. */
const permissionCache = new Map<string, ReadonlySet<string>>();
const permissionCacheEntriesMax = 1000;

function principalPermissions(row: SessionRow): ReadonlySet<string> {
  const isStaff = staffRoles.includes(row.r_role);
  if (isStaff && !row.r_mfa_verified) return staffWithoutMfaPermissions;
  const key = `${row.r_role}|${row.r_permissions.join(',')}`;
  let permissions = permissionCache.get(key);
  if (!permissions) {
    if (permissionCache.size >= permissionCacheEntriesMax) permissionCache.clear();
    permissions = permissionsFor(row.r_role in rolePermissions ? row.r_role : 'customer', row.r_permissions);
    permissionCache.set(key, permissions);
  }
  return permissions;
}

/**
 * Loads the session and its user and checks that both are still good. The session row is read on
 * every request, so logout, revocation, expiry, a blocked staff member and a suspended tenant take
 * effect on the very next request. Returns undefined when the session is not valid (401); throws
 * TENANT_SUSPENDED or ACCOUNT_BLOCKED (403) for a valid session that may not act.
 *
 * This is the one query that does not go through withScope: it runs on every authenticated request,
 * and withScope's four round trips (begin, scope, query, commit) cost more than the rest of the check.
 * corebank_authenticate_session (migrations 0006, 0008) sets the same scope inside a single statement,
 * as the same non-owner role, so row-level security applies exactly as it would under withScope; it
 * returns the tenant's status with the session, so the suspension check costs no extra round trip.
 */
export async function loadPrincipal(
  db: Kysely<Database>,
  claims: AccessTokenClaims,
  idleTimeoutSeconds: number,
): Promise<Principal | undefined> {
  const touchSeconds = Math.round(sessionTouchIntervalMs / 1000);
  const result = await sql<SessionRow>`select * from corebank_authenticate_session(
    ${claims.tenantId}, ${claims.sessionId}, ${idleTimeoutSeconds}, ${touchSeconds})`.execute(db);
  return principalFromSessionRow(result.rows[0], claims);
}

const canonicalUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** loadPrincipal's statement as literal text, for a read that carries the check (readInScope). */
export function sessionCheckStatement(claims: AccessTokenClaims, idleTimeoutSeconds: number): string {
  assert.ok(canonicalUuid.test(claims.tenantId) && canonicalUuid.test(claims.sessionId), 'claims are uuids');
  assert.ok(
    Number.isSafeInteger(idleTimeoutSeconds) && idleTimeoutSeconds > 0,
    'idle timeout is whole seconds',
  );
  const touchSeconds = Math.round(sessionTouchIntervalMs / 1000);
  return `select * from corebank_authenticate_session('${claims.tenantId}'::uuid, '${claims.sessionId}'::uuid, ${idleTimeoutSeconds}, ${touchSeconds})`;
}

/** The guard's decision on a session row: a principal, undefined (401), or a 403 thrown. */
export function principalFromSessionRow(
  row: SessionRow | undefined,
  claims: AccessTokenClaims,
): Principal | undefined {
  const nowMs = Date.now();
  if (!row || row.r_user_id !== claims.userId || !row.r_is_active) return undefined;
  if (row.r_expires_at.getTime() <= nowMs || row.r_absolute_expires_at.getTime() <= nowMs) return undefined;
  if (row.r_status === userStatus.inactive || row.r_deleted_at !== null) return undefined;
  if (row.r_tenant_status !== 'active') throw new AppError('TENANT_SUSPENDED');
  const isStaff = staffRoles.includes(row.r_role);
  // Seed 000: a blocked admin cannot perform any actions. A blocked customer keeps reading their
  // data; the money services refuse their movements (ACCOUNT_BLOCKED).
  if (isStaff && row.r_status === userStatus.blocked)
    throw new AppError('ACCOUNT_BLOCKED', 'This staff account is blocked.');
  return {
    tenantId: claims.tenantId,
    userId: claims.userId,
    sessionId: claims.sessionId,
    role: row.r_role,
    isStaff,
    status: row.r_status,
    permissions: principalPermissions(row),
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access token of a route whose session is checked in its own statement. */
    claims?: AccessTokenClaims;
    /**
     * Any route's access token once its signature verified and its tenant matched, whatever the session
     * check says next: the background logs (access log, refusal events) file the request under it.
     */
    verifiedClaims?: AccessTokenClaims;
    /** A 'with-read' route's deferred session check (see callerScope in principal.ts). */
    pendingSessionCheck?: PendingSessionCheck & { checked: boolean };
  }
  interface FastifyInstance {
    /** The guard's full session check, for an in-statement route that answers before its statement runs. */
    checkSession(request: FastifyRequest): Promise<void>;
    /** `METHOD url` → permission of every route registered after the guard (the route-walk test reads it). */
    routePermissions: Map<string, string>;
  }
}

export interface AuthGuardOptions {
  verifier?: AccessTokenVerifier;
}

/**
 * The authentication guard: every route whose config.permission is not 'public' needs a valid
 * access token (401 UNAUTHENTICATED otherwise) whose principal holds the permission (403 FORBIDDEN).
 * Registered on the root instance, so it covers every module's routes.
 */
export function registerAuthGuard(app: FastifyInstance, options: AuthGuardOptions = {}): void {
  const verifier = options.verifier ?? createAccessTokenVerifier(app.config.authentication);
  const idleTimeoutSeconds = app.config.authentication.sessionIdleTimeoutSeconds;
  const routePermissions = new Map<string, string>();
  app.decorate('routePermissions', routePermissions);
  const decide = (request: FastifyRequest, principal: Principal | undefined, permission: string) => {
    if (!principal) throw new AppError('UNAUTHENTICATED');
    request.principal = principal;
    if (!principal.permissions.has(permission)) throw new AppError('FORBIDDEN');
  };
  const checkSession = async (request: FastifyRequest, claims: AccessTokenClaims, permission: string) => {
    decide(request, await loadPrincipal(app.database.db, claims, idleTimeoutSeconds), permission);
  };
  const checkSessionOnce = async (request: FastifyRequest) => {
    const permission = request.routeOptions.config?.permission;
    if (!request.claims || permission === undefined) throw new AppError('UNAUTHENTICATED');
    const pending = request.pendingSessionCheck;
    if (pending?.checked) return;
    if (pending) pending.checked = true;
    await checkSession(request, request.claims, permission);
  };
  app.decorate('checkSession', checkSessionOnce);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods)
      routePermissions.set(`${method} ${route.url}`, route.config?.permission ?? publicPermission);
    if (route.config?.sessionCheck === 'with-read') wrapWithReadHandler(route, checkSessionOnce);
  });
  const deferredCheck = (request: FastifyRequest, claims: AccessTokenClaims, permission: string) => {
    const pending: PendingSessionCheck & { checked: boolean } = {
      checked: false,
      statement: sessionCheckStatement(claims, idleTimeoutSeconds),
      complete: (row) => {
        pending.checked = true;
        decide(request, principalFromSessionRow(row as SessionRow | undefined, claims), permission);
      },
      runAlone: () => checkSessionOnce(request),
    };
    return pending;
  };
  app.addHook('onRequest', async (request) => {
    const permission = request.routeOptions.config?.permission;
    // No permission means no route matched: the not-found handler answers.
    if (permission === undefined || permission === publicPermission) return;
    const token = bearerToken(request);
    if (!token) throw new AppError('UNAUTHENTICATED');
    const claims = await verifier.verify(token);
    if (!claims) throw new AppError('UNAUTHENTICATED');
    const headerTenant = request.headers[tenantHeader];
    // A token names its tenant; a request that asks for another tenant is not this token's to make.
    if (typeof headerTenant === 'string' && headerTenant.toLowerCase() !== claims.tenantId) {
      throw new AppError('UNAUTHENTICATED');
    }
    request.verifiedClaims = claims;
    const mode = request.routeOptions.config?.sessionCheck;
    if (mode === 'in-statement' || mode === 'with-read') {
      request.claims = claims;
      if (mode === 'with-read') request.pendingSessionCheck = deferredCheck(request, claims, permission);
      return;
    }
    await checkSession(request, claims, permission);
  });
}

/**
 * A 'with-read' handler answers only after the session check: a request failing its schema, a
 * handler that throws before its read, and one that read nothing are all checked on their own first,
 * so such a route answers 401 / 403 exactly where a guarded route would.
 */
function wrapWithReadHandler(route: RouteOptions, checkSession: (request: FastifyRequest) => Promise<void>) {
  const handler = route.handler;
  route.attachValidation = true;
  route.handler = async function withReadHandler(this: FastifyInstance, request, reply) {
    try {
      if (request.validationError) throw request.validationError;
      const result = await handler.call(this, request, reply);
      await checkSession(request);
      return result;
    } catch (error) {
      // An unavailable database answers 503 whoever asks: checking again would only wait out the
      // acquire timeout a second time. Every other error is answered after the check.
      if (!databaseUnavailable(error)) await checkSession(request);
      throw error;
    }
  };
}
