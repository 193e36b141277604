/**
 * Operating failures of backup, restore and clear. Each carries a stable UPPER_SNAKE code and a
 * one-line message that says what went wrong and what to do about it; the CLI prints the message as is.
 */
export const backupErrorCodes = [
  'BACKUP_FILE_MISSING',
  'BACKUP_MANIFEST_MISSING',
  'BACKUP_MANIFEST_INVALID',
  'BACKUP_MANIFEST_SIGNATURE_INVALID',
  'BACKUP_KEY_MISSING',
  'BACKUP_KEY_MISMATCH',
  'BACKUP_DECRYPTION_FAILED',
  'BACKUP_SIZE_MISMATCH',
  'BACKUP_CHECKSUM_MISMATCH',
  'BACKUP_CONTENT_INVALID',
  'BACKUP_SCHEMA_MISMATCH',
  'BACKUP_ROW_COUNT_MISMATCH',
  'BACKUP_ROW_SECURITY',
  'BACKUP_FOREIGN_KEY_CYCLE',
  'BACKUP_FILE_EXISTS',
] as const;

export type BackupErrorCode = (typeof backupErrorCodes)[number];

export class BackupError extends Error {
  constructor(
    readonly code: BackupErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

const insufficientPrivilege = '42501';

/**
 * With row_security off, PostgreSQL refuses (42501) a query that row-level security would filter, instead
 * of silently returning a tenant's share of the rows. That refusal becomes an actionable message here.
 */
export function translateRowSecurityError(error: unknown): unknown {
  const isRowSecurity =
    error instanceof Error &&
    (error as Error & { code?: string }).code === insufficientPrivilege &&
    /row-level security/i.test(error.message);
  if (!isRowSecurity) return error;
  return new BackupError(
    'BACKUP_ROW_SECURITY',
    'the database user is subject to row-level security and would see only part of the data; ' +
      'connect as a superuser or grant the role BYPASSRLS',
  );
}
