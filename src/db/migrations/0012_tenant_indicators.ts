import { statementMigration } from './run-statements.ts';

/**
 * Threat intelligence per tenant (issue 10 item 5). Seed 003's threat_intelligence was one global
 * table the application role could write: a tenant's staff adding an indicator would have blocked
 * addresses for every tenant. Rows now carry the tenant that owns them; a row without a tenant is a
 * shared feed (written by the owner, e.g. an operator's import) that every tenant reads. Row-level
 * security lets the application read its tenant's rows and the shared ones, and write only its own.
 *
 * Frozen in time: this file must never import application code.
 */
const up = [
  'alter table threat_intelligence add column tenant_id uuid references tenants (id)',
  // Indicators seeded before this migration were the default tenant's demo data; they stay shared.
  'alter table threat_intelligence drop constraint threat_intelligence_indicator_type_indicator_value_source_key',
  `create unique index threat_intelligence_identity on threat_intelligence
     (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), indicator_type, indicator_value, source)`,
  'create index idx_threat_intel_tenant_active on threat_intelligence (tenant_id, is_active)',
  'alter table threat_intelligence enable row level security',
  'alter table threat_intelligence force row level security',
  `create policy tenant_read on threat_intelligence for select
     using (tenant_id is null or tenant_id = corebank_current_tenant())`,
  `create policy tenant_insert on threat_intelligence for insert
     with check (tenant_id = corebank_current_tenant())`,
  `create policy tenant_update on threat_intelligence for update
     using (tenant_id = corebank_current_tenant()) with check (tenant_id = corebank_current_tenant())`,
  // Every server process rebuilds its in-memory index when an indicator changes (LISTEN corebank_indicators).
  `create or replace function corebank_notify_indicators() returns trigger language plpgsql as $$
   begin
     perform pg_notify('corebank_indicators', coalesce(current_setting('app.tenant_id', true), ''));
     return null;
   end $$`,
  `create trigger notify_indicators after insert or update or delete on threat_intelligence
     for each statement execute function corebank_notify_indicators()`,
];

const down = [
  'drop trigger if exists notify_indicators on threat_intelligence',
  'drop function if exists corebank_notify_indicators()',
  'drop policy if exists tenant_update on threat_intelligence',
  'drop policy if exists tenant_insert on threat_intelligence',
  'drop policy if exists tenant_read on threat_intelligence',
  'alter table threat_intelligence no force row level security',
  'alter table threat_intelligence disable row level security',
  'drop index if exists idx_threat_intel_tenant_active',
  'drop index if exists threat_intelligence_identity',
  `alter table threat_intelligence add constraint threat_intelligence_indicator_type_indicator_value_source_key
     unique (indicator_type, indicator_value, source)`,
  'alter table threat_intelligence drop column tenant_id',
];

export const migration = statementMigration(up, down);
