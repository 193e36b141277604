import type { Command } from 'commander';
import { checkLedger } from '../../modules/ledger/ledger-check.ts';
import { CliError, type CliRuntime } from '../runtime.ts';
import { withDatabase } from './with-database.ts';

export function registerLedgerCommands(program: Command, runtime: CliRuntime): void {
  const ledger = program.command('ledger').description('prove the money ledger is consistent');

  ledger
    .command('check')
    .description(
      'every wallet: balance = last balance_after = sum of entries, gap-free entry_sequence; every asset sums to zero',
    )
    .action(() =>
      withDatabase(runtime, async (handle) => {
        const result = await checkLedger(handle.db);
        if (result.problem) {
          const { tenantId, kind, subject, message } = result.problem;
          throw new CliError(`ledger check failed (${kind}) in tenant ${tenantId}: ${subject}: ${message}`);
        }
        process.stdout.write(
          `OK: ${result.wallets} wallets and ${result.entries} entries in ${result.tenants} tenants; every asset sums to zero\n`,
        );
      }),
    );
}
