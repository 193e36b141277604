import { statementMigration } from './run-statements.ts';

/**
 * Money: linked bank accounts (seed 000), wallets per user and asset with balance locking (seed 000
 * users.balance and seed 002 token_balances), the immutable ledger (seed 000 transactions), holds,
 * operations with their lifecycle (seed 002) and KYC records (seed 002).
 *
 * Amounts are BIGINT minor units of the wallet's asset (assets.scale gives the decimals).
 */
const up = [
  `create table bank_accounts (
     tenant_id uuid not null,
     id uuid not null default corebank_uuid_v7(),
     user_id uuid not null,
     account_number varchar(50) not null check (account_number ~ '^[0-9]{8,20}$'),
     account_name varchar(100) not null check (char_length(account_name) between 3 and 100),
     bank_name varchar(100),
     bank_code varchar(10) check (bank_code ~ '^[0-9A-Za-z]{1,10}$'),
     account_type varchar(20) check (account_type in ('saving', 'checking', 'current')),
     is_active boolean not null default true,
     is_primary boolean not null default false,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (tenant_id, id),
     unique (tenant_id, user_id, account_number),
     foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
     check (is_active or not is_primary)
   )`,
  // At most one primary account per user, enforced by the database.
  `create unique index idx_bank_accounts_one_primary on bank_accounts (tenant_id, user_id)
     where is_primary`,
  `select corebank_protect_tenant_table('bank_accounts', 'crud')`,
  `select corebank_protect_user_rows('bank_accounts', 'user_id')`,
  `select corebank_add_updated_at_trigger('bank_accounts')`,

  /*
   * System wallets (cash_in, cash_out, fees) are the other side of every movement into or out of
   * the bank, so for each asset the sum of all balances is zero. Only system wallets may go negative.
   */
  `create table wallets (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     user_id uuid,
     asset_code varchar(16) not null references assets (code),
     account_number varchar(50),
     kind varchar(10) not null check (kind in ('customer', 'system')),
     system_purpose varchar(20) check (system_purpose in ('cash_in', 'cash_out', 'fees')),
     balance bigint not null default 0,
     locked bigint not null default 0,
     entry_count bigint not null default 0 check (entry_count >= 0),
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (tenant_id, id),
     foreign key (tenant_id, user_id) references users (tenant_id, id),
     check ((kind = 'customer') = (user_id is not null)),
     check ((kind = 'system') = (system_purpose is not null)),
     check (kind = 'system' or (balance >= 0 and locked >= 0 and locked <= balance)),
     check (kind = 'customer' or locked = 0)
   )`,
  `create unique index idx_wallets_user_asset on wallets (tenant_id, user_id, asset_code)
     where kind = 'customer'`,
  `create unique index idx_wallets_system_purpose on wallets (tenant_id, asset_code, system_purpose)
     where kind = 'system'`,
  `create unique index idx_wallets_account_number on wallets (tenant_id, asset_code, account_number)
     where account_number is not null`,
  `select corebank_protect_tenant_table('wallets', 'crud')`,
  `select corebank_add_updated_at_trigger('wallets')`,

  `create table balance_holds (
     tenant_id uuid not null,
     id uuid not null default corebank_uuid_v7(),
     wallet_id uuid not null,
     amount bigint not null check (amount > 0),
     status varchar(20) not null default 'active' check (status in ('active', 'released', 'captured')),
     reason varchar(255),
     operation_id uuid,
     created_by uuid,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     released_at timestamptz,
     captured_at timestamptz,
     primary key (tenant_id, id),
     foreign key (tenant_id, wallet_id) references wallets (tenant_id, id),
     check ((status = 'released') = (released_at is not null)),
     check ((status = 'captured') = (captured_at is not null))
   )`,
  'create index idx_balance_holds_wallet on balance_holds (tenant_id, wallet_id, status)',
  `select corebank_protect_tenant_table('balance_holds', 'crud')`,
  `select corebank_add_updated_at_trigger('balance_holds')`,

  `create table operations (
     tenant_id uuid not null,
     id uuid not null default corebank_uuid_v7(),
     user_id uuid not null,
     wallet_id uuid not null,
     asset_code varchar(16) not null references assets (code),
     operation_type varchar(30) not null check (operation_type in
       ('deposit', 'withdrawal', 'transfer', 'topup', 'hold_capture')),
     status varchar(20) not null default 'pending' check (status in
       ('pending', 'processing', 'completed', 'failed')),
     amount bigint not null check (amount > 0),
     bank_account_id uuid,
     hold_id uuid,
     external_reference varchar(255),
     bitcoin_tx_hash varchar(128),
     soroban_tx_hash varchar(128),
     error_message text,
     metadata jsonb not null default '{}',
     attempt_count integer not null default 0 check (attempt_count >= 0),
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     completed_at timestamptz,
     primary key (tenant_id, id),
     foreign key (tenant_id, user_id) references users (tenant_id, id),
     foreign key (tenant_id, wallet_id) references wallets (tenant_id, id),
     foreign key (tenant_id, bank_account_id) references bank_accounts (tenant_id, id),
     foreign key (tenant_id, hold_id) references balance_holds (tenant_id, id),
     check (status <> 'failed' or error_message is not null),
     check ((status in ('completed', 'failed')) = (completed_at is not null))
   )`,
  'create index idx_operations_user on operations (tenant_id, user_id, created_at desc)',
  'create index idx_operations_status on operations (tenant_id, status, operation_type)',
  `select corebank_protect_tenant_table('operations', 'crud')`,
  `select corebank_protect_user_rows('operations', 'user_id')`,
  `select corebank_add_updated_at_trigger('operations')`,

  /*
   * The ledger keeps seed 000's transactions shape. Each row is one entry on one wallet; a movement
   * (movement_id) groups the entries of one business event, which always sum to zero.
   * entry_sequence numbers a wallet's entries 1, 2, 3 … with no gap, and balance_after of entry n is
   * balance_before of entry n + 1: `corebank ledger check` proves both.
   */
  `create table transactions (
     tenant_id uuid not null,
     id uuid not null default corebank_uuid_v7(),
     user_id uuid,
     wallet_id uuid not null,
     asset_code varchar(16) not null references assets (code),
     entry_sequence bigint not null check (entry_sequence > 0),
     type varchar(50) not null check (type in
       ('topup', 'withdraw', 'transfer_out', 'transfer_in', 'fee', 'hold_capture')),
     amount bigint not null check (amount > 0),
     balance_before bigint not null,
     balance_after bigint not null,
     status varchar(50) not null default 'completed' check (status in ('completed', 'failed', 'pending')),
     description text check (char_length(description) <= 500),
     movement_id uuid not null,
     counterparty_wallet_id uuid,
     operation_id uuid,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (tenant_id, id),
     unique (tenant_id, wallet_id, entry_sequence),
     foreign key (tenant_id, wallet_id) references wallets (tenant_id, id),
     foreign key (tenant_id, user_id) references users (tenant_id, id),
     foreign key (tenant_id, counterparty_wallet_id) references wallets (tenant_id, id),
     foreign key (tenant_id, operation_id) references operations (tenant_id, id),
     check (balance_after - balance_before = amount or balance_before - balance_after = amount)
   )`,
  'create index idx_transactions_user_created on transactions (tenant_id, user_id, created_at desc, id desc)',
  'create index idx_transactions_user_type on transactions (tenant_id, user_id, type)',
  'create index idx_transactions_created_at on transactions (tenant_id, created_at desc)',
  'create index idx_transactions_movement on transactions (tenant_id, movement_id)',
  `select corebank_protect_tenant_table('transactions', 'append')`,

  `create table kyc_records (
     tenant_id uuid not null,
     id uuid not null default corebank_uuid_v7(),
     user_id uuid not null,
     tier_level smallint not null check (tier_level in (0, 1, 2)),
     status varchar(20) not null default 'pending' check (status in
       ('pending', 'approved', 'rejected', 'expired')),
     document_type varchar(50) check (document_type in
       ('national_id', 'passport', 'driving_license', 'residence_permit')),
     document_country char(2),
     document_number_hash varchar(255),
     verification_data jsonb not null default '{}',
     reviewer_id uuid,
     rejection_reason text check (char_length(rejection_reason) <= 500),
     submitted_at timestamptz not null default now(),
     reviewed_at timestamptz,
     approved_at timestamptz,
     expires_at timestamptz,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (tenant_id, id),
     foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
     foreign key (tenant_id, reviewer_id) references users (tenant_id, id),
     check (status <> 'rejected' or rejection_reason is not null),
     check (status <> 'approved' or approved_at is not null)
   )`,
  'create index idx_kyc_records_user on kyc_records (tenant_id, user_id, status)',
  'create index idx_kyc_records_status on kyc_records (tenant_id, status, expires_at)',
  `select corebank_protect_tenant_table('kyc_records', 'crud')`,
  `select corebank_protect_user_rows('kyc_records', 'user_id')`,
  `select corebank_add_updated_at_trigger('kyc_records')`,
];

const down = [
  'drop table if exists kyc_records',
  'drop table if exists transactions',
  'drop table if exists operations',
  'drop table if exists balance_holds',
  'drop table if exists wallets',
  'drop table if exists bank_accounts',
];

export const migration = statementMigration(up, down);
