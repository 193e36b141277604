/**
 * The tables the retention job knows how to clean. A policy row for any other table is listed and
 * editable but the job reports it as unsupported and touches nothing: it would not know which rows a
 * legal hold protects.
 */
export interface RetentionTable {
  name: string;
  /** Range-partitioned by month on created_at: whole months are detached and dropped when possible. */
  partitioned: boolean;
  /** The columns naming a user; a row naming a held user is kept (legal holds). */
  userColumns: readonly string[];
  /** security_events: a row an open incident links (related_event_ids) is kept. */
  incidentEvents: boolean;
  /** Whether rows are copied to an archive file before they are deleted. */
  archivable: boolean;
  /**
   * Why rows are never deleted (only archived), or undefined. The audit chain verifies from row 1: a
   * deleted prefix would read as tampering, and a signed retention boundary is not built yet.
   */
  deleteRefusal: string | undefined;
}

const table = (name: string, options: Partial<RetentionTable>): RetentionTable => ({
  name,
  partitioned: false,
  userColumns: ['user_id'],
  incidentEvents: false,
  archivable: true,
  deleteRefusal: undefined,
  ...options,
});

export const retentionTables: readonly RetentionTable[] = [
  table('audit_logs', {
    partitioned: true,
    userColumns: ['user_id', 'admin_id'],
    deleteRefusal:
      'audit rows are archived but never deleted: `corebank audit verify` walks the chain from its first row',
  }),
  table('login_audits', { partitioned: true, userColumns: ['user_id', 'admin_id'] }),
  table('security_events', { partitioned: true, incidentEvents: true }),
  table('api_access_log', { partitioned: true }),
  table('session_logs', {}),
  // One-day login state holding a PIN and an OTP hash: deleted, never copied anywhere.
  table('otp_sessions', { archivable: false }),
];

export function retentionTable(name: string): RetentionTable | undefined {
  return retentionTables.find((candidate) => candidate.name === name);
}
