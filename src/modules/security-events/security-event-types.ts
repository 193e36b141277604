import type { SecurityActionTaken, SecurityEventCategory, Severity } from '../../db/schema.ts';
import type { EventWeight } from './security-scores.ts';

/** What the catalog says about one event type: where it files, its lowest severity, how it is scored. */
export interface SecurityEventKind {
  category: SecurityEventCategory;
  /** The severity floor; a high risk score raises it (security-scores.ts severityFor). */
  severity: Severity;
  weight: EventWeight;
  action: SecurityActionTaken;
}

/**
 * The security event types the application writes in the transaction of the change that caused
 * them (seed 001 security_event_type, seed 003 security_events; issue 10 item 1). The refused-request
 * types (AUTHORIZATION_DENIED, ACCESS_TOKEN_REJECTED) are written by refusal-events.plugin.ts.
 */
export const securityEventKinds = {
  USER_LOGIN_FAILED: { category: 'authentication', severity: 'low', weight: 'failure', action: 'deny' },
  USER_LOGIN_SUCCESS: { category: 'authentication', severity: 'low', weight: 'routine', action: 'allow' },
  ACCOUNT_LOCKED: { category: 'authentication', severity: 'medium', weight: 'lock', action: 'lock' },
  LOGIN_IP_BLOCKED: { category: 'authentication', severity: 'high', weight: 'lock', action: 'block' },
  PASSWORD_CHANGED: {
    category: 'authentication',
    severity: 'medium',
    weight: 'sensitive_change',
    action: 'allow',
  },
  PIN_CHANGED: {
    category: 'authentication',
    severity: 'medium',
    weight: 'sensitive_change',
    action: 'allow',
  },
  EMAIL_VERIFIED: { category: 'authentication', severity: 'low', weight: 'routine', action: 'allow' },
  MFA_ENABLED: { category: 'authentication', severity: 'low', weight: 'sensitive_change', action: 'allow' },
  MFA_DISABLED: {
    category: 'authentication',
    severity: 'medium',
    weight: 'sensitive_change',
    action: 'allow',
  },
  MFA_BACKUP_CODES_REGENERATED: {
    category: 'authentication',
    severity: 'low',
    weight: 'sensitive_change',
    action: 'allow',
  },
  SESSION_CREATED: { category: 'session', severity: 'low', weight: 'routine', action: 'allow' },
  SESSION_REFRESHED: { category: 'session', severity: 'low', weight: 'routine', action: 'allow' },
  SESSION_TERMINATED: { category: 'session', severity: 'low', weight: 'routine', action: 'allow' },
  REFRESH_TOKEN_REUSE: { category: 'session', severity: 'high', weight: 'token_theft', action: 'block' },
  // GDPR (issue 11 item 5; seed 001 DATA_EXPORT_REQUESTED, ACCOUNT_DELETION_REQUESTED).
  DATA_EXPORT_REQUESTED: { category: 'data', severity: 'low', weight: 'sensitive_change', action: 'allow' },
  ACCOUNT_DELETION_REQUESTED: {
    category: 'compliance',
    severity: 'medium',
    weight: 'sensitive_change',
    action: 'allow',
  },
} as const satisfies Record<string, SecurityEventKind>;

export type SecurityEventType = keyof typeof securityEventKinds;
