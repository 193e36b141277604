import assert from 'node:assert/strict';
import { v7 as uuidV7 } from 'uuid';
import { complianceSettings, storeReport } from '../../modules/compliance/compliance.service.ts';
import { counterSubjectHash } from '../../modules/identity/login-attempts.ts';
import { recordAudit } from '../../platform/audit/audit-trail.ts';
import { hoursAgo, hoursFromNow, type SeedContext, type SeededPeople } from './seed-context.ts';

/** Security operations and compliance samples: logins, API access, events, threats, incidents, limits. */
export async function seedSecurity(context: SeedContext, people: SeededPeople): Promise<void> {
  const customers = seededCustomers(people);
  await seedLoginAudits(context, people, customers);
  await seedApiAccess(context, customers);
  const eventId = await seedSecurityEvents(context, people, customers);
  await seedThreats(context, people, eventId);
  await seedLimitsAndReports(context, people);
  await seedSecurityControls(context, people);
  await seedLegalHold(context, people, customers);
}

/** A legal hold placed and released (history only: nothing of the seed stays preserved by it). */
async function seedLegalHold(context: SeedContext, people: SeededPeople, { budi }: SeededCustomerPair) {
  await context.transaction
    .insertInto('legal_holds')
    .values({
      tenant_id: context.tenantId,
      user_id: budi.id,
      reason: 'Regulator request: preserve statements (sample)',
      case_reference: 'SAMPLE-0001',
      placed_by: people.adminId,
      placed_at: hoursAgo(72),
      released_at: hoursAgo(24),
      released_by: people.adminId,
      release_reason: 'Request answered',
    })
    .execute();
}

interface SeededCustomerPair {
  alice: { id: string };
  budi: { id: string };
}

/** The samples name the seed's first two customers; a seed without them is a broken seed, not bad input. */
function seededCustomers(people: SeededPeople): SeededCustomerPair {
  const [alice, budi] = people.customers;
  assert.ok(alice && budi, 'the security samples need the two seeded customers');
  return { alice, budi };
}

/** A login, a failed login, a staff login and a logout. */
async function seedLoginAudits(
  context: SeedContext,
  people: SeededPeople,
  { alice, budi }: SeededCustomerPair,
): Promise<void> {
  const tenant = { tenant_id: context.tenantId };
  await context.transaction
    .insertInto('login_audits')
    .values([
      {
        ...tenant,
        user_id: alice.id,
        login_type: 'user_login',
        status: 'success',
        ip_address: '203.0.113.10',
        user_agent: 'CorebankSeed/1.0',
        device_info: JSON.stringify({ type: 'android' }),
      },
      {
        ...tenant,
        user_id: budi.id,
        login_type: 'user_login',
        status: 'failed',
        ip_address: '203.0.113.66',
        failure_reason: 'invalid_credentials',
      },
      {
        ...tenant,
        admin_id: people.adminId,
        login_type: 'admin_login',
        status: 'success',
        ip_address: '198.51.100.7',
      },
      {
        ...tenant,
        user_id: alice.id,
        login_type: 'user_logout',
        status: 'success',
        ip_address: '203.0.113.10',
      },
    ])
    .execute();
}

async function seedApiAccess(context: SeedContext, { alice }: SeededCustomerPair): Promise<void> {
  const tenant = { tenant_id: context.tenantId };
  await context.transaction
    .insertInto('api_access_log')
    .values({
      ...tenant,
      user_id: alice.id,
      request_id: 'seed-request-1',
      method: 'GET',
      endpoint: '/v1/me/balances',
      request_headers: JSON.stringify({ 'user-agent': 'CorebankSeed/1.0' }),
      response_status: 200,
      response_time_ms: 4,
      bytes_sent: 512,
      ip_address: '203.0.113.10',
      user_agent: 'CorebankSeed/1.0',
      rate_limit_remaining: 99,
    })
    .execute();
}

/** A brute-force event and a resolved session event; returns the brute-force event's id. */
async function seedSecurityEvents(
  context: SeedContext,
  people: SeededPeople,
  { alice, budi }: SeededCustomerPair,
): Promise<string> {
  const tenant = { tenant_id: context.tenantId };
  const eventId = uuidV7();
  await context.transaction
    .insertInto('security_events')
    .values([
      {
        ...tenant,
        id: eventId,
        user_id: budi.id,
        event_type: 'BRUTE_FORCE_ATTEMPT',
        event_category: 'authentication',
        severity: 'high',
        ip_address: '203.0.113.66',
        description: 'Five failed PIN attempts in a minute',
        risk_score: 72,
        action_taken: 'lock',
      },
      {
        ...tenant,
        user_id: alice.id,
        event_type: 'SESSION_CREATED',
        event_category: 'session',
        severity: 'low',
        ip_address: '203.0.113.10',
        is_resolved: true,
        resolved_at: new Date(),
        resolved_by: people.adminId,
      },
    ])
    .execute();
  return eventId;
}

/** The high threat event's alert, already written to the log sink (the alert job's outbox row). */
async function seedAlertDelivery(context: SeedContext, threatId: string): Promise<void> {
  await context.transaction
    .insertInto('alert_deliveries')
    .values({
      tenant_id: context.tenantId,
      sink: 'log',
      event_source: 'threat_event',
      event_id: threatId,
      event_created_at: new Date(),
      payload: { type: 'brute_force', category: 'threat', severity: 'high', status: 'investigating' },
      status: 'delivered',
      attempts: 1,
      delivered_at: new Date(),
    })
    .execute();
}

async function seedThreats(context: SeedContext, people: SeededPeople, eventId: string): Promise<void> {
  const tenant = { tenant_id: context.tenantId };
  const [, budi] = people.customers;
  const threatId = uuidV7();
  await context.transaction
    .insertInto('threat_events')
    .values({
      ...tenant,
      id: threatId,
      threat_type: 'brute_force',
      severity: 'high',
      status: 'investigating',
      description: 'Repeated PIN failures from one address',
      indicators: ['ip:203.0.113.66'],
      affected_user_ids: budi ? [budi.id] : [],
      detection_method: 'rule_based',
      confidence: 85,
      response_action: 'lock',
      response_status: 'executed',
    })
    .execute();
  await seedAlertDelivery(context, threatId);
  // The step-up the threat asked for, already met (a fresh login with its OTP): seeded customers log in freely.
  if (budi)
    await context.transaction
      .insertInto('step_up_requirements')
      .values({
        ...tenant,
        user_id: budi.id,
        threat_id: threatId,
        reason: 'brute_force',
        required_at: hoursAgo(2),
        satisfied_at: hoursAgo(1),
      })
      .onConflict((conflict) => conflict.doNothing())
      .execute();
  await context.transaction
    .insertInto('security_incidents')
    .values({
      ...tenant,
      incident_type: 'account_takeover_attempt',
      severity: 'high',
      priority: 'high',
      title: 'Brute-force attempt on a customer account',
      description: 'Account locked automatically; confirm with the customer.',
      assigned_to: people.officerId,
      related_threat_ids: [threatId],
      related_event_ids: [eventId],
      status: 'investigating',
    })
    .execute();
  await context.transaction
    .insertInto('threat_intelligence')
    .values({
      tenant_id: context.tenantId,
      indicator_type: 'ip',
      indicator_value: '203.0.113.66',
      threat_type: 'brute_force',
      severity: 'high',
      confidence: 90,
      source: 'internal',
      description: 'Seen brute-forcing PINs',
      expires_at: hoursFromNow(24 * 30),
    })
    .onConflict((conflict) => conflict.doNothing())
    .execute();
}

async function seedLimitsAndReports(context: SeedContext, people: SeededPeople): Promise<void> {
  const tenant = { tenant_id: context.tenantId };
  const [, budi] = people.customers;
  await context.transaction
    .insertInto('rate_limit_entries')
    .values({
      ...tenant,
      user_id: budi?.id ?? null,
      ip_address: '203.0.113.66',
      endpoint: 'POST /v1/auth/banking/login',
      request_count: 12,
      window_start: hoursAgo(0.1),
      window_end: hoursFromNow(0.9),
      base_limit: 10,
      adaptive_limit: 5,
      trust_multiplier: 0.5,
      is_blocked: true,
      blocked_until: hoursFromNow(0.25),
    })
    .execute();
  await context.transaction
    .insertInto('rate_limit_violations')
    .values({
      ...tenant,
      user_id: budi?.id ?? null,
      ip_address: '203.0.113.66',
      endpoint: 'POST /v1/auth/banking/login',
      request_count: 12,
      limit_threshold: 10,
      time_window_minutes: 1,
      violation_type: 'login_burst',
      blocked_duration_minutes: 15,
    })
    .execute();
  await seedComplianceReport(context, people);
}

/**
 * A week's failed-login and lockout summary, generated by the compliance service itself (so its hash
 * re-verifies), under the login audits' retention policy (seed 004's "governs").
 */
async function seedComplianceReport(context: SeedContext, people: SeededPeople): Promise<void> {
  const report = await storeReport(
    context.transaction,
    complianceSettings(context.config),
    { ...context.audit, adminId: people.officerId },
    {
      type: 'login_failure_summary',
      period: { from: hoursAgo(24 * 7), to: new Date() },
      source: 'staff',
      attestation: undefined,
    },
  );
  assert.ok(report, 'a report asked for by hand is always stored');
  const policy = await context.transaction
    .selectFrom('data_retention_policies')
    .select('id')
    .where('table_name', '=', 'login_audits')
    .executeTakeFirst();
  await context.transaction
    .updateTable('compliance_reports')
    .set({ retention_policy_id: policy?.id ?? null })
    .where('tenant_id', '=', context.tenantId)
    .where('id', '=', report.id)
    .execute();
}

/**
 * Issue 7 controls: the failure counter of the address with the seeded failed login (its window ends
 * 15 minutes after the seed and the cleanup job removes it), and a large staff top-up waiting for a checker.
 */
async function seedSecurityControls(context: SeedContext, people: SeededPeople): Promise<void> {
  const { alice } = seededCustomers(people);
  const windowMs = context.config.authentication.ipFailureWindowMinutes * 60_000;
  const windowStartedAt = new Date();
  await context.transaction
    .insertInto('security_counters')
    .values({
      tenant_id: context.tenantId,
      scope: 'login_address_failures',
      subject_hash: counterSubjectHash(context.config, 'address', '203.0.113.66'),
      window_started_at: windowStartedAt,
      window_ends_at: new Date(windowStartedAt.getTime() + windowMs),
      count: 1,
    })
    .execute();
  const approval = await context.transaction
    .insertInto('topup_approvals')
    .values({
      tenant_id: context.tenantId,
      beneficiary_id: alice.id,
      asset_code: 'IDR',
      // Rp 50,000,000.00: above the default approval threshold, so a second staff member must approve.
      amount: 5_000_000_000,
      description: 'Branch cash deposit',
      maker_id: people.adminId,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await recordAudit(
    context.transaction,
    { ...context.audit, adminId: people.adminId, userId: alice.id },
    {
      entityType: 'topup_approval',
      entityId: approval.id,
      action: 'TOPUP_REQUEST',
      newValues: { asset: 'IDR', amount: 5_000_000_000, beneficiary: alice.id },
    },
  );
}
