/**
 * The routes detection's refusals cover, apart from the plugin so the OpenAPI conventions
 * (src/platform/openapi-conventions.ts) document the same sets the hooks enforce.
 */

/** The probes stay reachable from a blocked address: a load balancer's checks must not fail with it. */
export const unblockedRoutes: ReadonlySet<string> = new Set(['/health', '/ready', '/metrics']);

/**
 * Sensitive actions (`METHOD /url`): changes to how the account is protected and money leaving it.
 * Their success runs the takeover, velocity and large-amount rules for the user; a pending step-up
 * refuses them.
 */
export const sensitiveRoutes: ReadonlySet<string> = new Set([
  'POST /v1/me/password',
  'POST /v1/me/pin',
  'POST /v1/me/mfa/totp/enroll',
  'POST /v1/me/mfa/totp/confirm',
  'POST /v1/me/mfa/totp/disable',
  'POST /v1/me/mfa/backup-codes',
  'POST /v1/bank-accounts',
  'POST /v1/transactions/transfer',
  'POST /v1/transactions/batch',
  'POST /v1/transactions/withdraw',
]);
