import { itemFunction as transferItemFunction } from './0010_transfer_engine.ts';
import { statementMigration } from './run-statements.ts';

/**
 * Security context (issue 10 items 1 and 2). Every security event is scored from the user's login
 * history (security-scores.ts): has this user logged in successfully from this address, this device
 * fingerprint, this country before, and how many of their logins failed in the last hour. Each is one
 * indexed probe of login_audits in one statement per event; these indexes serve them. The device
 * fingerprint (its keyed hash) and the country are kept in login_audits.device_info.
 *
 * The transfer engine's audit row (migration 0010) now carries the answered status, the device
 * fingerprint and the location like every other audit row: corebank_transfer_item is replaced with
 * the same body and a wider audit INSERT.
 *
 * Frozen in time: this file must never import application code.
 */
const itemFunction = `create or replace function corebank_transfer_item(
    p_tenant uuid, p_caller jsonb, p_item jsonb, p_prefix text, p_request jsonb, p_settings jsonb)
  returns jsonb language plpgsql volatile as $$
  declare
    v_asset text := p_item->>'asset';
    v_amount bigint := (p_item->>'amount')::bigint;
    v_caller uuid := (p_caller->>'user_id')::uuid;
    v_limited boolean := (p_item->>'asset') = (p_settings->>'limited_asset');
    v_limits jsonb := p_settings->'tiers'->((p_caller->>'kyc_tier')::int);
    v_recipient record;
    v_sender_id uuid;
    v_sender_balance bigint;
    v_sender_locked bigint;
    v_sender_sequence bigint;
    v_receiver_id uuid;
    v_receiver_balance bigint := 0;
    v_receiver_sequence bigint;
    v_recipient_maximum bigint;
    v_daily bigint;
    v_movement uuid := corebank_uuid_v7();
    v_out uuid := corebank_uuid_v7();
    v_in uuid := corebank_uuid_v7();
    v_today date := (now() at time zone 'UTC')::date;
    v_audit jsonb := p_request->'audit';
  begin
    if v_limited and v_amount > (v_limits->>'single')::bigint then
      return corebank_money_failure(p_settings, 'KYC_LIMIT_EXCEEDED', p_prefix, 'amount',
        'exceeds the single transaction maximum of ' || (v_limits->>'single'));
    end if;
    select u.id, u.status, u.kyc_tier, u.deleted_at is not null as deleted, w.account_number,
           a.id as wallet_id, coalesce(a.balance, 0) as balance
      into v_recipient
      from wallets w join users u on u.tenant_id = w.tenant_id and u.id = w.user_id
      left join wallets a on a.tenant_id = w.tenant_id and a.user_id = u.id and a.asset_code = v_asset
       and a.kind = 'customer'
     where w.tenant_id = p_tenant and w.account_number = (p_item->>'to_account_number') and w.kind = 'customer'
     limit 1;
    if not found then
      return corebank_money_failure(p_settings, 'RECIPIENT_NOT_FOUND', p_prefix, 'to_account_number', 'matches no account');
    end if;
    if v_recipient.id = v_caller then
      return corebank_money_failure(p_settings, 'SELF_TRANSFER', p_prefix, 'to_account_number', 'is your own account');
    end if;
    if v_recipient.status <> 1 or v_recipient.deleted then
      return corebank_money_failure(p_settings, 'RECIPIENT_BLOCKED', p_prefix, 'to_account_number', 'cannot receive money');
    end if;
    select w.id, w.balance, w.locked into v_sender_id, v_sender_balance, v_sender_locked from wallets w
     where w.tenant_id = p_tenant and w.user_id = v_caller and w.asset_code = v_asset and w.kind = 'customer';
    if v_sender_id is null then
      return corebank_money_failure(p_settings, 'INSUFFICIENT_FUNDS', p_prefix, null, null);
    end if;
    if v_sender_balance - v_amount < v_sender_locked then
      return corebank_money_failure(p_settings, 'INSUFFICIENT_FUNDS', p_prefix, 'amount', 'exceeds the available balance');
    end if;
    v_receiver_id := v_recipient.wallet_id;
    v_receiver_balance := v_recipient.balance;
    if v_receiver_balance > 9007199254740991 - v_amount then
      return corebank_money_failure(p_settings, 'BALANCE_LIMIT_EXCEEDED', p_prefix, 'amount',
        'would take a balance above 9007199254740991 minor units');
    end if;
    if v_limited then
      -- Today's outgoing (transfers and withdrawal requests): one counter row, kept by both.
      select coalesce((select d.amount from daily_totals d where d.tenant_id = p_tenant
                         and d.kind = 'wallet_outgoing' and d.subject = v_sender_id
                         and d.asset_code = v_asset and d.day = v_today), 0)
        into v_daily;
      if v_daily + v_amount > (v_limits->>'daily')::bigint then
        return corebank_money_failure(p_settings, 'KYC_LIMIT_EXCEEDED', p_prefix, 'amount',
          'would exceed the daily outgoing limit of ' || (v_limits->>'daily'));
      end if;
      v_recipient_maximum := (p_settings->'tiers'->(v_recipient.kyc_tier::int)->>'max_balance')::bigint;
      if v_receiver_balance + v_amount > v_recipient_maximum then
        return corebank_money_failure(p_settings, 'KYC_LIMIT_EXCEEDED', p_prefix, 'amount',
          'would take the recipient balance above the tier maximum of ' || v_recipient_maximum);
      end if;
    end if;

    if v_receiver_id is null then
      -- Opened on first credit, with the account number the sender used; a racing opener keeps one.
      insert into wallets (tenant_id, user_id, asset_code, kind, account_number)
      values (p_tenant, v_recipient.id, v_asset, 'customer', v_recipient.account_number)
      on conflict (tenant_id, user_id, asset_code) where kind = 'customer' do nothing;
      select w.id into v_receiver_id from wallets w where w.tenant_id = p_tenant and w.user_id = v_recipient.id
         and w.asset_code = v_asset and w.kind = 'customer' for update;
    end if;
    with moved as (
      update wallets w set balance = w.balance + m.delta, entry_count = w.entry_count + 1
        from (values (v_sender_id, -v_amount), (v_receiver_id, v_amount)) as m (id, delta)
       where w.tenant_id = p_tenant and w.id = m.id
      returning w.id, w.entry_count)
    select (select entry_count from moved where id = v_sender_id), (select entry_count from moved where id = v_receiver_id)
      into v_sender_sequence, v_receiver_sequence;
    insert into transactions (tenant_id, id, user_id, wallet_id, asset_code, entry_sequence, type, amount,
        balance_before, balance_after, status, description, movement_id, counterparty_wallet_id)
    values
      (p_tenant, v_out, v_caller, v_sender_id, v_asset, v_sender_sequence, 'transfer_out', v_amount,
       v_sender_balance, v_sender_balance - v_amount, 'completed', p_item->>'description', v_movement, v_receiver_id),
      (p_tenant, v_in, v_recipient.id, v_receiver_id, v_asset, v_receiver_sequence, 'transfer_in', v_amount,
       v_receiver_balance, v_receiver_balance + v_amount, 'completed', p_item->>'description', v_movement, v_sender_id);
    insert into daily_totals as d (tenant_id, kind, subject, asset_code, day, amount)
    values (p_tenant, 'wallet_outgoing', v_sender_id, v_asset, v_today, v_amount)
    on conflict (tenant_id, kind, subject, asset_code, day) do update set amount = d.amount + excluded.amount;
    insert into audit_logs (tenant_id, user_id, event_type, event_status, entity_type, entity_id, action,
        new_values, ip_address, user_agent, api_endpoint, request_method, status_code, request_id, session_id,
        device_fingerprint, location, details)
    values (p_tenant, v_caller, 'DATA_CHANGE', 'SUCCESS', 'transaction', v_movement::text, 'TRANSFER',
        jsonb_build_object('asset', v_asset, 'amount', v_amount, 'from_wallet', v_sender_id, 'to_wallet', v_receiver_id),
        (v_audit->>'ip_address')::inet, v_audit->>'user_agent', v_audit->>'endpoint', v_audit->>'method',
        (v_audit->>'status_code')::int, v_audit->>'request_id', v_audit->>'session_id',
        v_audit->>'device_fingerprint', nullif(v_audit->'location', 'null'::jsonb), coalesce(p_item->'audit_details', '{}'::jsonb));
    return jsonb_build_object('ok', true, 'transaction_id', v_movement, 'entry_id', v_out, 'type', 'transfer_out',
      'status', 'completed', 'asset', v_asset, 'amount', v_amount,
      'to_account_number', p_item->>'to_account_number', 'description', p_item->'description',
      'balance_before', v_sender_balance, 'balance_after', v_sender_balance - v_amount,
      'created_at', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
  end $$`;

/** Rolled back: migration 0010's body again (both files are frozen, so one may import the other). */
const previousItemFunction = transferItemFunction.replace('create function', 'create or replace function');

const successfulLogins = "status = 'success' and login_type in ('user_login', 'admin_login')";

const up = [
  `create index idx_login_audits_success_address on login_audits
     (tenant_id, (coalesce(user_id, admin_id)), ip_address) where ${successfulLogins}`,
  `create index idx_login_audits_success_device on login_audits
     (tenant_id, (coalesce(user_id, admin_id)), (device_info ->> 'device_fingerprint'))
     where ${successfulLogins} and device_info ? 'device_fingerprint'`,
  `create index idx_login_audits_success_country on login_audits
     (tenant_id, (coalesce(user_id, admin_id)), (device_info ->> 'country'))
     where ${successfulLogins} and device_info ? 'country'`,
  `create index idx_login_audits_failed_subject on login_audits
     (tenant_id, (coalesce(user_id, admin_id)), created_at desc) where status = 'failed'`,
  itemFunction,
];

const down = [
  previousItemFunction,
  'drop index if exists idx_login_audits_failed_subject',
  'drop index if exists idx_login_audits_success_country',
  'drop index if exists idx_login_audits_success_device',
  'drop index if exists idx_login_audits_success_address',
];

export const migration = statementMigration(up, down);
