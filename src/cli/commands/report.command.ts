import type { Command } from 'commander';
import { isReportType, reportTypes } from '../../modules/compliance/compliance.schemas.ts';
import {
  activeTenantId,
  complianceSettings,
  generateReport,
} from '../../modules/compliance/compliance.service.ts';
import { isStrictDateTime } from '../../platform/date-formats.ts';
import { AppError } from '../../platform/errors.ts';
import { CliError, type CliRuntime } from '../runtime.ts';
import { withDatabase } from './with-database.ts';

interface GenerateOptions {
  type: string;
  from: string;
  to: string;
  tenant?: string;
}

function checkOptions(options: GenerateOptions): void {
  if (!isReportType(options.type)) {
    throw new CliError(`unknown report type "${options.type}"; one of: ${reportTypes.join(', ')}`, 2);
  }
  for (const name of ['from', 'to'] as const) {
    if (!isStrictDateTime(options[name])) {
      throw new CliError(`--${name} must be an ISO 8601 date-time such as 2026-12-01T00:00:00Z`, 2);
    }
  }
}

/** An AppError (a refused period, a report too large) as the one line the CLI prints. */
function describeRefusal(error: AppError): CliError {
  const details = (error.details ?? []).map((detail) => `${detail.field ?? ''} ${detail.reason}`.trim());
  return new CliError(
    `${error.code}: ${error.message}${details.length > 0 ? ` (${details.join('; ')})` : ''}`,
  );
}

export function registerReportCommands(program: Command, runtime: CliRuntime): void {
  const report = program.command('report').description('generate compliance reports (docs/operations.md)');
  report
    .command('generate')
    .description('generate and store one compliance report for [from, to); prints its id, total and hash')
    .requiredOption('--type <type>', `the report type: ${reportTypes.join(', ')}`)
    .requiredOption('--from <time>', 'start of the period, inclusive (ISO 8601, e.g. 2026-12-01T00:00:00Z)')
    .requiredOption('--to <time>', 'end of the period, exclusive (ISO 8601; not in the future)')
    .option('--tenant <slug>', 'the tenant (default DEFAULT_TENANT_SLUG)')
    .action((options: GenerateOptions) => {
      checkOptions(options);
      return withDatabase(runtime, async (handle) => {
        const config = runtime.config();
        const slug = options.tenant ?? config.defaultTenantSlug;
        const tenantId = await activeTenantId(handle.db, slug);
        if (!tenantId) throw new CliError(`no active tenant with slug "${slug}"`);
        process.stderr.write(`generating ${options.type} for tenant ${slug}\n`);
        const request = {
          type: options.type as (typeof reportTypes)[number],
          from: options.from,
          to: options.to,
        };
        const generated = await generateReport(
          handle.db,
          complianceSettings(config),
          { tenantId },
          request,
          'cli',
        ).catch((error: unknown) => {
          throw error instanceof AppError ? describeRefusal(error) : error;
        });
        process.stdout.write(
          `Report ${generated.id}: ${generated.report_type} ${generated.report_period_start} to ${generated.report_period_end}, ` +
            `${generated.total_records} records, sha256 ${generated.report_hash}\n`,
        );
      });
    });
}
