import { statementMigration } from './run-statements.ts';

/**
 * The inline detection screen of a sensitive action (issue 10's benchmark) as a function. Sent as one
 * statement with its values written in (the one-round-trip scoped read), the screen was planned on
 * every call: measured on PostgreSQL 15 during bench:transfers in one warm session, 0.2 ms of planning
 * and 0.25 ms of execution (0.5 ms a call; the function call 0.23 ms), at one screen per busy user per
 * second. PL/pgSQL keeps the plans of its statements for the connection (PostgreSQL's plan cache picks
 * a generic plan only when it costs no more than the custom ones), so the call itself is all that is
 * planned each time.
 *
 * It answers the exact preconditions of two rules for one user, under the caller's row-level security
 * (security invoker, the default): the user's outgoing transfers in the velocity window, counted up to
 * the rule's minimum; and whether the user has a session within the fresh window from an address none
 * of their sessions of the lookback came from, by a user who had one, on a device new to them — the
 * definition of newAddressSessionsQuery in src/modules/detection/detection.repository.ts, which the
 * takeover rule reads (keep the two the same; the detection suite's takeover tests pass only through
 * this screen).
 *
 * Frozen in time: this file must never import application code.
 */
const screenFunction = `create function corebank_detection_screen(
    p_tenant uuid, p_user uuid, p_velocity_minutes integer, p_velocity_min integer,
    p_fresh_minutes integer, p_lookback_days integer)
  returns table (transfers integer, fresh_session boolean)
  language plpgsql stable as $$
  begin
    return query select
      (select count(*)::integer from (select 1 from transactions t
         where t.tenant_id = p_tenant and t.user_id = p_user and t.type = 'transfer_out'
           and t.created_at > now() - make_interval(mins => p_velocity_minutes)
         limit p_velocity_min) counted),
      exists (select 1 from device_sessions s
        where s.tenant_id = p_tenant and s.user_id = p_user and s.ip_address is not null
          and s.created_at > now() - make_interval(mins => p_fresh_minutes)
          and exists (select 1 from device_sessions p
            where p.tenant_id = s.tenant_id and p.user_id = s.user_id and p.created_at < s.created_at
              and p.created_at > now() - make_interval(days => p_lookback_days))
          and not exists (select 1 from device_sessions p
            where p.tenant_id = s.tenant_id and p.user_id = s.user_id and p.created_at < s.created_at
              and p.ip_address = s.ip_address
              and p.created_at > now() - make_interval(days => p_lookback_days))
          and not exists (select 1 from device_sessions d
            where d.tenant_id = s.tenant_id and d.user_id = s.user_id and d.created_at < s.created_at
              and coalesce(d.device_fingerprint, d.device_id, d.device_type || ':' || coalesce(d.device_name, ''))
                = coalesce(s.device_fingerprint, s.device_id, s.device_type || ':' || coalesce(s.device_name, ''))));
  end
  $$`;

const up = [screenFunction];

const down = [
  'drop function if exists corebank_detection_screen(uuid, uuid, integer, integer, integer, integer)',
];

export const migration = statementMigration(up, down);
