import type { Logger } from 'pino';
import { ConfigurationError, type Source } from './config-readers.ts';

/**
 * Environment variables renamed so that the unit comes before the qualifier and the qualifier last
 * (issue 9 item 4; ../shared/CONVENTIONS.md, "units and qualifiers last"): LOCKOUT_MINUTES_MAX, not
 * LOCKOUT_MAX_MINUTES. The previous names are accepted for one release with a warning at start-up;
 * the release after 0.1 drops them (delete this table and its uses).
 */
export interface RenamedVariable {
  previous: string;
  current: string;
}

export const renamedVariables: readonly RenamedVariable[] = [
  { previous: 'LOCKOUT_BASE_MINUTES', current: 'LOCKOUT_MINUTES_BASE' },
  { previous: 'LOCKOUT_MAX_MINUTES', current: 'LOCKOUT_MINUTES_MAX' },
  { previous: 'STAFF_PASSWORD_MAX_AGE_DAYS', current: 'STAFF_PASSWORD_AGE_DAYS_MAX' },
  { previous: 'KYC_TIER0_MAX_BALANCE', current: 'KYC_TIER0_BALANCE_MAX' },
  { previous: 'KYC_TIER1_MAX_BALANCE', current: 'KYC_TIER1_BALANCE_MAX' },
  { previous: 'KYC_TIER2_MAX_BALANCE', current: 'KYC_TIER2_BALANCE_MAX' },
];

/** A previous name the environment set. */
export interface RenamedVariableUse extends RenamedVariable {
  /** The current name was set too: its value is used and the previous one is ignored. */
  ignored: boolean;
}

function isSet(source: Source, name: string): boolean {
  const value = source[name];
  return value !== undefined && value !== '';
}

/**
 * The environment as the readers see it: a value given under a previous name stands under its
 * current name, unless the current name is set too (then the current one wins).
 */
export function applyRenamedVariables(source: Source): { source: Source; used: RenamedVariableUse[] } {
  const used = renamedVariables
    .filter((variable) => isSet(source, variable.previous))
    .map((variable) => ({ ...variable, ignored: isSet(source, variable.current) }));
  if (used.length === 0) return { source, used };
  const renamed: Source = { ...source };
  for (const use of used) if (!use.ignored) renamed[use.current] = source[use.previous];
  return { source: renamed, used };
}

/** A bad value given under a previous name is reported under that name: the one the operator wrote. */
export function nameAsWritten(
  problem: ConfigurationError,
  used: readonly RenamedVariableUse[],
): ConfigurationError {
  const use = used.find((candidate) => !candidate.ignored && candidate.current === problem.variable);
  return use ? new ConfigurationError(use.previous, problem.reason) : problem;
}

/**
 * One warning per previous name in use. The server calls it once per start, in the process that
 * prepares the database (a cluster's primary, not each worker).
 */
export function warnRenamedVariables(
  used: readonly RenamedVariableUse[],
  logger: Pick<Logger, 'warn'>,
): void {
  for (const { previous, current, ignored } of used) {
    const message = ignored
      ? `${previous} is ignored because ${current} is set; remove ${previous}`
      : `${previous} is deprecated and will stop working in the next release; rename it to ${current}`;
    logger.warn({ variable: previous, replacement: current }, message);
  }
}

/**
 * AUDIT_RETENTION_DAYS was read and never used; the audit_logs retention policy (data_retention_policies,
 * PATCH /v1/admin/retention-policies/audit_logs) replaces it. A server started with it set says so once.
 */
export function warnRetiredVariables(
  retention: { auditRetentionDaysSet: boolean },
  logger: Pick<Logger, 'warn'>,
): void {
  if (!retention.auditRetentionDaysSet) return;
  logger.warn(
    { variable: 'AUDIT_RETENTION_DAYS' },
    'AUDIT_RETENTION_DAYS is not read; set the audit_logs retention policy instead (PATCH /v1/admin/retention-policies/audit_logs)',
  );
}
