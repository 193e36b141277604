import { groupFunction as previousGroupFunction } from './0010_transfer_engine.ts';
import { statementMigration } from './run-statements.ts';

/**
 * The velocity rule's count kept by the write (issue 10's benchmark). The rule asks whether a user
 * sent at least DETECTION_VELOCITY_TRANSFERS_MIN transfers in the last DETECTION_VELOCITY_WINDOW_MINUTES;
 * its inline screen read the user's entries of the window after every busy user's transfers, one more
 * transaction per user and second beside the transfers themselves.
 *
 * transfer_velocity keeps, per user, the transfers posted in two tumbling windows of the configured
 * length: the current one (window_index = floor(epoch / length)) and the one before. Any sliding window
 * of that length ending now lies inside those two, so current + previous is never less than the
 * rule's count: a sum under the minimum proves the rule finds nothing, with no read. The row is
 * written under its row lock by the group statement that posts the transfers (senders in id order),
 * so concurrent transfers of one user each see the others that committed before them, and the last to
 * commit sees them all. A user's first count at a window length starts from the exact count of the
 * window's entries (corebank_transfer_velocity_add), so transfers posted before — before this
 * migration, by the seed, under another window length — are covered. Transfers posted while detection
 * is off are not counted: turning it on again leaves up to one window in which the sweep, which reads
 * the entries, is what finds velocity.
 *
 * corebank_transfer_group (migration 0010) is replaced by the same body that, when the settings carry
 * `velocity_minutes` (detection is on), adds each request's posted transfers to its sender's row and
 * answers the sum as `velocity_transfers` in the request's result.
 *
 * Frozen in time: this file must never import application code.
 */
const velocityTable = `create table transfer_velocity (
    tenant_id uuid not null references tenants (id),
    user_id uuid not null,
    window_minutes integer not null check (window_minutes between 1 and 1440),
    window_index bigint not null,
    current_count integer not null check (current_count between 0 and 1000000000),
    previous_count integer not null check (previous_count between 0 and 1000000000),
    primary key (tenant_id, user_id)
  )`;

/** The counting step of corebank_transfer_velocity_add: the row as it is, moved on to this window. */
const countOnStatement = `update transfer_velocity v set
      previous_count = case when v.window_index >= v_index then v.previous_count
                            when v.window_index = v_index - 1 then v.current_count else 0 end,
      current_count = case when v.window_index >= v_index then least(v.current_count + p_count, 1000000000)
                           else least(p_count, 1000000000) end,
      window_index = greatest(v.window_index, v_index)
    where v.tenant_id = p_tenant and v.user_id = p_user and v.window_minutes = p_minutes
      and v.window_index >= 0
    returning least(v.current_count + v.previous_count, 1000000000) into v_bound`;

/**
 * Adds `p_count` posted transfers (this transaction's, already inserted) to the user's current window
 * and answers current + previous. A user counted for the first time at this window length — a new
 * row, one the seed left uncounted (window_index -1), or one kept under another length — starts from
 * the exact count of the window's entries, read under the row's lock: every transfer that committed
 * before is in that count, and every one that commits after passes through this function behind the
 * lock. The count goes into the current window (an over-count of it, which is safe): when the window
 * moves on it becomes the previous one, so the entries before the first count stay covered as long as
 * they can be in the sliding window.
 */
const addFunction = `create function corebank_transfer_velocity_add(
    p_tenant uuid, p_user uuid, p_count integer, p_minutes integer)
  returns integer language plpgsql volatile as $$
  declare
    v_index bigint := floor(extract(epoch from now()) / (p_minutes * 60))::bigint;
    v_bound integer;
    v_exact integer;
  begin
    ${countOnStatement};
    if found then return v_bound; end if;
    insert into transfer_velocity (tenant_id, user_id, window_minutes, window_index, current_count, previous_count)
    values (p_tenant, p_user, p_minutes, -1, 0, 0) on conflict (tenant_id, user_id) do nothing;
    perform 1 from transfer_velocity v where v.tenant_id = p_tenant and v.user_id = p_user for update;
    -- Another transaction may have started the count while this one waited for the row.
    ${countOnStatement};
    if found then return v_bound; end if;
    select least(count(*), 1000000000)::integer into v_exact from transactions t
     where t.tenant_id = p_tenant and t.user_id = p_user and t.type = 'transfer_out'
       and t.created_at > now() - make_interval(mins => p_minutes);
    update transfer_velocity v set window_minutes = p_minutes, window_index = v_index,
        current_count = v_exact, previous_count = 0
      where v.tenant_id = p_tenant and v.user_id = p_user;
    return v_exact;
  end $$`;

const declarationAnchor = '    v_owner uuid;\n  begin';
const returnAnchor = '    return v_results;\n  end $$';

const velocityBlock = `    if p_settings ? 'velocity_minutes' then
      -- Each sender's posted transfers, counted in sender order: the rows are locked in one order, so
      -- two groups never wait for each other's (the wallets are locked in id order for the same reason).
      for v_sender, v_posted in
        select c.value->>'user_id', sum(case when (p_requests->(c.o - 1)::int->>'batch')::boolean
                 then (v_results->(c.o - 1)::int->'body'->>'completed')::int else 1 end)
          from jsonb_array_elements(v_callers) with ordinality as c (value, o)
         where (c.value->>'ok')::boolean and (v_results->(c.o - 1)::int->>'status') = '201'
           and not coalesce((v_results->(c.o - 1)::int->>'replayed')::boolean, false)
         group by 1 order by 1
      loop
        if v_posted > 0 then
          v_bounds := v_bounds || jsonb_build_object(v_sender, corebank_transfer_velocity_add(p_tenant,
            v_sender::uuid, least(v_posted, 1000000000)::int, (p_settings->>'velocity_minutes')::int));
        end if;
      end loop;
      for i in 0 .. v_count - 1 loop
        v_result := v_results->i;
        if coalesce(v_bounds ? ((v_callers->i)->>'user_id'), false) and (v_result->>'status') = '201'
           and not coalesce((v_result->>'replayed')::boolean, false) then
          v_results := jsonb_set(v_results, array[i::text], v_result || jsonb_build_object(
            'velocity_transfers', v_bounds->((v_callers->i)->>'user_id')));
        end if;
      end loop;
    end if;
`;

function replaceOnce(text: string, anchor: string, replacement: string): string {
  const at = text.indexOf(anchor);
  if (at < 0 || text.indexOf(anchor, at + 1) >= 0)
    throw new Error(`migration 0018: anchor not unique: ${anchor}`);
  return text.slice(0, at) + replacement + text.slice(at + anchor.length);
}

const groupFunction = replaceOnce(
  replaceOnce(
    previousGroupFunction.replace('create function', 'create or replace function'),
    declarationAnchor,
    "    v_owner uuid;\n    v_result jsonb;\n    v_sender text;\n    v_posted bigint;\n    v_bounds jsonb := '{}';\n  begin",
  ),
  returnAnchor,
  `${velocityBlock}${returnAnchor}`,
);

/**
 * The adaptive rate limit counts the device's trust too (issue 10 item 6): a session remembers the
 * trusted device its login came from. No foreign key: trusted devices are deleted when MFA is reset,
 * and the limit then reads no device (a soft reference, joined when read).
 */
const sessionDevice = 'alter table device_sessions add column trusted_device_id uuid';

const up = [
  sessionDevice,
  velocityTable,
  `select corebank_protect_tenant_table('transfer_velocity', 'crud')`,
  addFunction,
  groupFunction,
];

const down = [
  previousGroupFunction.replace('create function', 'create or replace function'),
  'drop function if exists corebank_transfer_velocity_add(uuid, uuid, integer, integer)',
  'drop table if exists transfer_velocity',
  'alter table device_sessions drop column if exists trusted_device_id',
];

export const migration = statementMigration(up, down);
