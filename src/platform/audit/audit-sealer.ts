import assert from 'node:assert/strict';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { applyScope } from '../../db/tenant-transaction.ts';
import { canonicalRowSql, computeRowHash, genesisHash, signRowHash } from './audit-hash.ts';

export const sealerRole = 'corebank_sealer';

export interface SealerKey {
  key: Buffer;
  keyId: string;
}

interface UnsealedRow {
  id: string;
  created_at_text: string;
  canonical: string;
}

/**
 * Chains and signs committed audit rows, tenant by tenant, in the order the sealer finds them.
 * Writers never wait for the chain: they insert unsealed rows concurrently, and this job (run every
 * AUDIT_SEAL_INTERVAL_MS by each server, and by `corebank audit seal`) seals them shortly after commit.
 * A per-tenant advisory lock makes concurrent sealers in several processes take turns instead of
 * forking the chain. Returns the number of rows sealed.
 */
export async function sealPendingAudits(
  db: Kysely<Database>,
  signing: SealerKey,
  batchSizeMax = 1000,
): Promise<number> {
  const tenants = await db.selectFrom('tenants').select('id').execute();
  let sealed = 0;
  for (const tenant of tenants) {
    sealed += await sealTenant(db, tenant.id, signing, batchSizeMax);
  }
  return sealed;
}

async function sealTenant(
  db: Kysely<Database>,
  tenantId: string,
  signing: SealerKey,
  batchSizeMax: number,
): Promise<number> {
  return db.transaction().execute(async (transaction) => {
    await applyScope(transaction, { tenantId }, sealerRole);
    await sql`select set_config('TimeZone', 'UTC', true)`.execute(transaction);
    const lock = await sql<{ locked: boolean }>`
      select pg_try_advisory_xact_lock(hashtextextended(${`corebank.audit-seal.${tenantId}`}, 0)) as locked`.execute(
      transaction,
    );
    if (!lock.rows[0]?.locked) return 0;

    const rows = await sql<UnsealedRow>`
      select a.id, a.created_at::text as created_at_text, ${sql.raw(canonicalRowSql)} as canonical
      from audit_logs a
      where a.tenant_id = ${tenantId} and a.row_hash is null
      order by a.created_at, a.id
      limit ${batchSizeMax}`.execute(transaction);
    if (rows.rows.length === 0) return 0;

    const head = await transaction
      .selectFrom('audit_chain_heads')
      .select(['last_sequence', 'last_hash'])
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    let sequence = head?.last_sequence ?? 0;
    let previousHash = head?.last_hash ?? genesisHash;
    const seals = rows.rows.map((row) => {
      sequence += 1;
      const rowHash = computeRowHash(previousHash, sequence, row.canonical);
      const seal = {
        id: row.id,
        created_at: row.created_at_text,
        chain_sequence: sequence,
        previous_hash: previousHash,
        row_hash: rowHash,
        signature: signRowHash(signing.key, rowHash),
      };
      previousHash = rowHash;
      return seal;
    });

    const updated = await sql`
      update audit_logs a
      set chain_sequence = s.chain_sequence, previous_hash = s.previous_hash, row_hash = s.row_hash,
          signature = s.signature, signing_key_id = ${signing.keyId}, sealed_at = now()
      from jsonb_to_recordset(${JSON.stringify(seals)}::jsonb) as s(
        id uuid, created_at timestamptz, chain_sequence bigint, previous_hash text, row_hash text, signature text)
      where a.tenant_id = ${tenantId} and a.id = s.id and a.created_at = s.created_at
        and a.row_hash is null`.execute(transaction);
    assert.equal(
      Number(updated.numAffectedRows),
      seals.length,
      'every selected audit row must be sealed once',
    );

    await sql`
      insert into audit_chain_heads (tenant_id, last_sequence, last_hash, last_sealed_at, updated_at)
      values (${tenantId}, ${sequence}, ${previousHash}, now(), now())
      on conflict (tenant_id) do update
      set last_sequence = excluded.last_sequence, last_hash = excluded.last_hash,
          last_sealed_at = excluded.last_sealed_at, updated_at = excluded.updated_at`.execute(transaction);
    return seals.length;
  });
}
