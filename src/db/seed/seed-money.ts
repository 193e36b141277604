import { v7 as uuidV7 } from 'uuid';
import { type EntryRequest, postMovement } from '../../modules/ledger/ledger-posting.ts';
import { addDailyOutgoing } from '../../modules/limits/limits.repository.ts';
import { recordAudit } from '../../platform/audit/audit-trail.ts';
import { hoursAgo, hoursFromNow, type SeedContext, type SeededPeople } from './seed-context.ts';

const systemPurposes = ['cash_in', 'cash_out', 'fees'] as const;
const seededAssets = ['IDR', 'USD', 'BTC', 'iSTSi'] as const;

type SystemWallets = Map<string, string>;

/** Bank accounts, wallets, money movements, holds, operations and KYC records for the seeded people. */
export async function seedMoney(context: SeedContext, people: SeededPeople): Promise<void> {
  const systemWallets = await seedSystemWallets(context);
  for (const customer of people.customers) {
    customer.walletId = await seedCustomerAccounts(
      context,
      customer.id,
      customer.name,
      customer.accountNumber,
    );
  }
  const [alice, budi, citra, dewi] = people.customers;
  if (!alice || !budi || !citra || !dewi) throw new Error('seed expects at least four customers');

  // Rp amounts are in minor units (IDR has scale 2): 50_000_000 = Rp 500,000.00.
  for (const customer of people.customers) {
    await move(context, 'IDR', [
      { walletId: systemWallet(systemWallets, 'IDR', 'cash_in'), delta: -50_000_000, type: 'topup' },
      { walletId: customer.walletId, delta: 50_000_000, type: 'topup', description: 'Initial top-up' },
    ]);
  }
  await move(context, 'IDR', [
    {
      walletId: alice.walletId,
      delta: -7_500_000,
      type: 'transfer_out',
      counterpartyWalletId: budi.walletId,
      description: 'Rent share',
    },
    {
      walletId: budi.walletId,
      delta: 7_500_000,
      type: 'transfer_in',
      counterpartyWalletId: alice.walletId,
      description: 'Rent share',
    },
  ]);
  // The transfer above as a client would have sent it: its Idempotency-Key keeps a retry from paying twice.
  await context.transaction
    .insertInto('idempotency_keys')
    .values({
      tenant_id: context.tenantId,
      user_id: alice.id,
      idempotency_key: 'seed-rent-share-2026',
      request_hash: '0'.repeat(64),
      endpoint: 'POST /v1/transactions/transfer',
      response_status: 201,
      response_body: JSON.stringify({ status: 'completed', amount: 7_500_000 }),
      expires_at: hoursFromNow(25),
    })
    .execute();
  await move(context, 'IDR', [
    {
      walletId: budi.walletId,
      delta: -1_250_000,
      type: 'transfer_out',
      counterpartyWalletId: citra.walletId,
    },
    { walletId: citra.walletId, delta: 1_250_000, type: 'transfer_in', counterpartyWalletId: budi.walletId },
  ]);
  await seedTransferVelocity(context, [alice.id, budi.id]);
  await seedWithdrawals(context, systemWallets, alice.id, alice.walletId, citra.id, citra.walletId);
  await seedBitcoin(context, systemWallets, alice.id, budi.id);
  await seedKycRecords(context, people);
}

/**
 * The velocity rows of the senders above (migration 0018), left uncounted (window_index -1): their
 * transfers were posted by the seed, not by the statement that counts, so the first counted transfer
 * starts from the exact count of the window.
 */
async function seedTransferVelocity(context: SeedContext, senders: string[]): Promise<void> {
  await context.transaction
    .insertInto('transfer_velocity')
    .values(
      senders.map((userId) => ({
        tenant_id: context.tenantId,
        user_id: userId,
        window_minutes: 10,
        window_index: -1,
        current_count: 0,
        previous_count: 0,
      })),
    )
    .execute();
}

function systemWallet(wallets: SystemWallets, asset: string, purpose: string): string {
  const id = wallets.get(`${asset}:${purpose}`);
  if (!id) throw new Error(`missing system wallet ${asset}:${purpose}`);
  return id;
}

async function move(
  context: SeedContext,
  asset: string,
  entries: EntryRequest[],
  operationId?: string,
): Promise<void> {
  const movementId = uuidV7();
  const posted = await postMovement(
    context.transaction,
    context.tenantId,
    movementId,
    entries.map((entry) => ({ ...entry, operationId })),
  );
  for (const entry of entries) {
    if (entry.type === 'transfer_out' || entry.type === 'withdraw') {
      const wallet = { id: entry.walletId, assetCode: asset };
      await addDailyOutgoing(context.transaction, context.tenantId, wallet, -entry.delta);
    }
  }
  await recordAudit(context.transaction, context.audit, {
    entityType: 'transaction',
    entityId: movementId,
    action: 'CREATE',
    newValues: {
      asset,
      entries: posted.map((entry) => ({ wallet: entry.walletId, type: entry.type, amount: entry.amount })),
    },
  });
}

async function seedSystemWallets(context: SeedContext): Promise<SystemWallets> {
  const wallets: SystemWallets = new Map();
  for (const asset of seededAssets) {
    for (const purpose of systemPurposes) {
      const id = uuidV7();
      await context.transaction
        .insertInto('wallets')
        .values({
          tenant_id: context.tenantId,
          id,
          asset_code: asset,
          kind: 'system',
          system_purpose: purpose,
        })
        .execute();
      wallets.set(`${asset}:${purpose}`, id);
    }
  }
  return wallets;
}

async function seedCustomerAccounts(
  context: SeedContext,
  userId: string,
  name: string,
  accountNumber: string,
): Promise<string> {
  await context.transaction
    .insertInto('bank_accounts')
    .values({
      tenant_id: context.tenantId,
      user_id: userId,
      account_number: accountNumber,
      account_name: name,
      bank_name: 'Corebank',
      bank_code: '999',
      account_type: 'saving',
      is_primary: true,
    })
    .execute();
  const walletId = uuidV7();
  await context.transaction
    .insertInto('wallets')
    .values({
      tenant_id: context.tenantId,
      id: walletId,
      user_id: userId,
      asset_code: 'IDR',
      kind: 'customer',
      account_number: accountNumber,
    })
    .execute();
  return walletId;
}

async function seedWithdrawals(
  context: SeedContext,
  systemWallets: SystemWallets,
  aliceId: string,
  aliceWalletId: string,
  citraId: string,
  citraWalletId: string,
): Promise<void> {
  const externalAccountId = uuidV7();
  await context.transaction
    .insertInto('bank_accounts')
    .values({
      tenant_id: context.tenantId,
      id: externalAccountId,
      user_id: aliceId,
      account_number: '0140012345678',
      account_name: 'Alice Wijaya',
      bank_name: 'Bank Central Asia',
      bank_code: '014',
      account_type: 'checking',
    })
    .execute();
  const completedId = uuidV7();
  await insertOperation(
    context,
    completedId,
    aliceId,
    aliceWalletId,
    2_000_000,
    'completed',
    externalAccountId,
  );
  await move(
    context,
    'IDR',
    [
      { walletId: aliceWalletId, delta: -2_000_000, type: 'withdraw', description: 'Withdrawal to BCA' },
      { walletId: systemWallet(systemWallets, 'IDR', 'cash_out'), delta: 2_000_000, type: 'withdraw' },
    ],
    completedId,
  );
  await insertOperation(context, uuidV7(), citraId, citraWalletId, 900_000_000, 'failed', null);
  await seedPendingWithdrawal(context, aliceId, aliceWalletId, externalAccountId);
}

async function seedPendingWithdrawal(
  context: SeedContext,
  userId: string,
  walletId: string,
  bankAccountId: string,
): Promise<void> {
  const holdId = uuidV7();
  const amount = 3_000_000;
  await context.transaction
    .insertInto('balance_holds')
    .values({ tenant_id: context.tenantId, id: holdId, wallet_id: walletId, amount, reason: 'withdrawal' })
    .execute();
  await context.transaction
    .updateTable('wallets')
    .set((eb) => ({ locked: eb('locked', '+', amount) }))
    .where('tenant_id', '=', context.tenantId)
    .where('id', '=', walletId)
    .execute();
  const operationId = uuidV7();
  await insertOperation(context, operationId, userId, walletId, amount, 'pending', bankAccountId, holdId);
  await context.transaction
    .updateTable('balance_holds')
    .set({ operation_id: operationId })
    .where('tenant_id', '=', context.tenantId)
    .where('id', '=', holdId)
    .execute();
}

async function insertOperation(
  context: SeedContext,
  id: string,
  userId: string,
  walletId: string,
  amount: number,
  status: 'pending' | 'completed' | 'failed',
  bankAccountId: string | null,
  holdId: string | null = null,
): Promise<void> {
  const finished = status === 'completed' || status === 'failed';
  await context.transaction
    .insertInto('operations')
    .values({
      tenant_id: context.tenantId,
      id,
      user_id: userId,
      wallet_id: walletId,
      asset_code: 'IDR',
      operation_type: 'withdrawal',
      status,
      amount,
      bank_account_id: bankAccountId,
      hold_id: holdId,
      external_reference: status === 'completed' ? `SIMBANK-${id.slice(0, 8)}` : null,
      error_message: status === 'failed' ? 'Insufficient funds at request time' : null,
      completed_at: finished ? hoursAgo(1) : null,
      metadata: JSON.stringify({ channel: 'mobile' }),
    })
    .execute();
}

async function seedBitcoin(
  context: SeedContext,
  systemWallets: SystemWallets,
  ...userIds: string[]
): Promise<void> {
  for (const userId of userIds) {
    const walletId = uuidV7();
    await context.transaction
      .insertInto('wallets')
      .values({
        tenant_id: context.tenantId,
        id: walletId,
        user_id: userId,
        asset_code: 'BTC',
        kind: 'customer',
      })
      .execute();
    // 0.1 BTC = 10,000,000 satoshi (BTC has scale 8).
    const depositId = uuidV7();
    await context.transaction
      .insertInto('operations')
      .values({
        tenant_id: context.tenantId,
        id: depositId,
        user_id: userId,
        wallet_id: walletId,
        asset_code: 'BTC',
        operation_type: 'deposit',
        status: 'completed',
        amount: 10_000_000,
        bitcoin_tx_hash: `${depositId.replaceAll('-', '')}${'0'.repeat(32)}`,
        completed_at: hoursAgo(2),
      })
      .execute();
    await move(
      context,
      'BTC',
      [
        { walletId: systemWallet(systemWallets, 'BTC', 'cash_in'), delta: -10_000_000, type: 'topup' },
        { walletId, delta: 10_000_000, type: 'topup', description: 'BTC deposit' },
      ],
      depositId,
    );
  }
}

async function seedKycRecords(context: SeedContext, people: SeededPeople): Promise<void> {
  const states = [
    { status: 'approved', tier: 2 },
    { status: 'approved', tier: 1 },
    { status: 'pending', tier: 1 },
    { status: 'rejected', tier: 2 },
    { status: 'expired', tier: 1 },
  ] as const;
  for (const [index, state] of states.entries()) {
    const customer = people.customers[index];
    if (!customer) break;
    const reviewed = state.status !== 'pending';
    await context.transaction
      .insertInto('kyc_records')
      .values({
        tenant_id: context.tenantId,
        user_id: customer.id,
        tier_level: state.tier,
        status: state.status,
        document_type: index % 2 === 0 ? 'national_id' : 'passport',
        document_country: 'ID',
        verification_data: JSON.stringify({ selfie_match: reviewed, source: 'seed' }),
        reviewer_id: reviewed ? people.officerId : null,
        rejection_reason: state.status === 'rejected' ? 'Document image is not legible' : null,
        reviewed_at: reviewed ? hoursAgo(24) : null,
        approved_at: state.status === 'approved' || state.status === 'expired' ? hoursAgo(24) : null,
        expires_at: state.status === 'expired' ? hoursAgo(1) : hoursFromNow(24 * 365),
      })
      .execute();
  }
}
