import { statementMigration } from './run-statements.ts';

/**
 * Consent (issue 11 item 6; seed 000 configs `tnc` and `privacy_policy`, seed 003 "CDR: open banking
 * data access and consent tracking"): one row per grant of one purpose by one customer — the terms and
 * conditions, the privacy policy, marketing, or sharing their data with one named recipient — with the
 * document version it was given under and when it was granted. A grant ends once, either withdrawn by
 * the customer (`withdrawn_at`) or superseded by the acceptance of a newer version (`superseded_at`);
 * a later grant is a new row, so the rows of a user are the history and the rows with neither end are
 * what is in force now.
 *
 * Frozen in time: this file must never import application code.
 */
const up = [
  `create table consents (
     tenant_id uuid not null,
     id uuid not null default corebank_uuid_v7(),
     user_id uuid not null,
     purpose varchar(20) not null
       check (purpose in ('terms', 'privacy', 'marketing', 'data_sharing')),
     document_version varchar(32) not null
       check (document_version ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$'),
     recipient varchar(100)
       check (char_length(recipient) between 1 and 100 and recipient = btrim(recipient)
              and recipient !~ '[[:cntrl:]]'),
     granted_at timestamptz not null default now(),
     withdrawn_at timestamptz,
     superseded_at timestamptz,
     created_at timestamptz not null default now(),
     primary key (tenant_id, id),
     -- No cascade: consent history outlives nothing it describes (users are never deleted; a
     -- maintenance clear deletes both).
     foreign key (tenant_id, user_id) references users (tenant_id, id),
     constraint consents_recipient_only_for_data_sharing
       check ((purpose = 'data_sharing') = (recipient is not null)),
     constraint consents_one_end check (withdrawn_at is null or superseded_at is null),
     -- A comparison with a NULL end passes: only an end that exists must follow the grant.
     constraint consents_withdrawn_after_grant check (withdrawn_at >= granted_at),
     constraint consents_superseded_after_grant check (superseded_at >= granted_at)
   )`,
  // At most one grant in force per user, purpose and recipient (recipients compared without case):
  // two concurrent grants of the same purpose collide here instead of both being current.
  `create unique index idx_consents_in_force on consents
     (tenant_id, user_id, purpose, (lower(coalesce(recipient, ''))))
     where withdrawn_at is null and superseded_at is null`,
  // The history of one user, newest first (GET /v1/me/consents), and the login's current-version check.
  'create index idx_consents_user_granted on consents (tenant_id, user_id, granted_at desc, id desc)',
  `select corebank_protect_tenant_table('consents', 'crud')`,
  `select corebank_protect_user_rows('consents', 'user_id')`,
  'revoke delete on consents from corebank_app',
  /*
   * History is kept: a row is never deleted (outside maintenance), and its one permitted change is
   * its end — withdrawn_at or superseded_at set once on a row in force, every other column unchanged.
   */
  `create function corebank_consents_guard() returns trigger language plpgsql as $$
   begin
     if corebank_in_maintenance() then
       return case when tg_op = 'DELETE' then old else new end;
     end if;
     if tg_op = 'DELETE' then
       raise exception 'consents keep their history: DELETE is not allowed'
         using errcode = 'insufficient_privilege';
     end if;
     if old.withdrawn_at is not null or old.superseded_at is not null
        or (new.tenant_id, new.id, new.user_id, new.purpose, new.document_version, new.recipient,
            new.granted_at, new.created_at)
           is distinct from (old.tenant_id, old.id, old.user_id, old.purpose, old.document_version,
                             old.recipient, old.granted_at, old.created_at) then
       raise exception 'a consent changes only once, when it is withdrawn or superseded'
         using errcode = 'insufficient_privilege';
     end if;
     return new;
   end $$`,
  `create trigger consents_guard before update or delete on consents
     for each row execute function corebank_consents_guard()`,
  `create trigger forbid_truncate before truncate on consents
     for each statement execute function corebank_forbid_change()`,
];

const down = ['drop table if exists consents', 'drop function if exists corebank_consents_guard()'];

export const migration = statementMigration(up, down);
