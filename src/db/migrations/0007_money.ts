import { statementMigration } from './run-statements.ts';

/**
 * Money, second part: idempotency keys for the money endpoints, "exactly one primary bank account per
 * user" as a deferred constraint trigger, and the indexes the transfer path and the statement need.
 *
 * Frozen in time: this file must never import application code.
 */
const up = [
  /*
   * One row per (tenant, caller, key). The row is inserted in the same database transaction as the
   * money movement it guards, so a racing duplicate blocks on the primary key until the first
   * commits, then finds the stored response; a rolled-back attempt leaves no row behind.
   */
  `create table idempotency_keys (
     tenant_id uuid not null,
     user_id uuid not null,
     idempotency_key varchar(255) not null check (char_length(idempotency_key) between 1 and 255),
     request_hash char(64) not null check (request_hash ~ '^[0-9a-f]{64}$'),
     endpoint varchar(255) not null,
     response_status smallint check (response_status between 100 and 599),
     response_body jsonb,
     created_at timestamptz not null default now(),
     expires_at timestamptz not null,
     primary key (tenant_id, user_id, idempotency_key),
     foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
     check (expires_at >= created_at + interval '24 hours')
   )`,
  'create index idx_idempotency_keys_expires on idempotency_keys (tenant_id, expires_at)',
  `select corebank_protect_tenant_table('idempotency_keys', 'crud')`,

  /*
   * The partial unique index of 0003 allows at most one primary account; this trigger adds "at least
   * one while the user has an active account". It is deferred to commit so "set primary" can clear
   * the old flag and set the new one in two statements of one transaction.
   */
  `create or replace function corebank_check_one_primary_bank_account() returns trigger
   language plpgsql as $$
   declare
     checked_tenant uuid := coalesce(new.tenant_id, old.tenant_id);
     checked_user uuid := coalesce(new.user_id, old.user_id);
     active_count integer;
     primary_count integer;
   begin
     select count(*) filter (where is_active), count(*) filter (where is_primary)
       into active_count, primary_count
       from bank_accounts where tenant_id = checked_tenant and user_id = checked_user;
     if active_count > 0 and primary_count <> 1 then
       raise exception 'user % must have exactly one primary bank account, has %', checked_user, primary_count
         using errcode = 'check_violation', constraint = 'bank_accounts_exactly_one_primary';
     end if;
     return null;
   end $$`,
  `create constraint trigger bank_accounts_exactly_one_primary
     after insert or update or delete on bank_accounts
     deferrable initially deferred
     for each row execute function corebank_check_one_primary_bank_account()`,

  // A transfer names its recipient by account number, whichever asset it moves.
  'create index idx_wallets_account_number_any_asset on wallets (tenant_id, account_number) where account_number is not null',
  // The daily outgoing limit sums one wallet's entries of today.
  'create index idx_transactions_wallet_created on transactions (tenant_id, wallet_id, created_at)',
  // The payout worker picks pending and stuck processing withdrawals, oldest first.
  "create index idx_operations_pending on operations (tenant_id, status, created_at) where status in ('pending', 'processing')",
];

const down = [
  'drop index if exists idx_operations_pending',
  'drop index if exists idx_transactions_wallet_created',
  'drop index if exists idx_wallets_account_number_any_asset',
  'drop trigger if exists bank_accounts_exactly_one_primary on bank_accounts',
  'drop function if exists corebank_check_one_primary_bank_account()',
  'drop table if exists idempotency_keys',
];

export const migration = statementMigration(up, down);
