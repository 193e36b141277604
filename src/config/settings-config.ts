import { readInteger, type Source } from './config-readers.ts';

/** The tenant settings staff change at /v1/admin/configs (issue 12 item 4) and how fast they spread. */
export interface SettingsConfig {
  /** CONFIG_CACHE_MS: how long a process keeps a tenant's configs; a change reaches every process within it. */
  cacheMs: number;
  /** MAINTENANCE_RETRY_AFTER_SECONDS: the Retry-After of a write refused by maintenance_mode. */
  maintenanceRetryAfterSeconds: number;
}

export function readSettingsConfig(source: Source): SettingsConfig {
  return {
    cacheMs: readInteger(source, 'CONFIG_CACHE_MS', 500, 0, 1000),
    maintenanceRetryAfterSeconds: readInteger(source, 'MAINTENANCE_RETRY_AFTER_SECONDS', 300, 1, 86_400),
  };
}
