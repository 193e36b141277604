import type { ColumnType, Generated, Insertable } from 'kysely';

/*
 * Kysely's view of the schema that src/db/migrations/ create. One interface per table, in
 * migration order; docs/schema.md says where each seed document's column went and why.
 *
 * Type rules, fixed by the drivers (src/db/database.ts) and by the migrations:
 * - uuid, varchar, text, char and inet columns are strings;
 * - smallint, integer and bigint are numbers (bigint is parsed with a safe-integer assertion);
 * - numeric comes back as its exact decimal text, so it is a string (a number may be written);
 * - timestamptz comes back as a Date; a string is accepted on writes;
 * - jsonb reads as a JSON object (every jsonb column holds one); its JSON text may be written;
 * - a column with a database default is optional on insert (Generated or a *Timestamp alias);
 * - a CHECK (column in (…)) enumeration is a union of its literals, so a typo fails to compile.
 *
 * Kysely's Migrator owns schema_migrations and schema_migrations_lock; they are not typed here.
 *
 * Written by hand and checked: test/schema/schema-types.test.ts compares every table and column here
 * with the migrated catalog on each engine (type, nullability, insert default, enumeration), so a
 * migration that changes a column fails that test until this file says the same.
 */

/** timestamptz with a default (now()): read as Date, optional on insert. */
export type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** timestamptz without a default that may be null. */
export type NullableTimestamp = ColumnType<
  Date | null,
  Date | string | null | undefined,
  Date | string | null
>;
/** timestamptz without a default that must be given on insert. */
export type RequiredTimestamp = ColumnType<Date, Date | string, Date | string>;

/** numeric without a default, NOT NULL. */
export type Numeric = ColumnType<string, string | number, string | number>;
/** numeric with a default. */
export type GeneratedNumeric = ColumnType<string, string | number | undefined, string | number>;
/** numeric that may be null. */
export type NullableNumeric = ColumnType<
  string | null,
  string | number | null | undefined,
  string | number | null
>;

/** The value of a jsonb column: every jsonb column of the schema holds an object. */
export type JsonObject = Record<string, unknown>;
/*
 * jsonb accepts an object or its JSON text on writes. The text form is the safe one for values that
 * contain arrays at the top level of a parameter, which node-postgres would send as a PostgreSQL array.
 */
/** jsonb, NOT NULL, no default. */
export type Json = ColumnType<JsonObject, JsonObject | string, JsonObject | string>;
/** jsonb with a default ('{}'). */
export type GeneratedJson = ColumnType<JsonObject, JsonObject | string | undefined, JsonObject | string>;
/** jsonb that may be null. */
export type NullableJson = ColumnType<
  JsonObject | null,
  JsonObject | string | null | undefined,
  JsonObject | string | null
>;

// ---------------------------------------------------------------------------------------------
// Enumerations (CHECK constraints of the migrations)
// ---------------------------------------------------------------------------------------------

export type TenantStatus = 'active' | 'suspended';
export type AssetKind = 'fiat' | 'crypto' | 'token';
export type RoleName = 'super_admin' | 'admin' | 'manager' | 'officer' | 'customer';
export type Severity = 'low' | 'medium' | 'high' | 'critical';
export type IndicatorType = 'ip' | 'domain' | 'email' | 'hash';
export type BackupMode = 'full' | 'schema-only' | 'data-only';
export type BackupEngine = 'pglite' | 'postgres';

/** 0 inactive (cannot log in), 1 active, 2 blocked (seed 000 "terblokir"; no transactions). */
export type UserStatus = 0 | 1 | 2;
export type KycTier = 0 | 1 | 2;
export type DeviceType = 'android' | 'ios' | 'web' | 'desktop' | 'google_sso' | 'apple_sso' | 'facebook_sso';
export type AuthenticationProvider = 'email' | 'google' | 'apple' | 'facebook';
export type LogoutReason =
  | 'logout'
  | 'logout_all'
  | 'revoked'
  | 'refresh_reuse'
  | 'expired'
  | 'forced'
  | 'password_changed';
export type TrustedDeviceType = 'mobile' | 'desktop' | 'tablet' | 'android' | 'ios' | 'web';
export type SessionEventType = 'CREATED' | 'REFRESHED' | 'TERMINATED' | 'EXPIRED' | 'INVALIDATED';
export type VerificationPurpose = 'email_verification' | 'password_reset';

export type BankAccountType = 'saving' | 'checking' | 'current';
export type WalletKind = 'customer' | 'system';
export type SystemWalletPurpose = 'cash_in' | 'cash_out' | 'fees';
export type BalanceHoldStatus = 'active' | 'released' | 'captured';
export type OperationType = 'deposit' | 'withdrawal' | 'transfer' | 'topup' | 'hold_capture';
export type OperationStatus = 'pending' | 'processing' | 'completed' | 'failed';
export type TransactionType = 'topup' | 'withdraw' | 'transfer_out' | 'transfer_in' | 'fee' | 'hold_capture';
export type TransactionStatus = 'completed' | 'failed' | 'pending';
export type KycStatus = 'pending' | 'approved' | 'rejected' | 'expired';
export type KycDocumentType = 'national_id' | 'passport' | 'driving_license' | 'residence_permit';

export type ThreatStatus = 'detected' | 'investigating' | 'mitigated' | 'resolved';
export type ThreatDetectionMethod = 'ml_model' | 'rule_based' | 'manual';
export type ThreatResponseAction = 'block' | 'lock' | 'alert' | 'escalate' | 'step_up';
export type ThreatResponseStatus = 'pending' | 'executed' | 'failed';
/** Who generated a compliance report, and the report types (migration 0020). */
export type ComplianceReportSource = 'staff' | 'cli' | 'schedule';
export type ComplianceReportType =
  | 'daily_transaction_summary'
  | 'large_transactions'
  | 'login_failure_summary'
  | 'kyc_status_summary'
  | 'security_incident_summary'
  | 'audit_integrity_attestation';
export type IncidentStatus = 'open' | 'investigating' | 'resolved' | 'closed';

export type AuditEventStatus = 'SUCCESS' | 'FAILED' | 'BLOCKED';
export type LoginType = 'user_login' | 'admin_login' | 'user_logout' | 'admin_logout';
export type LoginStatus = 'success' | 'failed' | 'blocked';
export type SecurityEventCategory =
  | 'authentication'
  | 'authorization'
  | 'session'
  | 'threat'
  | 'incident'
  | 'data'
  | 'compliance'
  | 'system';
export type SecurityActionTaken = 'allow' | 'deny' | 'challenge' | 'block' | 'lock';

// ---------------------------------------------------------------------------------------------
// 0001_platform: global tables (no tenant_id, no row-level security)
// ---------------------------------------------------------------------------------------------

export interface TenantsTable {
  id: Generated<string>;
  slug: string;
  name: string;
  status: Generated<TenantStatus>;
  settings: GeneratedJson;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AssetsTable {
  code: string;
  name: string;
  kind: AssetKind;
  /** Decimal places of one minor unit: an amount of 12345 with scale 2 is 123.45. */
  scale: number;
  maximum_amount: number;
  is_active: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RolesTable {
  name: RoleName;
  description: string;
  is_staff: boolean;
  created_at: Timestamp;
}

export interface RolePermissionsTable {
  role_name: RoleName;
  permission: string;
}

export interface ThreatIntelligenceTable {
  id: Generated<string>;
  /** 0012: the owning tenant; null for a shared feed every tenant reads. */
  tenant_id: string | null;
  indicator_type: IndicatorType;
  indicator_value: string;
  threat_type: string;
  severity: Severity;
  confidence: GeneratedNumeric;
  source: string;
  source_url: string | null;
  description: string | null;
  metadata: GeneratedJson;
  first_seen: Timestamp;
  last_seen: Timestamp;
  expires_at: NullableTimestamp;
  is_active: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DataRetentionPoliciesTable {
  id: Generated<string>;
  table_name: string;
  retention_period_days: number;
  archive_after_days: number | null;
  delete_after_days: number | null;
  last_cleanup_at: NullableTimestamp;
  is_active: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
  archived_through: NullableTimestamp;
}

/** Migration 0022: the archive files the retention job wrote (src/modules/retention). */
export interface RetentionArchivesTable {
  id: Generated<string>;
  table_name: string;
  file_name: string;
  sha256: string;
  size_bytes: number;
  row_count: number;
  range_start: NullableTimestamp;
  range_end: RequiredTimestamp;
  encryption_key_id: string | null;
  created_at: Timestamp;
}

export interface BackupsTable {
  id: Generated<string>;
  file_name: string;
  mode: BackupMode;
  sha256: string;
  size_bytes: number;
  schema_version: string;
  row_counts: GeneratedJson;
  engine: BackupEngine;
  created_at: Timestamp;
}

// ---------------------------------------------------------------------------------------------
// 0002_identity
// ---------------------------------------------------------------------------------------------

export interface UsersTable {
  tenant_id: string;
  id: Generated<string>;
  role: Generated<RoleName>;
  username: string | null;
  email: string | null;
  phone: string | null;
  name: string;
  first_name: string | null;
  last_name: string | null;
  mother_name: string | null;
  pin_hash: string | null;
  password_hash: string | null;
  permissions: Generated<string[]>;
  status: Generated<UserStatus>;
  is_verified: Generated<boolean>;
  email_verified_at: NullableTimestamp;
  avatar: string | null;
  kyc_tier: Generated<KycTier>;
  mfa_enabled: Generated<boolean>;
  /** AES-256-GCM ciphertext of the TOTP secret; set together with mfa_secret_key_id. */
  mfa_secret_ciphertext: string | null;
  mfa_secret_key_id: string | null;
  password_changed_at: NullableTimestamp;
  password_expires_at: NullableTimestamp;
  failed_login_attempts: Generated<number>;
  lockout_count: Generated<number>;
  locked_until: NullableTimestamp;
  trust_score: GeneratedNumeric;
  last_login_at: NullableTimestamp;
  last_login_ip: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: NullableTimestamp;
  /** 0006: the last accepted TOTP time step; a code of this step or earlier is refused (replay). */
  totp_last_used_step: number | null;
}

export interface UserProfilesTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string;
  tags: Generated<string[]>;
  metadata: GeneratedJson;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DeviceSessionsTable {
  tenant_id: string;
  /** The session id the access token carries; the token itself is never stored. */
  id: Generated<string>;
  user_id: string;
  device_type: DeviceType;
  device_id: string | null;
  device_name: string | null;
  device_fingerprint: string | null;
  provider: AuthenticationProvider;
  provider_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  location: NullableJson;
  /** 0018: the trusted device the opening login came from (its trust counts in the adaptive limit). */
  trusted_device_id: string | null;
  is_active: Generated<boolean>;
  mfa_verified: Generated<boolean>;
  last_activity_at: Timestamp;
  expires_at: RequiredTimestamp;
  absolute_expires_at: RequiredTimestamp;
  logout_reason: LogoutReason | null;
  logout_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RefreshTokensTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string;
  session_id: string;
  token_hash: string;
  expires_at: RequiredTimestamp;
  rotated_at: NullableTimestamp;
  replaced_by_id: string | null;
  revoked_at: NullableTimestamp;
  revoked_reason: string | null;
  device_fingerprint: string | null;
  ip_address: string | null;
  user_agent: string | null;
  created_at: Timestamp;
}

export interface OtpSessionsTable {
  tenant_id: string;
  id: Generated<string>;
  login_token_hash: string;
  phone: string;
  otp_hash: string;
  name: string;
  account_number: string;
  mother_name: string;
  pin_hash: string;
  device_type: string;
  device_id: string;
  device_name: string;
  user_id: string | null;
  failed_attempts: Generated<number>;
  expires_at: RequiredTimestamp;
  is_used: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** 0006: where the login started. */
  ip_address: string | null;
  user_agent: string | null;
}

export interface MfaBackupCodesTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string;
  code_hash: string;
  used_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface TrustedDevicesTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string;
  device_fingerprint: string;
  device_name: string | null;
  device_type: TrustedDeviceType | null;
  trust_score: GeneratedNumeric;
  is_trusted: Generated<boolean>;
  first_seen_at: Timestamp;
  last_seen_at: Timestamp;
  last_ip_address: string | null;
  expires_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Append-only. */
export interface SessionLogsTable {
  tenant_id: string;
  id: Generated<string>;
  event_type: SessionEventType;
  user_id: string | null;
  session_id: string | null;
  session_token_hash: string | null;
  refresh_token_hash: string | null;
  device_info: string | null;
  ip_address: string | null;
  user_agent: string | null;
  details: GeneratedJson;
  created_at: Timestamp;
}

/** 0006: single-use email verification and password reset tokens, stored as keyed hashes. */
export interface VerificationTokensTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string;
  purpose: VerificationPurpose;
  token_hash: string;
  expires_at: RequiredTimestamp;
  used_at: NullableTimestamp;
  created_at: Timestamp;
}

// ---------------------------------------------------------------------------------------------
// 0003_money: every amount is a BIGINT count of minor units of the asset (assets.scale)
// ---------------------------------------------------------------------------------------------

export interface BankAccountsTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string;
  account_number: string;
  account_name: string;
  bank_name: string | null;
  bank_code: string | null;
  account_type: BankAccountType | null;
  is_active: Generated<boolean>;
  is_primary: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WalletsTable {
  tenant_id: string;
  id: Generated<string>;
  /** Null exactly for system wallets. */
  user_id: string | null;
  asset_code: string;
  account_number: string | null;
  kind: WalletKind;
  system_purpose: SystemWalletPurpose | null;
  balance: Generated<number>;
  /** Held by active balance_holds; available = balance - locked. */
  locked: Generated<number>;
  /** The entry_sequence of the wallet's latest ledger entry. */
  entry_count: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface BalanceHoldsTable {
  tenant_id: string;
  id: Generated<string>;
  wallet_id: string;
  amount: number;
  status: Generated<BalanceHoldStatus>;
  reason: string | null;
  operation_id: string | null;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  released_at: NullableTimestamp;
  captured_at: NullableTimestamp;
}

export interface OperationsTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string;
  wallet_id: string;
  asset_code: string;
  operation_type: OperationType;
  status: Generated<OperationStatus>;
  amount: number;
  bank_account_id: string | null;
  hold_id: string | null;
  external_reference: string | null;
  bitcoin_tx_hash: string | null;
  soroban_tx_hash: string | null;
  error_message: string | null;
  metadata: GeneratedJson;
  attempt_count: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  completed_at: NullableTimestamp;
}

/** The ledger: append-only, one row per entry on one wallet. */
export interface TransactionsTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string | null;
  wallet_id: string;
  asset_code: string;
  entry_sequence: number;
  type: TransactionType;
  amount: number;
  balance_before: number;
  balance_after: number;
  status: Generated<TransactionStatus>;
  description: string | null;
  movement_id: string;
  counterparty_wallet_id: string | null;
  operation_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface KycRecordsTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string;
  tier_level: KycTier;
  status: Generated<KycStatus>;
  document_type: KycDocumentType | null;
  document_country: string | null;
  document_number_hash: string | null;
  verification_data: GeneratedJson;
  reviewer_id: string | null;
  rejection_reason: string | null;
  submitted_at: Timestamp;
  reviewed_at: NullableTimestamp;
  approved_at: NullableTimestamp;
  expires_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** 0007_money: one stored response per (tenant, caller, Idempotency-Key), kept at least 24 hours. */
export interface IdempotencyKeysTable {
  tenant_id: string;
  user_id: string;
  idempotency_key: string;
  /** SHA-256 hex of the endpoint and the canonical request body. */
  request_hash: string;
  endpoint: string;
  response_status: number | null;
  response_body: NullableJson;
  created_at: Timestamp;
  expires_at: RequiredTimestamp;
}

/** 0010_transfer_engine: an amount of one UTC day that a rule limits (a wallet's outgoing, a staff member's credits). */
export interface DailyTotalsTable {
  tenant_id: string;
  id: Generated<string>;
  kind: 'wallet_outgoing' | 'staff_credit';
  /** The wallet (wallet_outgoing) or the staff member (staff_credit). */
  subject: string;
  asset_code: string;
  day: Date;
  amount: number;
}

/**
 * 0018_transfer_velocity: a user's transfers in the current and the previous tumbling window of
 * DETECTION_VELOCITY_WINDOW_MINUTES, kept by the transfer statement (an upper bound of the velocity
 * rule's count).
 */
export interface TransferVelocityTable {
  tenant_id: string;
  user_id: string;
  window_minutes: number;
  /** floor(epoch seconds / (window_minutes × 60)) of the current window. */
  window_index: number;
  current_count: number;
  previous_count: number;
}

// ---------------------------------------------------------------------------------------------
// 0004_content_security
// ---------------------------------------------------------------------------------------------

export interface ArticlesTable {
  tenant_id: string;
  id: Generated<string>;
  title: string;
  image: string | null;
  content: string | null;
  is_active: Generated<boolean>;
  user_id: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PhotosTable {
  tenant_id: string;
  id: Generated<string>;
  image: string;
  user_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface OnboardingsTable {
  tenant_id: string;
  id: Generated<string>;
  image: string;
  title: string;
  description: string;
  is_active: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ConfigsTable {
  tenant_id: string;
  key: string;
  value: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ThreatEventsTable {
  tenant_id: string;
  id: Generated<string>;
  threat_type: string;
  severity: Severity;
  status: Generated<ThreatStatus>;
  description: string | null;
  indicators: Generated<string[]>;
  affected_user_ids: Generated<string[]>;
  affected_account_ids: Generated<string[]>;
  affected_transaction_ids: Generated<string[]>;
  detection_method: ThreatDetectionMethod | null;
  confidence: NullableNumeric;
  response_action: ThreatResponseAction | null;
  response_status: ThreatResponseStatus | null;
  detected_at: Timestamp;
  mitigated_at: NullableTimestamp;
  resolved_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Rule, subject and window of a detection (migration 0014): one threat per attack and window. */
  dedup_key: string | null;
}

/** A user who must verify a second factor again before a sensitive action (migration 0014). */
export interface StepUpRequirementsTable {
  tenant_id: string;
  user_id: string;
  threat_id: string | null;
  reason: string;
  required_at: Timestamp;
  satisfied_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SecurityIncidentsTable {
  tenant_id: string;
  id: Generated<string>;
  incident_type: string;
  severity: Severity;
  status: Generated<IncidentStatus>;
  priority: Generated<Severity>;
  title: string;
  description: string | null;
  assigned_to: string | null;
  related_threat_ids: Generated<string[]>;
  related_event_ids: Generated<string[]>;
  created_at: Timestamp;
  updated_at: Timestamp;
  resolved_at: NullableTimestamp;
  closed_at: NullableTimestamp;
}

export interface RateLimitEntriesTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string | null;
  ip_address: string | null;
  endpoint: string;
  request_count: Generated<number>;
  window_start: RequiredTimestamp;
  window_end: RequiredTimestamp;
  base_limit: number;
  adaptive_limit: number | null;
  trust_multiplier: GeneratedNumeric;
  is_blocked: Generated<boolean>;
  blocked_until: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RateLimitViolationsTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string | null;
  ip_address: string;
  endpoint: string;
  request_count: number;
  limit_threshold: number;
  time_window_minutes: number;
  violation_type: string | null;
  user_agent: string | null;
  blocked_duration_minutes: Generated<number>;
  created_at: Timestamp;
  unblocked_at: NullableTimestamp;
}

export interface ComplianceReportsTable {
  tenant_id: string;
  id: Generated<string>;
  report_type: ComplianceReportType;
  report_period_start: RequiredTimestamp;
  report_period_end: RequiredTimestamp;
  total_records: Generated<number>;
  report_data: Json;
  report_hash: string;
  retention_policy_id: string | null;
  created_by: string | null;
  created_at: Timestamp;
  submitted_to_authority: Generated<boolean>;
  submission_date: NullableTimestamp;
  authority_acknowledgment: string | null;
  generated_by: Generated<ComplianceReportSource>;
}

// ---------------------------------------------------------------------------------------------
// 0005_logs: partitioned by month on created_at, so created_at is part of each primary key
// ---------------------------------------------------------------------------------------------

/** Append-only except for the sealer filling the chain columns of an unsealed row once. */
export interface AuditLogsTable {
  tenant_id: string;
  id: Generated<string>;
  created_at: Timestamp;
  user_id: string | null;
  admin_id: string | null;
  event_type: Generated<string>;
  event_status: Generated<AuditEventStatus>;
  entity_type: string;
  entity_id: string;
  action: string;
  old_values: NullableJson;
  new_values: NullableJson;
  ip_address: string | null;
  user_agent: string | null;
  api_endpoint: string | null;
  request_method: string | null;
  status_code: number | null;
  request_id: string | null;
  session_id: string | null;
  correlation_id: Generated<string>;
  device_fingerprint: string | null;
  location: NullableJson;
  details: GeneratedJson;
  metadata: GeneratedJson;
  risk_score: Generated<number>;
  chain_sequence: number | null;
  previous_hash: string | null;
  row_hash: string | null;
  signature: string | null;
  signing_key_id: string | null;
  sealed_at: NullableTimestamp;
}

/** The last sealed link of each tenant's audit chain; written by the sealer role only. */
export interface AuditChainHeadsTable {
  tenant_id: string;
  last_sequence: number;
  last_hash: string;
  last_sealed_at: RequiredTimestamp;
  updated_at: Timestamp;
}

/** Append-only. */
export interface LoginAuditsTable {
  tenant_id: string;
  id: Generated<string>;
  created_at: Timestamp;
  user_id: string | null;
  admin_id: string | null;
  login_type: LoginType;
  status: LoginStatus;
  ip_address: string | null;
  user_agent: string | null;
  device_info: NullableJson;
  failure_reason: string | null;
}

export interface SecurityEventsTable {
  tenant_id: string;
  id: Generated<string>;
  created_at: Timestamp;
  user_id: string | null;
  event_type: string;
  event_category: SecurityEventCategory;
  severity: Severity;
  threat_type: string | null;
  ip_address: string | null;
  device_fingerprint: string | null;
  user_agent: string | null;
  geolocation: NullableJson;
  description: string | null;
  details: GeneratedJson;
  metadata: GeneratedJson;
  target_resource: string | null;
  attack_vector: string | null;
  detection_method: string | null;
  risk_score: NullableNumeric;
  fraud_score: NullableNumeric;
  anomaly_score: NullableNumeric;
  action_taken: SecurityActionTaken | null;
  mitigation_action: string | null;
  is_resolved: Generated<boolean>;
  false_positive: Generated<boolean>;
  analyst_notes: string | null;
  resolved_at: NullableTimestamp;
  resolved_by: string | null;
}

/** Append-only. */
export interface ApiAccessLogTable {
  tenant_id: string;
  id: Generated<string>;
  created_at: Timestamp;
  user_id: string | null;
  request_id: string;
  method: string;
  endpoint: string;
  request_headers: NullableJson;
  request_body_hash: string | null;
  response_status: number | null;
  response_time_ms: number | null;
  bytes_sent: Generated<number>;
  bytes_received: Generated<number>;
  ip_address: string | null;
  user_agent: string | null;
  api_key_id: string | null;
  rate_limit_remaining: number | null;
}

// ---------------------------------------------------------------------------------------------
// 0008_security_controls
// ---------------------------------------------------------------------------------------------

/** One counter per (tenant, scope, keyed hash of the subject): its current window of a send or failure limit. */
export interface SecurityCountersTable {
  tenant_id: string;
  scope: string;
  subject_hash: string;
  window_started_at: RequiredTimestamp;
  window_ends_at: RequiredTimestamp;
  count: number;
}

export type TopupApprovalStatus = 'pending' | 'approved' | 'rejected';

/** A staff top-up above the approval threshold, waiting for (or decided by) a second staff member. */
export interface TopupApprovalsTable {
  tenant_id: string;
  id: Generated<string>;
  beneficiary_id: string;
  asset_code: string;
  amount: number;
  description: string | null;
  status: Generated<TopupApprovalStatus>;
  maker_id: string;
  checker_id: string | null;
  rejection_reason: string | null;
  /** The movement the approval posted (transactions.movement_id). */
  transaction_id: string | null;
  decided_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

// ---------------------------------------------------------------------------------------------
// 0015_alert_deliveries
// ---------------------------------------------------------------------------------------------

export type AlertSink = 'log' | 'webhook';
export type AlertEventSource = 'security_event' | 'threat_event';
export type AlertDeliveryStatus = 'pending' | 'delivered' | 'dead';

/** One critical event on its way to one sink (the alert outbox, src/modules/alerts/). */
export interface AlertDeliveriesTable {
  tenant_id: string;
  id: Generated<string>;
  sink: AlertSink;
  event_source: AlertEventSource;
  event_id: string;
  event_created_at: RequiredTimestamp;
  payload: Json;
  status: Generated<AlertDeliveryStatus>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  delivered_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

// ---------------------------------------------------------------------------------------------
// 0017_consents
// ---------------------------------------------------------------------------------------------

export type ConsentPurpose = 'terms' | 'privacy' | 'marketing' | 'data_sharing';

/** One grant of one purpose by one customer; ended once, by a withdrawal or a newer version. */
export interface ConsentsTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string;
  purpose: ConsentPurpose;
  document_version: string;
  /** The named recipient of a data_sharing grant (CDR); null for every other purpose. */
  recipient: string | null;
  granted_at: Timestamp;
  withdrawn_at: NullableTimestamp;
  superseded_at: NullableTimestamp;
  created_at: Timestamp;
}

/** A preservation order on one customer's data (issue 11): in force until released or expired. */
export interface LegalHoldsTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string;
  reason: string;
  case_reference: string | null;
  placed_by: string;
  placed_at: Timestamp;
  expires_at: NullableTimestamp;
  released_at: NullableTimestamp;
  released_by: string | null;
  release_reason: string | null;
}

export type DataExportStatus = 'requested' | 'running' | 'ready' | 'failed' | 'expired';

/** A customer's data export (migration 0021): produced by a background job, stored encrypted. */
export interface DataExportsTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string;
  status: ColumnType<DataExportStatus, DataExportStatus | undefined, DataExportStatus>;
  requested_at: Timestamp;
  completed_at: NullableTimestamp;
  expires_at: NullableTimestamp;
  size_bytes: number | null;
  sha256: string | null;
  /** The JSON archive, AES-256-GCM under the export key, bound to tenant, user and export id. */
  archive_ciphertext: string | null;
  archive_key_id: string | null;
  failure_reason: string | null;
}

/** One erased customer (migration 0021); its transaction_id sanctions the erasure's log updates. */
export interface UserErasuresTable {
  tenant_id: string;
  id: Generated<string>;
  user_id: string;
  requested_by: 'customer' | 'staff';
  admin_id: string | null;
  transaction_id: ColumnType<number, undefined, never>;
  erased_at: Timestamp;
}

/** The keyed attestation of one sealed audit row whose personal fields were erased (migration 0021). */
export interface AuditErasuresTable {
  tenant_id: string;
  audit_log_id: string;
  erasure_id: string;
  row_hash: string;
  attestation: string;
  signing_key_id: string;
  erased_at: Timestamp;
}

export interface Database {
  // Global
  tenants: TenantsTable;
  assets: AssetsTable;
  roles: RolesTable;
  role_permissions: RolePermissionsTable;
  threat_intelligence: ThreatIntelligenceTable;
  data_retention_policies: DataRetentionPoliciesTable;
  retention_archives: RetentionArchivesTable;
  backups: BackupsTable;
  // Identity
  users: UsersTable;
  user_profiles: UserProfilesTable;
  device_sessions: DeviceSessionsTable;
  refresh_tokens: RefreshTokensTable;
  otp_sessions: OtpSessionsTable;
  mfa_backup_codes: MfaBackupCodesTable;
  trusted_devices: TrustedDevicesTable;
  session_logs: SessionLogsTable;
  verification_tokens: VerificationTokensTable;
  // Money
  bank_accounts: BankAccountsTable;
  wallets: WalletsTable;
  balance_holds: BalanceHoldsTable;
  operations: OperationsTable;
  transactions: TransactionsTable;
  kyc_records: KycRecordsTable;
  idempotency_keys: IdempotencyKeysTable;
  daily_totals: DailyTotalsTable;
  transfer_velocity: TransferVelocityTable;
  // Security controls
  security_counters: SecurityCountersTable;
  topup_approvals: TopupApprovalsTable;
  // Content and security operations
  articles: ArticlesTable;
  photos: PhotosTable;
  onboardings: OnboardingsTable;
  configs: ConfigsTable;
  threat_events: ThreatEventsTable;
  security_incidents: SecurityIncidentsTable;
  step_up_requirements: StepUpRequirementsTable;
  rate_limit_entries: RateLimitEntriesTable;
  rate_limit_violations: RateLimitViolationsTable;
  compliance_reports: ComplianceReportsTable;
  // Logs
  audit_logs: AuditLogsTable;
  audit_chain_heads: AuditChainHeadsTable;
  login_audits: LoginAuditsTable;
  security_events: SecurityEventsTable;
  api_access_log: ApiAccessLogTable;
  // Alerts
  alert_deliveries: AlertDeliveriesTable;
  // Consent
  consents: ConsentsTable;
  legal_holds: LegalHoldsTable;
  // GDPR
  data_exports: DataExportsTable;
  user_erasures: UserErasuresTable;
  audit_erasures: AuditErasuresTable;
}

// ---------------------------------------------------------------------------------------------
// Insert shapes (Insertable: what an insert takes), declared only where something imports them; a
// query's result is the type Kysely infers for it, with no alias in between.
// ---------------------------------------------------------------------------------------------

export type NewUser = Insertable<UsersTable>;
export type NewDeviceSession = Insertable<DeviceSessionsTable>;
export type NewOtpSession = Insertable<OtpSessionsTable>;
export type NewBankAccount = Insertable<BankAccountsTable>;
export type NewLoginAudit = Insertable<LoginAuditsTable>;
export type NewSecurityEvent = Insertable<SecurityEventsTable>;
