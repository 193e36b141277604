/**
 * The routes the threat-intelligence checks cover, apart from the plugin so the OpenAPI conventions
 * (src/platform/openapi-conventions.ts) document the same sets the hook enforces.
 */

/**
 * Logins, registrations and password resets: nobody is signed in yet, so a medium hit is let through
 * (the login's own second factor is its challenge) and only scored.
 */
const entryRoutes: ReadonlySet<string> = new Set([
  'POST /v1/auth/banking/login',
  'POST /v1/auth/banking/verify',
  'POST /v1/auth/email/login',
  'POST /v1/auth/email/register',
  'POST /v1/auth/password/forgot',
  'POST /v1/admin/auth/login',
]);

/** Money movements: a signed-in user's medium hit is a step-up challenge. */
export const challengedRoutes: ReadonlySet<string> = new Set([
  'POST /v1/transactions/transfer',
  'POST /v1/transactions/batch',
  'POST /v1/transactions/topup',
  'POST /v1/transactions/withdraw',
  'POST /v1/admin/disbursements',
]);

/** Logins, registrations and money movements: checked against the tenant's indicators. */
export const checkedRoutes: ReadonlySet<string> = new Set([...entryRoutes, ...challengedRoutes]);
