import { sql } from 'kysely';
import type { DatabaseHandle } from '../../db/database.ts';
import { rolePermissions } from './permissions.ts';

/**
 * The permission catalog lives in code (permissions.ts) next to the routes that declare it; the
 * role_permissions table mirrors it for reporting and SQL-side checks. Runs at start-up and in the
 * seed, as the owner: it adds missing rows and removes ones the code no longer grants.
 */
export async function syncRolePermissions(handle: DatabaseHandle): Promise<void> {
  const rows = Object.entries(rolePermissions).flatMap(([role, permissions]) =>
    permissions.map((permission) => ({ role_name: role, permission })),
  );
  await handle.db.transaction().execute(async (transaction) => {
    await sql`
      insert into role_permissions (role_name, permission)
      select role_name, permission from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        as r(role_name varchar, permission varchar)
      on conflict do nothing`.execute(transaction);
    await sql`
      delete from role_permissions p
      where not exists (select 1 from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
                          as r(role_name varchar, permission varchar)
                        where r.role_name = p.role_name and r.permission = p.permission)`.execute(
      transaction,
    );
  });
}
