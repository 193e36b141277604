import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { loadConfig } from '../src/config/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrator.ts';
import { withScope } from '../src/db/tenant-transaction.ts';
import { postTransferGroup, transferSettingsJson } from '../src/modules/ledger/transfer.repository.ts';

/**
 * The embedded engine's ceiling: the transfer statement (corebank_transfer_group, one request per
 * call, no HTTP, no token, the caller trusted so no session read) called in a loop on an in-memory
 * PGlite, for `seconds`. bench:transfers divides the HTTP figure on PGlite by this.
 */
export async function bareLoopPglite(seconds: number, customers = 40): Promise<number> {
  const handle = await openDatabase({});
  try {
    await migrateToLatest(handle.db);
    const tenantId = randomUUID();
    await handle.db
      .insertInto('tenants')
      .values({ id: tenantId, slug: 'bench-bare', name: 'Bench' })
      .execute();
    const people = Array.from({ length: customers }, (_, index) => ({
      id: randomUUID(),
      account: `66${String(index).padStart(10, '0')}`,
    }));
    await withScope(handle.db, { tenantId }, async (transaction) => {
      for (const person of people) {
        await transaction
          .insertInto('users')
          .values({
            tenant_id: tenantId,
            id: person.id,
            role: 'customer',
            name: 'Bench',
            pin_hash: 'x',
            kyc_tier: 2,
          })
          .execute();
        await sql`insert into wallets (tenant_id, user_id, asset_code, kind, account_number, balance)
                  values (${tenantId}, ${person.id}, 'IDR', 'customer', ${person.account}, 1000000000)`.execute(
          transaction,
        );
      }
      await sql`insert into wallets (tenant_id, asset_code, kind, system_purpose, balance)
                values (${tenantId}, 'IDR', 'system', 'cash_in', ${-1_000_000_000 * customers})`.execute(
        transaction,
      );
    });
    const money = loadConfig({ NODE_ENV: 'test' }).money;
    const settings = transferSettingsJson(money, {
      idleSeconds: 1800,
      touchSeconds: 30,
      permission: 'x',
      roles: [],
    });
    let done = 0;
    const stopAt = performance.now() + seconds * 1000;
    const startedAt = performance.now();
    while (performance.now() < stopAt) {
      const from = Math.floor(Math.random() * customers);
      const to = (from + 1 + Math.floor(Math.random() * (customers - 1))) % customers;
      const [result] = await postTransferGroup(
        handle.db,
        tenantId,
        [
          {
            user_id: (people[from] as { id: string }).id,
            key: randomUUID(),
            hash: '0'.repeat(64),
            endpoint: 'bench',
            batch: false,
            atomic: true,
            items: [
              { to_account_number: (people[to] as { account: string }).account, amount: 1, asset: 'IDR' },
            ],
            audit: {},
          },
        ],
        settings,
      );
      if (result?.status === 201) done += 1;
    }
    return done / ((performance.now() - startedAt) / 1000);
  } finally {
    await handle.close();
  }
}
