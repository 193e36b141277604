import {
  ConfigurationError,
  type Environment,
  readBoolean,
  readInteger,
  readString,
  reportInvalid,
  reportThrown,
} from './config-readers.ts';

/** The limits of one KYC tier, in minor units of the limited asset (IDR by default). */
export interface KycTierLimits {
  maximumBalanceMinor: number;
  dailyOutgoingMinor: number;
  singleTransferMaximumMinor: number;
}

export interface MoneyConfig {
  /** MAINTENANCE_MODE=true stops every money movement with 503 MAINTENANCE_MODE (a tenant can also set configs.maintenance_mode). */
  maintenanceMode: boolean;
  /** How long a stored Idempotency-Key response is kept; at least 24 hours by contract. */
  idempotencyKeyTtlHours: number;
  /** Attempts of one money transaction when PostgreSQL reports a serialization failure or deadlock. */
  transactionAttemptsMax: number;
  /** The asset whose amounts the KYC tier limits are written in. */
  kycLimitedAsset: string;
  kycTierLimits: readonly [KycTierLimits, KycTierLimits, KycTierLimits];
  kycValidityDays: number;
  kycExpiryIntervalMs: number;
  payoutWorkerIntervalMs: number;
  /** Withdrawals the worker takes per run and tenant. */
  payoutBatchSize: number;
  /** A withdrawal left in `processing` this long (a crashed worker) is asked about again. */
  payoutStuckAfterMs: number;
  payoutSimulatorFailurePercent: number;
  payoutSimulatorDelayMs: number;
  /** Allows customers to top up their own wallet from the cash-in account (development, test). */
  selfTopupAllowed: boolean;
  /**
   * Staff top-ups above these amounts (minor units, per asset) wait for a second staff member's
   * approval (maker–checker). An asset not listed has threshold 0: every staff top-up of it waits.
   */
  staffTopupApprovalThresholds: ReadonlyMap<string, number>;
  /** How the transfer engine gathers concurrent transfers into one database call (see group-commit.ts). */
  groupCommit: GroupCommitConfig;
}

export interface GroupCommitConfig {
  windowMs: number;
  requestsPerGroupMax: number;
  groupsInFlightMax: number;
  queuedRequestsMax: number;
  queueWaitMsMax: number;
}

function readGroupCommit(source: Source): GroupCommitConfig {
  return {
    windowMs: readInteger(source, 'MONEY_GROUP_COMMIT_WINDOW_MS', 0, 0, 50),
    requestsPerGroupMax: readInteger(source, 'MONEY_GROUP_REQUESTS_MAX', 128, 1, 1000),
    groupsInFlightMax: readInteger(source, 'MONEY_GROUPS_IN_FLIGHT_MAX', 4, 1, 64),
    queuedRequestsMax: readInteger(source, 'MONEY_QUEUED_REQUESTS_MAX', 20_000, 1, 1_000_000),
    queueWaitMsMax: readInteger(source, 'MONEY_QUEUE_WAIT_MS_MAX', 10_000, 10, 600_000),
  };
}

type Source = Record<string, string | undefined>;

const safeIntegerMax = Number.MAX_SAFE_INTEGER;

// Defaults in IDR minor units (scale 2): tier 0 may hold Rp 5,000,000 and send Rp 2,000,000 a day.
const defaultTierLimits: readonly [KycTierLimits, KycTierLimits, KycTierLimits] = [
  {
    maximumBalanceMinor: 500_000_000,
    dailyOutgoingMinor: 200_000_000,
    singleTransferMaximumMinor: 100_000_000,
  },
  {
    maximumBalanceMinor: 5_000_000_000,
    dailyOutgoingMinor: 2_000_000_000,
    singleTransferMaximumMinor: 1_000_000_000,
  },
  {
    maximumBalanceMinor: 100_000_000_000,
    dailyOutgoingMinor: 50_000_000_000,
    singleTransferMaximumMinor: 25_000_000_000,
  },
];

function readTierLimits(source: Source, tier: 0 | 1 | 2): KycTierLimits {
  const fallback = defaultTierLimits[tier];
  const prefix = `KYC_TIER${tier}_`;
  return {
    maximumBalanceMinor: readInteger(
      source,
      `${prefix}BALANCE_MAX`,
      fallback.maximumBalanceMinor,
      0,
      safeIntegerMax,
    ),
    dailyOutgoingMinor: readInteger(
      source,
      `${prefix}DAILY_OUTGOING`,
      fallback.dailyOutgoingMinor,
      0,
      safeIntegerMax,
    ),
    singleTransferMaximumMinor: readInteger(
      source,
      `${prefix}SINGLE_TRANSFER_MAX`,
      fallback.singleTransferMaximumMinor,
      0,
      safeIntegerMax,
    ),
  };
}

// Rp 10,000,000.00; $10,000.00; 0.1 BTC; 1 iSTSi.
const defaultApprovalThresholds = 'IDR:1000000000,USD:1000000,BTC:10000000,iSTSi:100000000';

/** STAFF_TOPUP_APPROVAL_THRESHOLDS: `ASSET:minor-units` pairs separated by commas. */
function readApprovalThresholds(source: Source): ReadonlyMap<string, number> {
  const name = 'STAFF_TOPUP_APPROVAL_THRESHOLDS';
  const raw = readString(source, name, defaultApprovalThresholds);
  const thresholds = new Map<string, number>();
  for (const pair of raw.split(',')) {
    const match = /^([A-Za-z0-9]{2,16}):(\d{1,16})$/.exec(pair.trim());
    const amount = Number(match?.[2]);
    if (!match?.[1] || !Number.isSafeInteger(amount) || thresholds.has(match[1])) {
      throw new ConfigurationError(
        name,
        'must be ASSET:amount pairs (whole minor units up to 9007199254740991), each asset once, separated by commas',
      );
    }
    thresholds.set(match[1], amount);
  }
  return thresholds;
}

export function readMoneyConfig(source: Source, environment: Environment): MoneyConfig {
  const config: MoneyConfig = {
    maintenanceMode: readBoolean(source, 'MAINTENANCE_MODE', false),
    idempotencyKeyTtlHours: readInteger(source, 'IDEMPOTENCY_KEY_TTL_HOURS', 48, 24, 24 * 90),
    transactionAttemptsMax: readInteger(source, 'MONEY_TRANSACTION_ATTEMPTS_MAX', 10, 1, 100),
    kycLimitedAsset: readString(source, 'KYC_LIMITED_ASSET', 'IDR'),
    kycTierLimits: [readTierLimits(source, 0), readTierLimits(source, 1), readTierLimits(source, 2)],
    kycValidityDays: readInteger(source, 'KYC_VALIDITY_DAYS', 365, 1, 3650),
    kycExpiryIntervalMs: readInteger(source, 'KYC_EXPIRY_INTERVAL_MS', 3_600_000, 1000, 86_400_000),
    payoutWorkerIntervalMs: readInteger(source, 'PAYOUT_WORKER_INTERVAL_MS', 1000, 50, 600_000),
    payoutBatchSize: readInteger(source, 'PAYOUT_BATCH_SIZE', 20, 1, 1000),
    payoutStuckAfterMs: readInteger(source, 'PAYOUT_STUCK_AFTER_MS', 60_000, 1000, 86_400_000),
    payoutSimulatorFailurePercent: readInteger(source, 'PAYOUT_SIMULATOR_FAILURE_PERCENT', 10, 0, 100),
    payoutSimulatorDelayMs: readInteger(source, 'PAYOUT_SIMULATOR_DELAY_MS', 200, 0, 60_000),
    selfTopupAllowed: readBoolean(source, 'SELF_TOPUP_ALLOWED', environment !== 'production'),
    staffTopupApprovalThresholds: reportThrown(() => readApprovalThresholds(source), new Map()),
    groupCommit: readGroupCommit(source),
  };
  if (!/^[A-Za-z0-9]{2,16}$/.test(config.kycLimitedAsset)) {
    reportInvalid(
      new ConfigurationError('KYC_LIMITED_ASSET', 'must be an asset code of 2-16 letters or digits'),
      undefined,
    );
  }
  return config;
}
