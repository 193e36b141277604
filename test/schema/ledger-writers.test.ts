import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';

/*
 * One posting engine (issue 8): only src/modules/ledger (and src/db: migrations, the seed) writes the
 * ledger's tables — balances, entries and idempotency keys. A feature describes its movement and hands
 * it to the engine instead. This scan reads every source file and names each write found elsewhere.
 */

const root = resolve(import.meta.dirname, '../..');
const ledgerTables = ['wallets', 'transactions', 'idempotency_keys'] as const;
const writerDirectories = ['src/modules/ledger/', 'src/db/'];

interface LedgerWrite {
  file: string;
  line: number;
  text: string;
}

function sourceFiles(directory: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) found.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

/** Comments may name a table in prose ("update the wallets"); only code counts. */
function withoutComments(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`])\/\/[^\n]*/g, (comment, before: string) => before + ' '.repeat(comment.length - 1));
}

/**
 * Opening a wallet at zero (registration, a customer's first credit of another asset, a system
 * wallet's first use) is not a balance change: an insert that sets no balance column is allowed.
 */
function opensEmptyWallet(code: string, index: number): boolean {
  const statement = code.slice(index, code.indexOf('.execute', index) + 1 || index + 800);
  return !/\b(balance|locked|entry_count)\b/.test(statement);
}

/** Every Kysely or raw-SQL write of a ledger table in `code`, with its line. */
function ledgerWrites(file: string, source: string): LedgerWrite[] {
  const code = withoutComments(source);
  const tables = ledgerTables.join('|');
  const patterns = [
    new RegExp(`\\b(insertInto|updateTable|deleteFrom)\\(\\s*['"\`](${tables})['"\`]`, 'g'),
    new RegExp(`\\b(insert\\s+into|update|delete\\s+from)\\s+(${tables})\\b`, 'gi'),
  ];
  const writes: LedgerWrite[] = [];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) {
      const index = match.index ?? 0;
      const verb = (match[1] ?? '').toLowerCase();
      const opening = (verb === 'insertinto' || verb.startsWith('insert')) && match[2] === 'wallets';
      if (opening && opensEmptyWallet(code, index)) continue;
      const line = code.slice(0, index).split('\n').length;
      writes.push({ file, line, text: match[0] });
    }
  }
  return writes;
}

test('only src/modules/ledger and src/db write wallets, transactions and idempotency_keys', () => {
  const outside: LedgerWrite[] = [];
  for (const path of sourceFiles(join(root, 'src'))) {
    const file = relative(root, path).split('\\').join('/');
    if (writerDirectories.some((directory) => file.startsWith(directory))) continue;
    outside.push(...ledgerWrites(file, readFileSync(path, 'utf8')));
  }
  assert.deepEqual(
    outside.map((write) => `${write.file}:${write.line} ${write.text}`),
    [],
    'a feature writes a ledger table itself instead of posting through src/modules/ledger',
  );
});

test('the scan finds each kind of write it forbids, and lets an empty wallet be opened', () => {
  const samples = [
    "await transaction.updateTable('wallets').set({ locked: 1 }).execute();",
    "await transaction.deleteFrom('idempotency_keys').where('id', '=', id).execute();",
    "await db.insertInto('transactions').values(row).execute();",
    'await sql`update wallets set locked = locked + 1`.execute(transaction);',
    'await sql`insert into idempotency_keys (tenant_id) values (1)`.execute(transaction);',
    'await sql`DELETE FROM transactions where id = 1`.execute(transaction);',
    "await transaction.insertInto('wallets').values({ tenant_id, balance: 5 }).execute();",
  ];
  for (const sample of samples) assert.equal(ledgerWrites('sample.ts', sample).length, 1, sample);
  const allowed = [
    "await transaction.insertInto('wallets').values({ tenant_id, user_id, kind: 'customer' }).execute();",
    '// we update wallets through the engine\nconst x = 1;',
    "await transaction.selectFrom('wallets').select('balance').execute();",
  ];
  for (const sample of allowed) assert.equal(ledgerWrites('sample.ts', sample).length, 0, sample);
});
