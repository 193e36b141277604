import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ConsentConfig } from '../../config/consent-config.ts';
import type { Database } from '../../db/schema.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { AppError } from '../../platform/errors.ts';
import type { ConfigCache } from './configs.cache.ts';
import { type ConfigKey, configCatalog, configKeys, isConfigKey, versionBelow } from './configs.catalog.ts';
import {
  type ConfigRow,
  deleteConfig,
  lockConfig,
  lockVersionPair,
  readTenantConfigs,
  upsertConfig,
} from './configs.repository.ts';
import type { ConfigView } from './configs.schemas.ts';

export interface ConfigServices {
  db: Kysely<Database>;
  cache: ConfigCache;
  consent: ConsentConfig;
}

function knownKey(key: string): ConfigKey {
  if (!isConfigKey(key)) throw new AppError('NOT_FOUND', `No configuration key "${key}".`);
  return key;
}

/** The document version a key's text is published under (consent records name it), if it has one. */
function versionOf(key: ConfigKey, consent: ConsentConfig): string | null {
  if (key === 'tnc') return consent.termsVersion;
  if (key === 'privacy_policy') return consent.privacyPolicyVersion;
  return null;
}

function configView(row: ConfigRow, services: ConfigServices): ConfigView {
  const key = knownKey(row.key);
  return {
    key,
    value: row.value,
    version: versionOf(key, services.consent),
    description: configCatalog[key].description,
    updated_at: row.updated_at.toISOString(),
  };
}

/** GET /v1/configs/{key}: one value, for the app (every catalog key is public). */
export async function readConfig(services: ConfigServices, tenantId: string, key: string) {
  const known = knownKey(key);
  const value = (await services.cache.get(tenantId)).get(known);
  if (value === undefined) throw new AppError('NOT_FOUND', `The configuration "${known}" is not set.`);
  return { key: known, value, version: versionOf(known, services.consent) };
}

/** Staff: GET /v1/admin/configs — every key of the catalog, set or not. */
export async function listConfigs(services: ConfigServices, tenantId: string) {
  const rows = await withScope(services.db, { tenantId }, (transaction) =>
    readTenantConfigs(transaction, tenantId),
  );
  const set = new Map(rows.filter((row) => isConfigKey(row.key)).map((row) => [row.key, row]));
  return {
    configs: configKeys.map((key) => {
      const row = set.get(key);
      return row
        ? configView(row, services)
        : {
            key,
            value: null,
            version: versionOf(key, services.consent),
            description: configCatalog[key].description,
            updated_at: null,
          };
    }),
  };
}

function parsedValue(key: ConfigKey, value: string): string {
  const parsed = configCatalog[key].parse(value);
  if ('reason' in parsed)
    throw new AppError('VALIDATION_FAILED', undefined, [{ field: 'body.value', reason: parsed.reason }]);
  return parsed.value;
}

/** min_app_version never above app_version, whichever of the two changes. */
function checkVersionPair(key: ConfigKey, value: string, configs: ReadonlyMap<string, string>): void {
  const latest = key === 'app_version' ? value : configs.get('app_version');
  const minimum = key === 'min_app_version' ? value : configs.get('min_app_version');
  if (latest === undefined || minimum === undefined) return;
  if (versionBelow(latest, minimum)) {
    const reason = key === 'app_version' ? 'must be at least min_app_version' : 'must be at most app_version';
    throw new AppError('VALIDATION_FAILED', undefined, [{ field: 'body.value', reason }]);
  }
}

function audited(key: ConfigKey, value: string | null): unknown {
  if (value === null || configCatalog[key].audit === 'value') return value;
  return { sha256: createHash('sha256').update(value).digest('hex'), length: value.length };
}

/**
 * Staff: PUT /v1/admin/configs/{key}. The key's row is locked (and the version pair read in the same
 * transaction), so two changes apply in turn and each audit row has the true old value.
 */
export async function setConfig(services: ConfigServices, audit: AuditContext, key: string, value: string) {
  const known = knownKey(key);
  const stored = parsedValue(known, value);
  const row = await withScope(services.db, { tenantId: audit.tenantId }, async (transaction) => {
    if (known === 'app_version' || known === 'min_app_version')
      await lockVersionPair(transaction, audit.tenantId);
    const old = await lockConfig(transaction, audit.tenantId, known);
    if (known === 'app_version' || known === 'min_app_version') {
      const rows = await readTenantConfigs(transaction, audit.tenantId);
      checkVersionPair(known, stored, new Map(rows.map((entry) => [entry.key, entry.value])));
    }
    const written = await upsertConfig(transaction, audit.tenantId, known, stored);
    await recordAudit(transaction, audit, {
      entityType: 'config',
      entityId: known,
      action: 'CONFIG_SET',
      oldValues: { value: audited(known, old?.value ?? null) },
      newValues: { value: audited(known, stored) },
    });
    return written;
  });
  services.cache.forget(audit.tenantId);
  return configView(row, services);
}

/** Staff: DELETE /v1/admin/configs/{key}: the key goes back to its default (unset). */
export async function unsetConfig(services: ConfigServices, audit: AuditContext, key: string): Promise<void> {
  const known = knownKey(key);
  await withScope(services.db, { tenantId: audit.tenantId }, async (transaction) => {
    const old = await lockConfig(transaction, audit.tenantId, known);
    if (!old || !(await deleteConfig(transaction, audit.tenantId, known)))
      throw new AppError('NOT_FOUND', `The configuration "${known}" is not set.`);
    await recordAudit(transaction, audit, {
      entityType: 'config',
      entityId: known,
      action: 'CONFIG_UNSET',
      oldValues: { value: audited(known, old.value) },
      newValues: { value: null },
    });
  });
  services.cache.forget(audit.tenantId);
}
