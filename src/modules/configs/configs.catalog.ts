import semver from 'semver';

/**
 * The configuration keys a tenant may set (seed 000 configs), each with its type. A key outside this
 * catalog is refused, so a typo cannot create a setting nothing reads. `parse` answers the stored form
 * of a value or the reason it is refused.
 */
export type ConfigKey = 'maintenance_mode' | 'app_version' | 'min_app_version' | 'tnc' | 'privacy_policy';

interface ConfigKeyDefinition {
  /** Readable without a token (the app shows it before sign-in). */
  public: boolean;
  /** A short value is audited as itself; a document by its SHA-256 and length. */
  audit: 'value' | 'digest';
  description: string;
  parse: (value: string) => { value: string } | { reason: string };
}

const versionLengthMax = 32;

function parseVersion(value: string): { value: string } | { reason: string } {
  if (
    value.length > versionLengthMax ||
    !/^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$/.test(value)
  )
    return { reason: 'must be a version MAJOR.MINOR.PATCH, for example 2.4.0' };
  return { value };
}

function parseDocument(value: string): { value: string } | { reason: string } {
  if (value.trim().length === 0) return { reason: 'must not be empty' };
  return { value };
}

export const configCatalog: Record<ConfigKey, ConfigKeyDefinition> = {
  maintenance_mode: {
    public: true,
    audit: 'value',
    description:
      'true or false. When true, every customer-facing write answers 503 MAINTENANCE_MODE; staff routes and sign-in keep working.',
    parse: (value) =>
      value === 'true' || value === 'false' ? { value } : { reason: 'must be true or false' },
  },
  app_version: {
    public: true,
    audit: 'value',
    description: 'The latest app version (MAJOR.MINOR.PATCH), at least min_app_version.',
    parse: parseVersion,
  },
  min_app_version: {
    public: true,
    audit: 'value',
    description:
      'The oldest app version still served (MAJOR.MINOR.PATCH): a request whose X-App-Version is older answers 426 APP_UPDATE_REQUIRED.',
    parse: parseVersion,
  },
  tnc: {
    public: true,
    audit: 'digest',
    description: 'The terms and conditions text (plain text); its version is TERMS_VERSION.',
    parse: parseDocument,
  },
  privacy_policy: {
    public: true,
    audit: 'digest',
    description: 'The privacy policy text (plain text); its version is PRIVACY_POLICY_VERSION.',
    parse: parseDocument,
  },
};

export const configKeys = Object.keys(configCatalog) as ConfigKey[];

export function isConfigKey(key: string): key is ConfigKey {
  return Object.hasOwn(configCatalog, key);
}

/** a < b for two parsed versions. */
export function versionBelow(a: string, b: string): boolean {
  return semver.lt(a, b);
}

/** The X-App-Version header as a version, or undefined when it is not one (refused by the gate). */
export function parseClientVersion(header: string): string | undefined {
  const parsed = parseVersion(header);
  return 'value' in parsed ? parsed.value : undefined;
}
