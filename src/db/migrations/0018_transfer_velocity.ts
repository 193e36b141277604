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
 * written under its row lock by the group statement that posts the transfers, so concurrent transfers
 * of one user each see the others that committed before them, and the last to commit sees them all.
 * Over-counting is safe and used where the count is unknown: a row written under another window
 * length starts with `previous_count` at the cap, so the screen reads the entries until a whole window
 * of the new length has been counted.
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

/** Adds `p_count` posted transfers to the user's current window; answers current + previous. */
const addFunction = `create function corebank_transfer_velocity_add(
    p_tenant uuid, p_user uuid, p_count integer, p_minutes integer)
  returns integer language sql volatile as $$
  insert into transfer_velocity as v (tenant_id, user_id, window_minutes, window_index, current_count,
      previous_count)
  values (p_tenant, p_user, p_minutes, floor(extract(epoch from now()) / (p_minutes * 60))::bigint,
      least(p_count, 1000000000), 0)
  on conflict (tenant_id, user_id) do update set
    previous_count = case
      when v.window_minutes <> excluded.window_minutes then 1000000000
      when v.window_index >= excluded.window_index then v.previous_count
      when v.window_index = excluded.window_index - 1 then v.current_count
      else 0 end,
    current_count = case
      when v.window_minutes = excluded.window_minutes and v.window_index >= excluded.window_index
        then least(v.current_count + excluded.current_count, 1000000000)
      else excluded.current_count end,
    window_index = case
      when v.window_minutes = excluded.window_minutes then greatest(v.window_index, excluded.window_index)
      else excluded.window_index end,
    window_minutes = excluded.window_minutes
  returning least(current_count + previous_count, 1000000000)
  $$`;

const declarationAnchor = '    v_owner uuid;\n  begin';
const returnAnchor = '    return v_results;\n  end $$';

const velocityBlock = `    if p_settings ? 'velocity_minutes' then
      for i in 0 .. v_count - 1 loop
        v_result := v_results->i;
        if ((v_callers->i)->>'ok')::boolean and (v_result->>'status') = '201'
           and not coalesce((v_result->>'replayed')::boolean, false) then
          v_results := jsonb_set(v_results, array[i::text], v_result || jsonb_build_object(
            'velocity_transfers', corebank_transfer_velocity_add(p_tenant, ((v_callers->i)->>'user_id')::uuid,
              case when (p_requests->i->>'batch')::boolean then (v_result->'body'->>'completed')::int else 1 end,
              (p_settings->>'velocity_minutes')::int)));
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
    '    v_owner uuid;\n    v_result jsonb;\n  begin',
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
