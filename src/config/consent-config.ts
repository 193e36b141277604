import { ConfigurationError, readString, reportInvalid, type Source } from './config-readers.ts';

/**
 * The versions of the documents every customer must have accepted (issue 11 item 6): a login answers
 * `consent_required` until the customer accepts these exact versions through POST /v1/me/consents.
 * Publishing a new version is changing the variable and restarting (docs/operations.md).
 */
export interface ConsentConfig {
  /** TERMS_VERSION: the terms and conditions in force. */
  termsVersion: string;
  /** PRIVACY_POLICY_VERSION: the privacy policy in force; marketing and data-sharing grants are recorded under it. */
  privacyPolicyVersion: string;
}

/** The same bound as consents.document_version's CHECK (migration 0017). */
export const documentVersionPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
export const documentVersionLengthMax = 32;

function readVersion(source: Source, name: string): string {
  const fallback = '1';
  const value = readString(source, name, fallback);
  if (!documentVersionPattern.test(value)) {
    const reason = `must be 1-${documentVersionLengthMax} letters, digits, dots, dashes or underscores, starting with a letter or digit (e.g. 2026-12-01)`;
    return reportInvalid(new ConfigurationError(name, reason), fallback);
  }
  return value;
}

export function readConsentConfig(source: Source): ConsentConfig {
  return {
    termsVersion: readVersion(source, 'TERMS_VERSION'),
    privacyPolicyVersion: readVersion(source, 'PRIVACY_POLICY_VERSION'),
  };
}
