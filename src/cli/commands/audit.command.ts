import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../../config/config.ts';
import {
  type CheckpointKeys,
  type CheckpointProblem,
  verifyAuditCheckpoints,
  writeAuditCheckpoints,
} from '../../platform/audit/audit-checkpoint.ts';
import { sealPendingAudits } from '../../platform/audit/audit-sealer.ts';
import { verifyAuditChains } from '../../platform/audit/audit-verifier.ts';
import { CliError, type CliRuntime } from '../runtime.ts';
import { withDatabase } from './with-database.ts';

export function registerAuditCommands(program: Command, runtime: CliRuntime): void {
  const audit = program.command('audit').description('seal and verify the hash-chained audit log');

  audit
    .command('verify')
    .description('walk every tenant chain; print OK or the first missing, altered or out-of-order row')
    .option(
      '--checkpoints <dir>',
      'also check every signed checkpoint in DIR against the database (audit checkpoint writes them)',
    )
    .action((options: { checkpoints?: string }) =>
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
        const checkpoints =
          options.checkpoints === undefined
            ? undefined
            : await verifyCheckpointsOrFail(handle.db, resolve(options.checkpoints), checkpointKeys(config));
        const sealed = result.tenants.reduce((sum, tenant) => sum + tenant.sealedRows, 0);
        const unsealed = result.tenants.reduce((sum, tenant) => sum + tenant.unsealedRows, 0);
        const oldest = Math.max(0, ...result.tenants.map((tenant) => tenant.oldestUnsealedAgeSeconds ?? 0));
        process.stdout.write(
          `OK: ${sealed} sealed rows in ${result.tenants.length} tenants verified` +
            (unsealed > 0 ? `; ${unsealed} rows not yet sealed (oldest ${oldest.toFixed(1)} s)` : '') +
            (checkpoints === undefined ? '' : `; ${checkpoints} checkpoints verified`) +
            '\n',
        );
      }),
    );

  registerCheckpointCommands(audit, runtime);

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

/** File-system failures a command reports as one line naming the directory, not as an internal error. */
const fileSystemErrors = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EEXIST', 'EROFS', 'ENOSPC']);

function checkpointKeys(config: Config): CheckpointKeys {
  const { keyName, signingKey, publicKeys } = config.auditCheckpoint;
  return { keyName, signingKey, publicKeys };
}

function describeCheckpointProblem(problem: CheckpointProblem): string {
  return `checkpoint ${problem.fileName} (tenant ${problem.tenantId || 'unknown'}, sequence ${problem.chainSequence || 'unknown'}) no longer matches (${problem.kind}): ${problem.message}`;
}

async function verifyCheckpointsOrFail(
  db: Parameters<typeof verifyAuditCheckpoints>[0],
  directory: string,
  keys: CheckpointKeys,
): Promise<number> {
  if (keys.publicKeys.length === 0) {
    throw new CliError(
      'set AUDIT_CHECKPOINT_PUBLIC_KEY (or AUDIT_CHECKPOINT_SIGNING_KEY) to verify checkpoints',
    );
  }
  let result: Awaited<ReturnType<typeof verifyAuditCheckpoints>>;
  try {
    result = await verifyAuditCheckpoints(db, directory, keys, (checked) => {
      process.stderr.write(`verified ${checked} checkpoints\n`);
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined && fileSystemErrors.has(code)) {
      throw new CliError(`cannot read the checkpoint directory ${directory} (${code})`);
    }
    throw error;
  }
  const [first] = result.problems;
  if (first) {
    const more = result.problems.length - 1;
    throw new CliError(`audit ${describeCheckpointProblem(first)}${more > 0 ? ` (and ${more} more)` : ''}`);
  }
  return result.checked;
}

function registerCheckpointCommands(audit: Command, runtime: CliRuntime): void {
  audit
    .command('checkpoint')
    .description(
      'sign every tenant chain head and write it as a checkpoint file outside the database (AUDIT_CHECKPOINT_DIR)',
    )
    .option('--dir <dir>', 'the directory to write checkpoints into (default AUDIT_CHECKPOINT_DIR)')
    .action((options: { dir?: string }) =>
      withDatabase(runtime, async (handle) => {
        const config = runtime.config();
        const keys = checkpointKeys(config);
        if (!keys.signingKey) {
          throw new CliError('AUDIT_CHECKPOINT_SIGNING_KEY is not set: it is required to write checkpoints');
        }
        const directory = options.dir === undefined ? config.auditCheckpoint.directory : resolve(options.dir);
        const result = await writeAuditCheckpoints(handle.db, directory, keys).catch((error: unknown) => {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === undefined || !fileSystemErrors.has(code)) throw error;
          throw new CliError(`cannot write checkpoints into ${directory} (${code})`);
        });
        for (const fileName of result.written) process.stderr.write(`wrote ${fileName}\n`);
        const [first] = result.refused;
        if (first) {
          throw new CliError(`refused to checkpoint: ${describeCheckpointProblem(first)}`);
        }
        process.stdout.write(
          `Wrote ${result.written.length} checkpoints into ${directory}` +
            ` (${result.unchanged} tenants unchanged since their last checkpoint, ${result.empty} without sealed rows).\n`,
        );
      }),
    );

  audit
    .command('checkpoint-key')
    .description(
      'print the public key of the signing key (SPKI PEM), for a third party to verify checkpoints',
    )
    .action(() => {
      const [publicKey] = runtime.config().auditCheckpoint.publicKeys;
      if (!publicKey) {
        throw new CliError('set AUDIT_CHECKPOINT_SIGNING_KEY or AUDIT_CHECKPOINT_PUBLIC_KEY first');
      }
      process.stdout.write(publicKey.export({ format: 'pem', type: 'spki' }).toString());
    });
}
