import { statementMigration } from './run-statements.ts';

/**
 * Detection rules with automatic response (issue 10 item 3).
 *
 * - threat_events.dedup_key: the rule, its subject (an address or a user) and the detection window it
 *   fell in. The unique index makes "one ongoing attack is one threat per subject and window" a
 *   decision of the INSERT itself (ON CONFLICT DO NOTHING), so two requests or two server processes
 *   detecting the same attack at once cannot write two threats or run the response twice. Rows
 *   without a key (the seed's, a manual threat) are not deduplicated: NULLs are distinct.
 * - response_action gains 'step_up': a detection may require a fresh second factor before the user's
 *   next sensitive action instead of blocking or locking.
 * - step_up_requirements: one row per user who must verify a second factor again before a sensitive
 *   action; satisfied by a session opened with its second factor after the row was written.
 * - IP blocks are seed 003's rate_limit_entries (is_blocked, blocked_until); the index serves the
 *   block cache's read of the tenant's live blocks.
 *
 * Frozen in time: this file must never import application code.
 */
const up = [
  'alter table threat_events add column dedup_key varchar(300)',
  'create unique index threat_events_dedup_key on threat_events (tenant_id, dedup_key)',
  'alter table threat_events drop constraint threat_events_response_action_check',
  `alter table threat_events add constraint threat_events_response_action_check
     check (response_action in ('block', 'lock', 'alert', 'escalate', 'step_up'))`,
  `create table step_up_requirements (
     tenant_id uuid not null references tenants (id),
     user_id uuid not null,
     threat_id uuid,
     reason varchar(100) not null,
     required_at timestamptz not null default now(),
     satisfied_at timestamptz,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (tenant_id, user_id),
     foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
   )`,
  `select corebank_protect_tenant_table('step_up_requirements', 'crud')`,
  `select corebank_add_updated_at_trigger('step_up_requirements')`,
  `create index idx_rate_limit_entries_blocked on rate_limit_entries (tenant_id, blocked_until)
     where is_blocked`,
];

const down = [
  'drop index if exists idx_rate_limit_entries_blocked',
  'drop table if exists step_up_requirements',
  'alter table threat_events drop constraint threat_events_response_action_check',
  `update threat_events set response_action = 'escalate' where response_action = 'step_up'`,
  `alter table threat_events add constraint threat_events_response_action_check
     check (response_action in ('block', 'lock', 'alert', 'escalate'))`,
  'drop index if exists threat_events_dedup_key',
  'alter table threat_events drop column dedup_key',
];

export const migration = statementMigration(up, down);
