import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { DatabaseHandle } from '../../db/database.ts';
import type { Database, Severity, ThreatResponseAction } from '../../db/schema.ts';
import { readInScope, type ScopedTransaction } from '../../db/tenant-transaction.ts';
import { addressNetwork } from '../../platform/ip-network.ts';

/**
 * The queries of the detection rules and their responses. Every read covers one tenant and a recent
 * window on an index that leads with (tenant_id, …, created_at); an optional subject (an address or
 * a user) narrows the inline run to the request that triggered it, the sweep reads the whole window.
 * Results are bounded: a rule never reads more than `findingsMax` subjects per run.
 */
const findingsMax = 500;

const minutesAgo = (minutes: number) => sql<Date>`now() - make_interval(mins => ${minutes}::integer)`;

function andIf(condition: unknown, fragment: RawBuilder<unknown>): RawBuilder<unknown> {
  return condition ? fragment : sql``;
}

/**
 * The client an address counts as (the blocks' DETECTION_IPV6_BLOCK_PREFIX): an IPv4 address, or one
 * written as IPv6 (::ffff:a.b.c.d), is itself; an IPv6 address is its network, so a client spreading
 * its attempts over the addresses of its /64 counts as one.
 */
function clientNetwork(ipv6PrefixLength: number): RawBuilder<string> {
  return sql<string>`(case when family(ip_address) = 6 and not ip_address <<= '::ffff:0:0/96'::inet
    then network(set_masklen(ip_address, ${ipv6PrefixLength}::integer))::inet else ip_address end)`;
}

/** The network's text: an IPv4 address as itself, an IPv6 network with its length (2001:db8::/64). */
function clientText(network: RawBuilder<string>): RawBuilder<string> {
  return sql<string>`(case when masklen(${network}) < case when family(${network}) = 6 then 128 else 32 end
    then text(${network}) else host(${network}) end)`;
}

/** Only the rows of one client: its own address, and for IPv6 every address of its network. */
function ofClient(ip: string | undefined, ipv6PrefixLength: number): RawBuilder<unknown> {
  if (!ip) return sql``;
  return sql`and (ip_address = ${ip}::inet or ip_address <<= ${addressNetwork(ip, ipv6PrefixLength)}::inet)`;
}

/**
 * Failed logins per client (an address; an IPv6 network) in the window, with the accounts they named
 * (brute force, stuffing, spraying).
 */
export async function loginFailuresByAddress(
  transaction: ScopedTransaction,
  tenantId: string,
  windowMinutes: number,
  failuresMin: number,
  ip: string | undefined,
  ipv6PrefixLength: number,
) {
  const result = await sql<{
    ip: string;
    failures: number;
    accounts: number;
    account_failures: number;
    user_ids: string[];
  }>`
    with per_account as (
      select ${clientNetwork(ipv6PrefixLength)} as client, coalesce(user_id, admin_id) as user_uuid,
             coalesce(user_id::text, admin_id::text, device_info ->> 'identifier') as account,
             count(*)::int as attempts
      from login_audits
      where tenant_id = ${tenantId} and created_at > ${minutesAgo(windowMinutes)}
        and status <> 'success' and login_type in ('user_login', 'admin_login')
        and ip_address is not null ${ofClient(ip, ipv6PrefixLength)}
      group by 1, 2, 3
    )
    select ${clientText(sql`client`)} as ip, sum(attempts)::int as failures,
           count(account)::int as accounts,
           coalesce(sum(attempts) filter (where account is not null), 0)::int as account_failures,
           coalesce(array_agg(user_uuid) filter (where user_uuid is not null), '{}') as user_ids
    from per_account
    group by client
    having sum(attempts) >= ${failuresMin}::integer
    order by client limit ${findingsMax}`.execute(transaction);
  return result.rows;
}

// A device is known by its fingerprint, else the client's device id, else its type and name.
const deviceOf = (alias: string) =>
  sql.raw(`coalesce(${alias}.device_fingerprint, ${alias}.device_id,
                    ${alias}.device_type || ':' || coalesce(${alias}.device_name, ''))`);

export interface SessionFilter {
  ip?: string | undefined;
  userId?: string | undefined;
}

/**
 * Sessions opened in the window from an address none of the user's earlier sessions (within the
 * lookback) came from, by a user who had earlier sessions: a first login is nobody's "new address".
 * `new_device` says whether the device is new to the user as well.
 */
function newAddressSessionsQuery(
  tenantId: string,
  windowMinutes: number,
  lookbackDays: number,
  filter: SessionFilter,
) {
  return sql`
    select s.id as session_id, s.user_id, host(s.ip_address) as ip, s.created_at,
           ${deviceOf('s')} as device,
           not exists (select 1 from device_sessions d
             where d.tenant_id = s.tenant_id and d.user_id = s.user_id and d.created_at < s.created_at
               and ${deviceOf('d')} = ${deviceOf('s')}) as new_device
    from device_sessions s
    where s.tenant_id = ${tenantId} and s.created_at > ${minutesAgo(windowMinutes)}
      and s.ip_address is not null
      ${andIf(filter.ip, sql`and s.ip_address = ${filter.ip ?? null}::inet`)}
      ${andIf(filter.userId, sql`and s.user_id = ${filter.userId ?? null}`)}
      and exists (select 1 from device_sessions p
        where p.tenant_id = s.tenant_id and p.user_id = s.user_id and p.created_at < s.created_at
          and p.created_at > now() - make_interval(days => ${lookbackDays}::integer))
      and not exists (select 1 from device_sessions p
        where p.tenant_id = s.tenant_id and p.user_id = s.user_id and p.created_at < s.created_at
          and p.ip_address = s.ip_address
          and p.created_at > now() - make_interval(days => ${lookbackDays}::integer))`;
}

export async function newAddressSessions(
  transaction: ScopedTransaction,
  tenantId: string,
  windowMinutes: number,
  lookbackDays: number,
  filter: SessionFilter,
) {
  const result = await sql<{
    session_id: string;
    user_id: string;
    ip: string;
    device: string;
    new_device: boolean;
  }>`
    ${newAddressSessionsQuery(tenantId, windowMinutes, lookbackDays, filter)}
    order by s.created_at limit ${findingsMax}`.execute(transaction);
  return result.rows;
}

const locatedSuccess = (alias: string) =>
  sql.raw(`${alias}.status = 'success' and ${alias}.login_type in ('user_login', 'admin_login')
           and ${alias}.device_info ? 'country'`);

const placeOf = (alias: string) =>
  sql.raw(`${alias}.device_info ->> 'country' as ${alias}_country,
           (${alias}.device_info ->> 'latitude')::float8 as ${alias}_latitude,
           (${alias}.device_info ->> 'longitude')::float8 as ${alias}_longitude,
           (${alias}.device_info ->> 'accuracy_radius_km')::float8 as ${alias}_accuracy_km,
           (extract(epoch from ${alias}.created_at) * 1000)::float8 as ${alias}_at_ms`);

export interface LocatedLoginRow {
  login_id: string;
  user_id: string;
  ip: string | null;
  l_country: string;
  l_latitude: number | null;
  l_longitude: number | null;
  l_accuracy_km: number | null;
  l_at_ms: number;
  /** The user had a located successful login in the lookback before this one. */
  located_history: boolean;
  /** One of those came from this login's country. */
  known_country: boolean;
  p_login_id: string | null;
  p_ip: string | null;
  p_country: string | null;
  p_latitude: number | null;
  p_longitude: number | null;
  p_accuracy_km: number | null;
  p_at_ms: number | null;
}

/**
 * Successful logins in the window that have a location (login_audits.device_info.country: a public
 * address the GeoIP data knows), each with what the geographic rules compare it to: whether the
 * user's earlier located logins of the lookback include its country, and the latest of them (its
 * place and time). Non-public addresses are never located, so they are neither a login here nor an
 * earlier one. Each probe is on idx_login_audits_success_country (migration 0013).
 */
export async function locatedLogins(
  transaction: ScopedTransaction,
  tenantId: string,
  windowMinutes: number,
  lookbackDays: number,
  ip: string | undefined,
) {
  const earlier = sql`p.tenant_id = l.tenant_id and ${locatedSuccess('p')}
    and coalesce(p.user_id, p.admin_id) = coalesce(l.user_id, l.admin_id)
    and p.created_at < l.created_at and p.created_at > now() - make_interval(days => ${lookbackDays}::integer)`;
  const result = await sql<LocatedLoginRow>`
    select l.id as login_id, coalesce(l.user_id, l.admin_id) as user_id, host(l.ip_address) as ip,
           ${placeOf('l')},
           prev.p_login_id is not null as located_history,
           exists (select 1 from login_audits p where ${earlier}
             and p.device_info ->> 'country' = l.device_info ->> 'country') as known_country,
           prev.*
    from login_audits l
    left join lateral (
      select p.id as p_login_id, host(p.ip_address) as p_ip, ${placeOf('p')}
      from login_audits p where ${earlier}
      order by p.created_at desc limit 1) prev on true
    where l.tenant_id = ${tenantId} and ${locatedSuccess('l')}
      and coalesce(l.user_id, l.admin_id) is not null
      and l.created_at > ${minutesAgo(windowMinutes)}
      ${andIf(ip, sql`and l.ip_address = ${ip ?? null}::inet`)}
    order by l.created_at limit ${findingsMax}`.execute(transaction);
  return result.rows;
}

/** The audit actions that change how an account is protected (the takeover chain's second step). */
export const sensitiveChangeActions = [
  'CHANGE_PASSWORD',
  'RESET_PASSWORD',
  'CHANGE_PIN',
  'MFA_ENROL',
  'MFA_ENABLE',
  'MFA_DISABLE',
  'MFA_BACKUP_CODES_REGENERATE',
] as const;

/**
 * Sessions from a new device and a new address followed, within the takeover window, by a sensitive
 * change (audit_logs) or an outgoing amount at or above the large amount (transactions).
 */
export async function takeoverChains(
  transaction: ScopedTransaction,
  tenantId: string,
  windowMinutes: number,
  lookbackDays: number,
  largeAmountMinor: number,
  userId: string | undefined,
) {
  const within = sql<string>`make_interval(mins => ${windowMinutes}::integer)`;
  const result = await sql<{
    session_id: string;
    user_id: string;
    ip: string;
    device: string;
    changes: string[] | null;
    transaction_ids: string[] | null;
    wallet_ids: string[] | null;
  }>`
    with fresh as (${newAddressSessionsQuery(tenantId, windowMinutes * 2, lookbackDays, { userId })})
    select f.session_id, f.user_id, f.ip, f.device,
      (select array_agg(distinct a.action) from audit_logs a
        where a.tenant_id = ${tenantId} and (a.user_id = f.user_id or a.admin_id = f.user_id)
          and a.action in (${sql.join(sensitiveChangeActions.map((action) => sql`${action}`))})
          and a.created_at >= f.created_at and a.created_at <= f.created_at + ${within}) as changes,
      (select array_agg(t.id) from transactions t
        where t.tenant_id = ${tenantId} and t.user_id = f.user_id
          and t.type in ('transfer_out', 'withdraw') and t.amount >= ${largeAmountMinor}
          and t.created_at >= f.created_at and t.created_at <= f.created_at + ${within}) as transaction_ids,
      (select array_agg(distinct t.wallet_id) from transactions t
        where t.tenant_id = ${tenantId} and t.user_id = f.user_id
          and t.type in ('transfer_out', 'withdraw') and t.amount >= ${largeAmountMinor}
          and t.created_at >= f.created_at and t.created_at <= f.created_at + ${within}) as wallet_ids
    from fresh f where f.new_device
    limit ${findingsMax}`.execute(transaction);
  return result.rows.filter((row) => row.changes !== null || row.transaction_ids !== null);
}

export interface SensitiveScreenWindows {
  velocityWindowMinutes: number;
  velocityTransfersMin: number;
  takeoverWindowMinutes: number;
  lookbackDays: number;
}

export interface SensitiveScreen {
  /** The user's outgoing transfers in the velocity window, counted up to `velocityTransfersMin`. */
  transfers: number;
  /** Whether the user has a session that could start a takeover chain (new address and new device). */
  fresh_session: boolean;
}

/**
 * The inline screen of a sensitive action, one scoped read (one round trip on a server): the exact
 * preconditions of the velocity rule (the count reaches the minimum) and of the takeover rule (a
 * session from a new address and a new device within twice its window), answered by
 * corebank_detection_screen (migration 0016), whose statements keep their plans for the connection.
 * The count stops at the minimum, so the screen reads at most that many of the user's entries.
 */
export async function screenSensitiveAction(
  database: DatabaseHandle,
  tenantId: string,
  userId: string,
  windows: SensitiveScreenWindows,
): Promise<SensitiveScreen> {
  const query = sql<SensitiveScreen>`
    select transfers, fresh_session from corebank_detection_screen(
      ${tenantId}::uuid, ${userId}::uuid, ${windows.velocityWindowMinutes}::integer,
      ${windows.velocityTransfersMin}::integer, ${windows.takeoverWindowMinutes * 2}::integer,
      ${windows.lookbackDays}::integer)`.compile(database.db);
  const [row] = await readInScope(database, { tenantId }, query);
  return row ?? { transfers: 0, fresh_session: false };
}

/** Users with at least `transfersMin` outgoing transfer entries in the window. */
export async function transferVelocity(
  transaction: ScopedTransaction,
  tenantId: string,
  windowMinutes: number,
  transfersMin: number,
  userId: string | undefined,
) {
  const result = await sql<{
    user_id: string;
    transfers: number;
    transaction_ids: string[];
    wallet_ids: string[];
  }>`
    select user_id, count(*)::int as transfers,
           (array_agg(id order by created_at desc))[1:20] as transaction_ids,
           array_agg(distinct wallet_id) as wallet_ids
    from transactions
    where tenant_id = ${tenantId} and type = 'transfer_out' and user_id is not null
      and created_at > ${minutesAgo(windowMinutes)}
      ${andIf(userId, sql`and user_id = ${userId ?? null}`)}
    group by user_id having count(*) >= ${transfersMin}::integer
    order by user_id limit ${findingsMax}`.execute(transaction);
  return result.rows;
}

/** Outgoing entries (transfers, withdrawals) at or above the large amount in the window. */
export async function largeOutgoingAmounts(
  transaction: ScopedTransaction,
  tenantId: string,
  windowMinutes: number,
  amountMin: number,
  userId: string | undefined,
) {
  return transaction
    .selectFrom('transactions')
    .select(['id', 'user_id', 'wallet_id', 'amount', 'asset_code', 'type'])
    .where('tenant_id', '=', tenantId)
    .where('type', 'in', ['transfer_out', 'withdraw'])
    .where('amount', '>=', amountMin)
    .where('created_at', '>', minutesAgo(windowMinutes))
    .$if(userId !== undefined, (query) => query.where('user_id', '=', userId ?? null))
    .orderBy('created_at')
    .limit(findingsMax)
    .execute();
}

/** Clients (an address; an IPv6 network) with at least `eventsMin` AUTHORIZATION_DENIED events (every 403) in the window. */
export async function repeatedForbidden(
  transaction: ScopedTransaction,
  tenantId: string,
  windowMinutes: number,
  eventsMin: number,
  ip: string | undefined,
  ipv6PrefixLength: number,
) {
  const result = await sql<{ ip: string; events: number; user_ids: string[] }>`
    with denied as (
      select ${clientNetwork(ipv6PrefixLength)} as client, user_id
      from security_events
      where tenant_id = ${tenantId} and event_type = 'AUTHORIZATION_DENIED' and ip_address is not null
        and created_at > ${minutesAgo(windowMinutes)}
        ${ofClient(ip, ipv6PrefixLength)}
    )
    select ${clientText(sql`client`)} as ip, count(*)::int as events,
           coalesce(array_agg(distinct user_id) filter (where user_id is not null), '{}') as user_ids
    from denied
    group by client having count(*) >= ${eventsMin}::integer
    order by client limit ${findingsMax}`.execute(transaction);
  return result.rows;
}

export interface NewThreat {
  threat_type: string;
  severity: Severity;
  description: string;
  indicators: string[];
  affected_user_ids: string[];
  affected_account_ids: string[];
  affected_transaction_ids: string[];
  confidence: number;
  response_action: ThreatResponseAction;
  dedup_key: string;
}

/**
 * The threat of a detection, unless this rule already detected this subject in this window: the
 * unique (tenant_id, dedup_key) index decides in this one statement, so concurrent detections of the
 * same attack (two requests, two processes, a request and the sweep) write one row. Undefined: a
 * duplicate, whose response already ran.
 */
export async function insertThreatOnce(transaction: ScopedTransaction, tenantId: string, threat: NewThreat) {
  const row = await transaction
    .insertInto('threat_events')
    .values({
      ...threat,
      tenant_id: tenantId,
      detection_method: 'rule_based',
      response_status: 'executed',
      status: 'mitigated',
      mitigated_at: sql<Date>`now()`,
    })
    .onConflict((conflict) => conflict.columns(['tenant_id', 'dedup_key']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id;
}

/**
 * Blocks a network for every route but the probes (seed 003 rate_limit_entries.is_blocked): an IPv4
 * address, or an IPv6 network written `2001:db8:1:2::/64` (inet keeps the prefix length).
 */
export async function insertAddressBlock(
  transaction: ScopedTransaction,
  tenantId: string,
  network: string,
  minutes: number,
): Promise<void> {
  const until = sql<Date>`now() + make_interval(mins => ${minutes}::integer)`;
  await transaction
    .insertInto('rate_limit_entries')
    .values({
      tenant_id: tenantId,
      ip_address: network,
      endpoint: '*',
      window_start: sql<Date>`now()`,
      window_end: until,
      base_limit: 1,
      is_blocked: true,
      blocked_until: until,
    })
    .execute();
}

/** Locks the accounts as the login lockout does (users.locked_until), never shortening a longer lock. */
export async function lockAccounts(
  transaction: ScopedTransaction,
  tenantId: string,
  userIds: readonly string[],
  minutes: number,
): Promise<void> {
  if (userIds.length === 0) return;
  const until = sql<Date>`now() + make_interval(mins => ${minutes}::integer)`;
  await transaction
    .updateTable('users')
    .set({ locked_until: sql<Date>`greatest(coalesce(locked_until, now()), ${until})` })
    .where('tenant_id', '=', tenantId)
    .where('id', 'in', [...userIds])
    .execute();
}

/** The user must verify a second factor again before a sensitive action (a newer requirement replaces an older). */
export async function requireStepUp(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  threatId: string,
  reason: string,
): Promise<void> {
  await transaction
    .insertInto('step_up_requirements')
    .values({ tenant_id: tenantId, user_id: userId, threat_id: threatId, reason })
    .onConflict((conflict) =>
      conflict.columns(['tenant_id', 'user_id']).doUpdateSet({
        threat_id: threatId,
        reason,
        required_at: sql<Date>`now()`,
        satisfied_at: null,
      }),
    )
    .execute();
}

/**
 * A step-up asked of the user without a threat event (a medium threat-intelligence hit), unless the
 * request's own session already answers the user's current requirement: one statement decides.
 * 'passed' when the session passed its second factor and was opened after the requirement's
 * required_at (the user stepped up since the last challenge: nothing is written); otherwise
 * 'challenged' and a requirement is recorded. A requirement still pending is kept as it is (its
 * required_at too: a burst of challenges does not move it past a session opened since, and another
 * response's reason stays); a satisfied one, or none, becomes a new requirement from now. Two requests
 * at once: the upsert locks the user's row, so at most one writes it and each sees the other's.
 */
export async function challengeStepUp(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  sessionId: string,
  reason: string,
): Promise<'passed' | 'required' | 'pending' | 'not_live'> {
  // The token's session may not have been checked yet (routes that check it in their own statement):
  // a session that is ended, expired or another user's writes nothing and is the route's to refuse.
  const result = await sql<{ live: boolean; passed: boolean; wrote: boolean }>`
    with live as (
      select s.mfa_verified, s.created_at from device_sessions s
      where s.tenant_id = ${tenantId} and s.id = ${sessionId} and s.user_id = ${userId}
        and s.is_active and s.expires_at > now() and s.absolute_expires_at > now()
    ), passed as (
      select 1 from step_up_requirements r, live s
      where r.tenant_id = ${tenantId} and r.user_id = ${userId}
        and s.mfa_verified and s.created_at > r.required_at
    ), challenged as (
      insert into step_up_requirements (tenant_id, user_id, threat_id, reason)
      select ${tenantId}, ${userId}, null, ${reason}
      where exists (select 1 from live) and not exists (select 1 from passed)
      on conflict (tenant_id, user_id) do update
        set threat_id = null, reason = excluded.reason, required_at = now(), satisfied_at = null
        where step_up_requirements.satisfied_at is not null
      returning user_id
    )
    select exists (select 1 from live) as live, exists (select 1 from passed) as passed,
           exists (select 1 from challenged) as wrote`.execute(transaction);
  const row = result.rows[0];
  if (!row?.live) return 'not_live';
  if (row.passed) return 'passed';
  // 'required': this statement wrote the requirement; 'pending': one was already owed.
  return row.wrote ? 'required' : 'pending';
}

/** The tenant's live address blocks and pending step-ups: what each process caches. */
export async function readActiveControls(transaction: ScopedTransaction, tenantId: string) {
  const blocks = await transaction
    .selectFrom('rate_limit_entries')
    .select([
      sql<string>`host(ip_address)`.as('ip'),
      sql<number>`masklen(ip_address)`.as('prefix_length'),
      'blocked_until',
    ])
    .where('tenant_id', '=', tenantId)
    .where('is_blocked', '=', true)
    .where('ip_address', 'is not', null)
    .where('blocked_until', '>', sql<Date>`now()`)
    .orderBy('blocked_until', 'desc')
    .limit(100_000)
    .execute();
  const stepUps = await transaction
    .selectFrom('step_up_requirements')
    .select('user_id')
    .where('tenant_id', '=', tenantId)
    .where('satisfied_at', 'is', null)
    .limit(100_000)
    .execute();
  return { blocks, stepUps };
}

/**
 * Satisfies a pending step-up when the request's session was opened after the requirement and passed
 * its second factor (device_sessions.mfa_verified): one conditional UPDATE. Then says whether one is
 * still pending.
 */
export async function settleStepUp(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  sessionId: string,
): Promise<'satisfied' | 'pending' | 'none'> {
  const satisfied = await sql<{ user_id: string }>`
    update step_up_requirements r set satisfied_at = now()
    from device_sessions s
    where r.tenant_id = ${tenantId} and r.user_id = ${userId} and r.satisfied_at is null
      and s.tenant_id = r.tenant_id and s.id = ${sessionId} and s.user_id = r.user_id
      and s.mfa_verified and s.created_at > r.required_at
      and s.is_active and s.expires_at > now() and s.absolute_expires_at > now()
    returning r.user_id`.execute(transaction);
  if (satisfied.rows.length > 0) return 'satisfied';
  const pending = await transaction
    .selectFrom('step_up_requirements')
    .select('user_id')
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('satisfied_at', 'is', null)
    .executeTakeFirst();
  return pending ? 'pending' : 'none';
}

export function listTenantIds(db: Kysely<Database>) {
  return db.selectFrom('tenants').select('id').orderBy('id').execute();
}
