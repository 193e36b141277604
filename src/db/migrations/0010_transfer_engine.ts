import { statementMigration } from './run-statements.ts';

/**
 * The transfer engine (issue 8): a customer transfer, or a batch of them, costs one database call.
 * corebank_transfer_group takes many requests of one tenant (a group gathered by the group committer)
 * and, in the caller's one transaction: checks each request's session as the guard would, locks every
 * wallet of the group in id order, then per request claims its Idempotency-Key, decides every rule,
 * writes the entries, the daily total, the audit row and the stored response, and returns a result
 * per request. A rejected request writes only its stored rejection; the others are unaffected.
 * daily_totals replaces the sum of today's entries that every transfer used to read.
 *
 * Frozen in time: this file must never import application code.
 */

/** Looks up a message of the catalog the application passes in, so stored rejections read as thrown ones. */
const failureFunction = `create function corebank_money_failure(
    p_settings jsonb, p_code text, p_prefix text, p_field text, p_reason text)
  returns jsonb language sql immutable as $$
    select jsonb_build_object(
      'status', (p_settings->'statuses'->>p_code)::int,
      'body', jsonb_build_object('error', jsonb_strip_nulls(jsonb_build_object(
        'code', p_code,
        'message', p_settings->'messages'->>p_code,
        'details', case when p_field is null then null
                        else jsonb_build_array(jsonb_build_object('field', p_prefix || p_field, 'reason', p_reason)) end))))
  $$`;

/**
 * One transfer item against the locked wallets as they are now: decides every rule and, when all
 * pass, writes both entries, the daily total and the audit row. Returns {ok: true, …the entry} or a
 * rejection {status, body} with nothing written.
 */
/** Migration 0013 restores this body when it is rolled back. */
export const itemFunction = `create function corebank_transfer_item(
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
        new_values, ip_address, user_agent, api_endpoint, request_method, request_id, session_id, details)
    values (p_tenant, v_caller, 'DATA_CHANGE', 'SUCCESS', 'transaction', v_movement::text, 'TRANSFER',
        jsonb_build_object('asset', v_asset, 'amount', v_amount, 'from_wallet', v_sender_id, 'to_wallet', v_receiver_id),
        (v_audit->>'ip_address')::inet, v_audit->>'user_agent', v_audit->>'endpoint', v_audit->>'method',
        v_audit->>'request_id', v_audit->>'session_id', coalesce(p_item->'audit_details', '{}'::jsonb));
    return jsonb_build_object('ok', true, 'transaction_id', v_movement, 'entry_id', v_out, 'type', 'transfer_out',
      'status', 'completed', 'asset', v_asset, 'amount', v_amount,
      'to_account_number', p_item->>'to_account_number', 'description', p_item->'description',
      'balance_before', v_sender_balance, 'balance_after', v_sender_balance - v_amount,
      'created_at', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
  end $$`;

/**
 * One request of a group: its Idempotency-Key claimed (or its stored response replayed), its item or
 * items posted, its response stored under the key. An atomic batch runs in a subtransaction, so its
 * first failing item undoes the items before it; a non-atomic batch keeps each item's own outcome.
 */
const requestFunction = `create function corebank_transfer_request(
    p_tenant uuid, p_caller jsonb, p_request jsonb, p_settings jsonb)
  returns jsonb language plpgsql volatile as $$
  declare
    v_caller uuid := (p_caller->>'user_id')::uuid;
    v_key text := p_request->>'key';
    v_claimed boolean;
    v_existing record;
    v_items jsonb := p_request->'items';
    v_count int := jsonb_array_length(p_request->'items');
    v_outcome jsonb;
    v_outcomes jsonb := '[]'::jsonb;
    v_failure jsonb;
    v_failed_index int;
    v_completed int := 0;
    v_response jsonb;
  begin
    if v_key is not null then
      insert into idempotency_keys as k (tenant_id, user_id, idempotency_key, request_hash, endpoint, expires_at)
      values (p_tenant, v_caller, v_key, p_request->>'hash', p_request->>'endpoint',
              now() + make_interval(hours => (p_settings->>'ttl_hours')::int))
      on conflict (tenant_id, user_id, idempotency_key) do update
        set request_hash = excluded.request_hash, endpoint = excluded.endpoint, response_status = null,
            response_body = null, created_at = now(), expires_at = excluded.expires_at
        where k.expires_at < now()
      returning true into v_claimed;
      if v_claimed is null then
        select k.request_hash, k.response_status, k.response_body into v_existing from idempotency_keys k
         where k.tenant_id = p_tenant and k.user_id = v_caller and k.idempotency_key = v_key;
        if v_existing.request_hash <> p_request->>'hash' then
          return corebank_money_failure(p_settings, 'IDEMPOTENCY_KEY_REUSED', '', 'headers.idempotency-key',
            'was used with a different request body or endpoint') || '{"unstored": true}';
        end if;
        return jsonb_build_object('status', v_existing.response_status, 'body', v_existing.response_body,
                                  'replayed', true);
      end if;
    end if;

    if (p_caller->>'status')::int <> 1 or (p_caller->>'deleted')::boolean then
      v_response := corebank_money_failure(p_settings, 'ACCOUNT_BLOCKED', '', null, null);
    elsif not (p_request->>'batch')::boolean then
      v_outcome := corebank_transfer_item(p_tenant, p_caller, v_items->0, 'body.', p_request, p_settings);
      if (v_outcome->>'ok')::boolean then
        v_response := jsonb_build_object('status', 201, 'body', v_outcome - 'ok');
      else
        v_response := v_outcome;
      end if;
    elsif (p_request->>'atomic')::boolean then
      begin
        for i in 0 .. v_count - 1 loop
          v_outcome := corebank_transfer_item(p_tenant, p_caller, v_items->i || jsonb_build_object(
            'audit_details', jsonb_build_object('batch', true, 'index', i)),
            'body.transfers.' || i || '.', p_request, p_settings);
          if not coalesce((v_outcome->>'ok')::boolean, false) then
            v_failure := v_outcome;
            v_failed_index := i;
            raise exception using errcode = 'CBAT1';
          end if;
          v_outcomes := v_outcomes || jsonb_build_array((v_outcome - 'ok') || jsonb_build_object('index', i,
            'reference', v_items->i->'reference'));
        end loop;
      exception when sqlstate 'CBAT1' then
        v_response := jsonb_set(v_failure, '{body,error,message}', to_jsonb(
          'Transfer ' || v_failed_index || ' of the batch was refused, so none was made: '
            || (v_failure->'body'->'error'->>'message')));
      end;
      if v_response is null then
        v_response := jsonb_build_object('status', 201, 'body', jsonb_build_object(
          'atomic', true, 'status', 'completed', 'completed', v_count, 'rejected', 0, 'items', v_outcomes));
      end if;
    else
      for i in 0 .. v_count - 1 loop
        v_outcome := corebank_transfer_item(p_tenant, p_caller, v_items->i || jsonb_build_object(
          'audit_details', jsonb_build_object('batch', true, 'index', i)),
          'body.transfers.' || i || '.', p_request, p_settings);
        if (v_outcome->>'ok')::boolean then
          v_completed := v_completed + 1;
          v_outcomes := v_outcomes || jsonb_build_array((v_outcome - 'ok') || jsonb_build_object('index', i,
            'reference', v_items->i->'reference'));
        else
          v_outcomes := v_outcomes || jsonb_build_array(jsonb_build_object(
            'index', i, 'reference', v_items->i->'reference', 'status', 'rejected',
            'error', v_outcome->'body'->'error'));
        end if;
      end loop;
      v_response := jsonb_build_object('status', 201, 'body', jsonb_build_object(
        'atomic', false,
        'status', case when v_completed = v_count then 'completed' when v_completed = 0 then 'rejected'
                       else 'partial' end,
        'completed', v_completed, 'rejected', v_count - v_completed, 'items', v_outcomes));
    end if;

    if v_key is not null then
      update idempotency_keys k set response_status = (v_response->>'status')::int, response_body = v_response->'body'
       where k.tenant_id = p_tenant and k.user_id = v_caller and k.idempotency_key = v_key;
    end if;
    return v_response;
  end $$`;

/**
 * The session check of the guard (auth-guard.ts loadPrincipal), in the statement: a caller whose
 * session is not good gets the guard's answer and nothing of theirs runs.
 */
const callerFunction = `create function corebank_transfer_caller(p_tenant uuid, p_request jsonb, p_settings jsonb)
  returns jsonb language plpgsql volatile as $$
  declare
    v_session record;
    v_staff boolean;
    v_kyc_tier smallint;
    v_user record;
  begin
    if p_request->>'session_id' is null then
      -- A caller the application checked already (a service called without HTTP, a job).
      select u.id, u.status, u.kyc_tier, u.deleted_at is not null as deleted into v_user
        from users u where u.tenant_id = p_tenant and u.id = (p_request->>'user_id')::uuid;
      if not found then
        return corebank_money_failure(p_settings, 'UNAUTHENTICATED', '', null, null) || '{"unstored": true}';
      end if;
      return jsonb_build_object('ok', true, 'user_id', v_user.id, 'status', v_user.status,
        'deleted', v_user.deleted, 'kyc_tier', v_user.kyc_tier);
    end if;
    select * into v_session from corebank_authenticate_session(p_tenant, (p_request->>'session_id')::uuid,
      (p_settings->>'idle_seconds')::int, (p_settings->>'touch_seconds')::int);
    if not found or v_session.r_user_id <> (p_request->>'user_id')::uuid or not v_session.r_is_active
       or v_session.r_expires_at <= now() or v_session.r_absolute_expires_at <= now()
       or v_session.r_status = 0 or v_session.r_deleted_at is not null then
      return corebank_money_failure(p_settings, 'UNAUTHENTICATED', '', null, null) || '{"unstored": true}';
    end if;
    if v_session.r_tenant_status <> 'active' then
      return corebank_money_failure(p_settings, 'TENANT_SUSPENDED', '', null, null) || '{"unstored": true}';
    end if;
    v_staff := v_session.r_role in (select jsonb_array_elements_text(p_settings->'staff_roles'));
    if v_staff and v_session.r_status = 2 then
      return jsonb_set(corebank_money_failure(p_settings, 'ACCOUNT_BLOCKED', '', null, null),
        '{body,error,message}', '"This staff account is blocked."') || '{"unstored": true}';
    end if;
    if (v_staff and not v_session.r_mfa_verified)
       or not (v_session.r_role in (select jsonb_array_elements_text(p_settings->'roles'))
               or (p_settings->>'permission') = any(v_session.r_permissions)) then
      return corebank_money_failure(p_settings, 'FORBIDDEN', '', null, null) || '{"unstored": true}';
    end if;
    select u.kyc_tier into v_kyc_tier from users u where u.tenant_id = p_tenant and u.id = v_session.r_user_id;
    return jsonb_build_object('ok', true, 'user_id', v_session.r_user_id, 'status', v_session.r_status,
      'deleted', false, 'kyc_tier', v_kyc_tier, 'role', v_session.r_role);
  end $$`;

/**
 * A group of transfer requests of one tenant, in the caller's one transaction: sessions checked,
 * every wallet the group may touch locked in id order (so two groups over the same wallets queue,
 * never deadlock on wallets), then each request in arrival order. Returns one result per request.
 */
export const groupFunction = `create function corebank_transfer_group(p_tenant uuid, p_requests jsonb, p_settings jsonb)
  returns jsonb language plpgsql volatile as $$
  declare
    v_callers jsonb := '[]'::jsonb;
    v_caller jsonb;
    v_results jsonb := '[]'::jsonb;
    v_count int := jsonb_array_length(p_requests);
    v_live jsonb := '[]'::jsonb;
    v_wallets uuid[] := '{}';
    v_item jsonb;
    v_wallet uuid;
    v_owner uuid;
  begin
    perform set_config('app.tenant_id', p_tenant::text, true);
    perform set_config('app.user_id', '', true);
    perform set_config('role', 'corebank_app', true);
    if exists (select 1 from configs c where c.tenant_id = p_tenant and c.key = 'maintenance_mode'
                 and c.value in ('true', '1')) then
      for i in 0 .. v_count - 1 loop
        v_results := v_results || jsonb_build_array(
          corebank_money_failure(p_settings, 'MAINTENANCE_MODE', '', null, null) || '{"unstored": true}');
      end loop;
      return v_results;
    end if;
    for i in 0 .. v_count - 1 loop
      v_caller := corebank_transfer_caller(p_tenant, p_requests->i, p_settings);
      v_callers := v_callers || jsonb_build_array(v_caller);
      if (v_caller->>'ok')::boolean then
        v_live := v_live || jsonb_build_array(jsonb_build_object('user_id', v_caller->'user_id',
          'items', p_requests->i->'items'));
      end if;
    end loop;
    -- One indexed lookup per wallet: a set-based join over the requests' JSON let the planner, with a
    -- tenant's statistics stale, compare every wallet with every other (19 ms at 200 wallets).
    for i in 0 .. jsonb_array_length(v_live) - 1 loop
      for j in 0 .. jsonb_array_length(v_live->i->'items') - 1 loop
        v_item := v_live->i->'items'->j;
        select w.id into v_wallet from wallets w
         where w.tenant_id = p_tenant and w.user_id = (v_live->i->>'user_id')::uuid
           and w.asset_code = v_item->>'asset' and w.kind = 'customer';
        if v_wallet is not null then v_wallets := v_wallets || v_wallet; end if;
        select w.user_id into v_owner from wallets w
         where w.tenant_id = p_tenant and w.account_number = v_item->>'to_account_number' and w.kind = 'customer'
         limit 1;
        if v_owner is not null then
          select w.id into v_wallet from wallets w
           where w.tenant_id = p_tenant and w.user_id = v_owner and w.asset_code = v_item->>'asset'
             and w.kind = 'customer';
          if v_wallet is not null then v_wallets := v_wallets || v_wallet; end if;
        end if;
      end loop;
    end loop;
    perform 1 from wallets w where w.tenant_id = p_tenant and w.id = any(v_wallets) order by w.id for update;
    for i in 0 .. v_count - 1 loop
      v_caller := v_callers->i;
      if (v_caller->>'ok')::boolean then
        v_results := v_results || jsonb_build_array(
          corebank_transfer_request(p_tenant, v_caller, p_requests->i, p_settings));
      else
        v_results := v_results || jsonb_build_array(v_caller);
      end if;
    end loop;
    return v_results;
  end $$`;

const up = [
  /*
   * Amounts of one UTC day that a rule limits, one row per (kind, subject, asset, day), added to under
   * a lock by the posting it counts. wallet_outgoing: a wallet's outgoing money (transfers, and
   * withdrawals counted when requested; a failed payout gives its amount back), so the daily KYC limit
   * reads one row instead of summing the day's entries and holds. staff_credit: what one staff member
   * credited today without a second approval, so splitting a large top-up into amounts below the
   * maker–checker threshold still needs the checker once the day's total passes it.
   */
  `create table daily_totals (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     kind varchar(20) not null check (kind in ('wallet_outgoing', 'staff_credit')),
     subject uuid not null,
     asset_code varchar(16) not null references assets (code),
     day date not null,
     amount bigint not null check (amount >= 0),
     primary key (tenant_id, id),
     unique (tenant_id, kind, subject, asset_code, day)
   )`,
  `select corebank_protect_tenant_table('daily_totals', 'crud')`,
  // Today's total as the old rule summed it: today's transfers out and withdrawals, and held withdrawals.
  `insert into daily_totals (tenant_id, kind, subject, asset_code, day, amount)
   select tenant_id, 'wallet_outgoing', wallet_id, asset_code, (now() at time zone 'UTC')::date, sum(amount)
     from (select t.tenant_id, t.wallet_id, t.asset_code, t.amount from transactions t
            where t.type in ('transfer_out', 'withdraw')
              and t.created_at >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'
           union all
           select h.tenant_id, h.wallet_id, w.asset_code, h.amount from balance_holds h
             join wallets w on w.tenant_id = h.tenant_id and w.id = h.wallet_id
            where h.status = 'active' and h.reason = 'withdrawal') outgoing
    group by tenant_id, wallet_id, asset_code`,
  failureFunction,
  itemFunction,
  requestFunction,
  callerFunction,
  groupFunction,
];

const down = [
  'drop function if exists corebank_transfer_group(uuid, jsonb, jsonb)',
  'drop function if exists corebank_transfer_caller(uuid, jsonb, jsonb)',
  'drop function if exists corebank_transfer_request(uuid, jsonb, jsonb, jsonb)',
  'drop function if exists corebank_transfer_item(uuid, jsonb, jsonb, text, jsonb, jsonb)',
  'drop function if exists corebank_money_failure(jsonb, text, text, text, text)',
  'drop table if exists daily_totals',
];

export const migration = statementMigration(up, down);
