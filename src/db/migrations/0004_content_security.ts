import { statementMigration } from './run-statements.ts';

/**
 * Content (seed 000 articles, photos, onboardings, configs), security operations (seed 003 threat
 * events, incidents, rate-limit entries; seed 004 rate-limit violations) and compliance reports
 * (seed 004).
 */
const severity = `check (severity in ('low', 'medium', 'high', 'critical'))`;

const up = [
  `create table articles (
     tenant_id uuid not null,
     id uuid not null default corebank_uuid_v7(),
     title varchar(255) not null check (char_length(title) between 1 and 255),
     image varchar(500),
     content text check (char_length(content) <= 100000),
     is_active boolean not null default true,
     user_id uuid not null,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (tenant_id, id),
     foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
   )`,
  'create index idx_articles_user_id on articles (tenant_id, user_id)',
  'create index idx_articles_is_active on articles (tenant_id, is_active, created_at desc)',
  `select corebank_protect_tenant_table('articles', 'crud')`,
  `select corebank_add_updated_at_trigger('articles')`,

  `create table photos (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     image varchar(500) not null check (char_length(image) between 1 and 500),
     user_id uuid,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (tenant_id, id),
     foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
   )`,
  'create index idx_photos_created_at on photos (tenant_id, created_at)',
  `select corebank_protect_tenant_table('photos', 'crud')`,
  `select corebank_add_updated_at_trigger('photos')`,

  `create table onboardings (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     image varchar(500) not null,
     title varchar(255) not null check (char_length(title) between 1 and 255),
     description text not null check (char_length(description) <= 10000),
     is_active boolean not null default true,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (tenant_id, id)
   )`,
  'create index idx_onboardings_is_active on onboardings (tenant_id, is_active, created_at)',
  `select corebank_protect_tenant_table('onboardings', 'crud')`,
  `select corebank_add_updated_at_trigger('onboardings')`,

  `create table configs (
     tenant_id uuid not null references tenants (id),
     key varchar(128) not null check (key ~ '^[a-z0-9_.-]{1,128}$'),
     value text not null check (char_length(value) <= 1000000),
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (tenant_id, key)
   )`,
  `select corebank_protect_tenant_table('configs', 'crud')`,
  `select corebank_add_updated_at_trigger('configs')`,

  `create table threat_events (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     threat_type varchar(100) not null,
     severity varchar(20) not null ${severity},
     status varchar(50) not null default 'detected' check (status in
       ('detected', 'investigating', 'mitigated', 'resolved')),
     description text,
     indicators varchar(500)[] not null default '{}',
     affected_user_ids uuid[] not null default '{}',
     affected_account_ids uuid[] not null default '{}',
     affected_transaction_ids uuid[] not null default '{}',
     detection_method varchar(100) check (detection_method in ('ml_model', 'rule_based', 'manual')),
     confidence numeric(5, 2) check (confidence between 0 and 100),
     response_action varchar(100) check (response_action in ('block', 'lock', 'alert', 'escalate')),
     response_status varchar(50) check (response_status in ('pending', 'executed', 'failed')),
     detected_at timestamptz not null default now(),
     mitigated_at timestamptz,
     resolved_at timestamptz,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (tenant_id, id)
   )`,
  'create index idx_threat_events_tenant_type on threat_events (tenant_id, threat_type)',
  'create index idx_threat_events_severity_status on threat_events (tenant_id, severity, status)',
  'create index idx_threat_events_detected on threat_events (tenant_id, detected_at desc)',
  'create index idx_threat_events_users on threat_events using gin (affected_user_ids)',
  `select corebank_protect_tenant_table('threat_events', 'crud')`,
  `select corebank_add_updated_at_trigger('threat_events')`,

  `create table security_incidents (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     incident_type varchar(100) not null,
     severity varchar(20) not null ${severity},
     status varchar(50) not null default 'open' check (status in
       ('open', 'investigating', 'resolved', 'closed')),
     priority varchar(20) not null default 'medium' check (priority in ('low', 'medium', 'high', 'critical')),
     title varchar(500) not null,
     description text,
     assigned_to uuid,
     related_threat_ids uuid[] not null default '{}',
     related_event_ids uuid[] not null default '{}',
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     resolved_at timestamptz,
     closed_at timestamptz,
     primary key (tenant_id, id),
     foreign key (tenant_id, assigned_to) references users (tenant_id, id)
   )`,
  'create index idx_security_incidents_tenant_status on security_incidents (tenant_id, status)',
  `create index idx_security_incidents_severity_priority on security_incidents
     (tenant_id, severity, priority)`,
  'create index idx_security_incidents_type on security_incidents (tenant_id, incident_type)',
  `select corebank_protect_tenant_table('security_incidents', 'crud')`,
  `select corebank_add_updated_at_trigger('security_incidents')`,

  `create table rate_limit_entries (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     user_id uuid,
     ip_address inet,
     endpoint varchar(255) not null,
     request_count integer not null default 0 check (request_count >= 0),
     window_start timestamptz not null,
     window_end timestamptz not null,
     base_limit integer not null check (base_limit > 0),
     adaptive_limit integer check (adaptive_limit > 0),
     trust_multiplier numeric(5, 2) not null default 1 check (trust_multiplier > 0),
     is_blocked boolean not null default false,
     blocked_until timestamptz,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (tenant_id, id),
     foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
     check (window_end > window_start),
     check (user_id is not null or ip_address is not null)
   )`,
  'create index idx_rate_limit_user_endpoint on rate_limit_entries (tenant_id, user_id, endpoint)',
  'create index idx_rate_limit_ip_endpoint on rate_limit_entries (tenant_id, ip_address, endpoint)',
  'create index idx_rate_limit_window on rate_limit_entries (window_end)',
  `select corebank_protect_tenant_table('rate_limit_entries', 'crud')`,
  `select corebank_add_updated_at_trigger('rate_limit_entries')`,

  `create table rate_limit_violations (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     user_id uuid,
     ip_address inet not null,
     endpoint varchar(255) not null,
     request_count integer not null check (request_count >= 0),
     limit_threshold integer not null check (limit_threshold > 0),
     time_window_minutes integer not null check (time_window_minutes > 0),
     violation_type varchar(50),
     user_agent text,
     blocked_duration_minutes integer not null default 0 check (blocked_duration_minutes >= 0),
     created_at timestamptz not null default now(),
     unblocked_at timestamptz,
     primary key (tenant_id, id)
   )`,
  'create index idx_rate_limit_violations_ip on rate_limit_violations (tenant_id, ip_address, created_at)',
  `select corebank_protect_tenant_table('rate_limit_violations', 'crud')`,

  `create table compliance_reports (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     report_type varchar(100) not null,
     report_period_start timestamptz not null,
     report_period_end timestamptz not null,
     total_records integer not null default 0 check (total_records >= 0),
     report_data jsonb not null,
     report_hash varchar(128) not null,
     retention_policy_id uuid references data_retention_policies (id),
     created_by uuid,
     created_at timestamptz not null default now(),
     submitted_to_authority boolean not null default false,
     submission_date timestamptz,
     authority_acknowledgment varchar(255),
     primary key (tenant_id, id),
     check (report_period_end > report_period_start),
     check (not submitted_to_authority or submission_date is not null)
   )`,
  'create index idx_compliance_reports_type on compliance_reports (tenant_id, report_type, created_at desc)',
  `select corebank_protect_tenant_table('compliance_reports', 'crud')`,
];

const down = [
  'drop table if exists compliance_reports',
  'drop table if exists rate_limit_violations',
  'drop table if exists rate_limit_entries',
  'drop table if exists security_incidents',
  'drop table if exists threat_events',
  'drop table if exists configs',
  'drop table if exists onboardings',
  'drop table if exists photos',
  'drop table if exists articles',
];

export const migration = statementMigration(up, down);
