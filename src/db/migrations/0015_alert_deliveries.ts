import { statementMigration } from './run-statements.ts';

/**
 * Alert deliveries (issue 10 item 9): the outbox of critical security events on their way to the
 * configured sinks (the log, a webhook). One row per event and sink, unique, so an event is queued to a
 * sink once however many server processes run the alert job; the job claims due rows with
 * FOR UPDATE SKIP LOCKED, so two processes never send one row at once. A row is pending until it is
 * delivered, or dead after the last attempt (a dead letter staff can list and retry).
 *
 * A tenant table with row-level security like every other: the events it points at are the tenant's,
 * and so are the staff who read the dead letters. event_id has no foreign key: security_events is
 * partitioned by created_at (its key includes it) and both event tables are pruned by retention,
 * while a delivery's record outlives neither requirement.
 *
 * Frozen in time: this file must never import application code.
 */
const up = [
  `create table alert_deliveries (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     sink varchar(20) not null check (sink in ('log', 'webhook')),
     event_source varchar(20) not null check (event_source in ('security_event', 'threat_event')),
     event_id uuid not null,
     event_created_at timestamptz not null,
     payload jsonb not null check (octet_length(payload::text) <= 16384),
     status varchar(20) not null default 'pending' check (status in ('pending', 'delivered', 'dead')),
     attempts integer not null default 0 check (attempts between 0 and 1000),
     next_attempt_at timestamptz not null default now(),
     last_error varchar(500),
     delivered_at timestamptz,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (tenant_id, id),
     unique (tenant_id, sink, event_source, event_id),
     check ((status = 'delivered') = (delivered_at is not null))
   )`,
  // The job's claim: a tenant's pending rows that are due, oldest due first.
  `create index idx_alert_deliveries_due on alert_deliveries (tenant_id, next_attempt_at)
     where status = 'pending'`,
  // The staff list: by status, newest first (keyset on id).
  'create index idx_alert_deliveries_status on alert_deliveries (tenant_id, status, id desc)',
  `select corebank_protect_tenant_table('alert_deliveries', 'crud')`,
  `select corebank_add_updated_at_trigger('alert_deliveries')`,
];

const down = ['drop table if exists alert_deliveries'];

export const migration = statementMigration(up, down);
