import { statementMigration } from './run-statements.ts';

/**
 * Legal holds (issue 11 items 1 and 5): a preservation order on one customer's data — placed by staff
 * for a case (litigation, a regulator's request, an investigation), in force until it is released or
 * its expiry passes. While one is in force, retention keeps the customer's rows and erasure is refused.
 * A hold is never deleted: its one permitted change is its release, once.
 *
 * Frozen in time: this file must never import application code.
 */
const up = [
  `create table legal_holds (
     tenant_id uuid not null,
     id uuid not null default corebank_uuid_v7(),
     user_id uuid not null,
     reason varchar(500) not null check (char_length(btrim(reason)) >= 3),
     case_reference varchar(100) check (char_length(btrim(case_reference)) >= 1),
     placed_by uuid not null,
     placed_at timestamptz not null default now(),
     expires_at timestamptz,
     released_at timestamptz,
     released_by uuid,
     release_reason varchar(500),
     primary key (tenant_id, id),
     foreign key (tenant_id, user_id) references users (tenant_id, id),
     foreign key (tenant_id, placed_by) references users (tenant_id, id),
     foreign key (tenant_id, released_by) references users (tenant_id, id),
     constraint legal_holds_expiry_after_placement check (expires_at > placed_at),
     constraint legal_holds_release_complete
       check ((released_at is null) = (released_by is null)
              and (released_at is null) = (release_reason is null)),
     constraint legal_holds_released_after_placement check (released_at >= placed_at)
   )`,
  // The holds in force for one customer (erasure's check) and for a tenant (retention's list).
  `create index idx_legal_holds_user on legal_holds (tenant_id, user_id) where released_at is null`,
  'create index idx_legal_holds_placed on legal_holds (tenant_id, placed_at desc, id desc)',
  `select corebank_protect_tenant_table('legal_holds', 'crud')`,
  'revoke delete on legal_holds from corebank_app',
  `create function corebank_legal_holds_guard() returns trigger language plpgsql as $$
   begin
     if corebank_in_maintenance() then
       return case when tg_op = 'DELETE' then old else new end;
     end if;
     if tg_op = 'DELETE' then
       raise exception 'legal holds keep their history: DELETE is not allowed'
         using errcode = 'insufficient_privilege';
     end if;
     if old.released_at is not null
        or (new.tenant_id, new.id, new.user_id, new.reason, new.case_reference, new.placed_by,
            new.placed_at, new.expires_at)
           is distinct from (old.tenant_id, old.id, old.user_id, old.reason, old.case_reference,
                             old.placed_by, old.placed_at, old.expires_at) then
       raise exception 'a legal hold changes only once, when it is released'
         using errcode = 'insufficient_privilege';
     end if;
     return new;
   end $$`,
  `create trigger legal_holds_guard before update or delete on legal_holds
     for each row execute function corebank_legal_holds_guard()`,
  `create trigger forbid_truncate before truncate on legal_holds
     for each statement execute function corebank_forbid_change()`,
];

const down = ['drop table if exists legal_holds', 'drop function if exists corebank_legal_holds_guard()'];

export const migration = statementMigration(up, down);
