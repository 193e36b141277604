/**
 * The permission catalog: every route declares one of these (or 'public') in `config.permission`,
 * and a principal holds its role's set plus the per-user extras in users.permissions (seed 003).
 * Names are `resource:action`; a new route adds its permission here and to the roles that need it.
 */
export const customerPermissions = [
  'profile:read',
  'profile:update',
  'sessions:manage_own',
  'mfa:manage_own',
  'wallets:read_own',
  'transactions:read_own',
  'transactions:create',
  'bank_accounts:manage_own',
  'kyc:submit',
  // Their own login history and the audit entries about them (issue 10).
  'activity:read_own',
  // Their terms and privacy acceptances, marketing and data-sharing consents (issue 11 item 6).
  'consents:manage_own',
] as const;

const officerPermissions = [
  'profile:read',
  'profile:update',
  'sessions:manage_own',
  'mfa:manage_own',
  'activity:read_own',
  'users:read',
  'kyc:review',
  'transactions:read_any',
  'audit:read',
  // Compliance reports (issue 11 item 4): read, download and re-verify their hash.
  'compliance:read',
] as const;
const managerPermissions = [
  ...officerPermissions,
  'users:block',
  'holds:manage',
  'operations:stats',
  // The checker of a staff top-up above the approval threshold (maker–checker); never its maker.
  'topups:approve',
] as const;
const adminPermissions = [
  ...managerPermissions,
  'users:manage',
  'users:topup',
  // Batches from a system wallet (cash_in within the top-up threshold, fees); never a customer's.
  'disbursements:submit',
  'content:manage',
  'config:manage',
  'security:manage',
  // Legal holds, retention policies, compliance reports and staff-requested erasure (issue 11).
  'compliance:manage',
] as const;
const superAdminPermissions = [...adminPermissions, 'staff:manage'] as const;

export const rolePermissions = {
  customer: customerPermissions,
  officer: officerPermissions,
  manager: managerPermissions,
  admin: adminPermissions,
  super_admin: superAdminPermissions,
} as const;

export type RoleName = keyof typeof rolePermissions;
export type Permission = (typeof rolePermissions)[RoleName][number];

export const allPermissions: readonly Permission[] = [...new Set(Object.values(rolePermissions).flat())];

export const staffRoles: readonly RoleName[] = ['super_admin', 'admin', 'manager', 'officer'];

export function isPermission(value: string): value is Permission {
  return (allPermissions as readonly string[]).includes(value);
}

export function permissionsFor(role: RoleName, extra: readonly string[]): ReadonlySet<string> {
  return new Set([...rolePermissions[role], ...extra.filter(isPermission)]);
}
