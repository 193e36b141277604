import type { Command } from 'commander';
import { sealPendingAudits } from '../../platform/audit/audit-sealer.ts';
import { verifyAuditChains } from '../../platform/audit/audit-verifier.ts';
import { CliError, type CliRuntime } from '../runtime.ts';
import { withDatabase } from './with-database.ts';

export function registerAuditCommands(program: Command, runtime: CliRuntime): void {
  const audit = program.command('audit').description('seal and verify the hash-chained audit log');

  audit
    .command('verify')
    .description('walk every tenant chain; print OK or the first missing, altered or out-of-order row')
    .action(() =>
      withDatabase(runtime, async (handle) => {
        const config = runtime.config();
        let checked = 0;
        const result = await verifyAuditChains(
          handle.db,
          new Map([[config.auditHmacKeyId, config.auditHmacKey]]),
          (rows) => {
            checked += rows;
            if (!process.stderr.isTTY && rows > 0) process.stderr.write(`verified ${checked} rows\n`);
          },
        );
        if (result.problem) {
          const { tenantId, kind, chainSequence, rowId, message } = result.problem;
          throw new CliError(
            `audit chain broken (${kind}) in tenant ${tenantId} at sequence ${chainSequence}${rowId ? ` (row ${rowId})` : ''}: ${message}`,
          );
        }
        const sealed = result.tenants.reduce((sum, tenant) => sum + tenant.sealedRows, 0);
        const unsealed = result.tenants.reduce((sum, tenant) => sum + tenant.unsealedRows, 0);
        const oldest = Math.max(0, ...result.tenants.map((tenant) => tenant.oldestUnsealedAgeSeconds ?? 0));
        process.stdout.write(
          `OK: ${sealed} sealed rows in ${result.tenants.length} tenants verified` +
            (unsealed > 0 ? `; ${unsealed} rows not yet sealed (oldest ${oldest.toFixed(1)} s)` : '') +
            '\n',
        );
      }),
    );

  audit
    .command('seal')
    .description('seal every committed unsealed audit row now (servers also do this continuously)')
    .action(() =>
      withDatabase(runtime, async (handle) => {
        const config = runtime.config();
        let total = 0;
        for (;;) {
          const sealed = await sealPendingAudits(handle.db, {
            key: config.auditHmacKey,
            keyId: config.auditHmacKeyId,
          });
          if (sealed === 0) break;
          total += sealed;
        }
        process.stdout.write(`Sealed ${total} audit rows.\n`);
      }),
    );
}
