import { readBoolean, readInteger, type Source } from './config-readers.ts';

/** Compliance reports (issue 11 item 4; docs/operations.md, "Compliance reports"). */
export interface ComplianceConfig {
  /**
   * COMPLIANCE_LARGE_TRANSACTION_MINOR: the large-transactions report lists every customer top-up,
   * withdrawal and outgoing transfer of at least this amount, in minor units of its asset.
   */
  largeTransactionMinor: number;
  /**
   * COMPLIANCE_REPORTS_SCHEDULE_ENABLED: every server checks hourly that each active tenant has the
   * previous UTC day's daily transaction summary and generates it when missing (one per tenant and day).
   */
  scheduleEnabled: boolean;
}

export function readComplianceConfig(source: Source): ComplianceConfig {
  return {
    largeTransactionMinor: readInteger(
      source,
      'COMPLIANCE_LARGE_TRANSACTION_MINOR',
      1_000_000_000,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    scheduleEnabled: readBoolean(source, 'COMPLIANCE_REPORTS_SCHEDULE_ENABLED', false),
  };
}
