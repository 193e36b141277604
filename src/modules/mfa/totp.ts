import { Secret, TOTP } from 'otpauth';

/**
 * TOTP (RFC 6238) over otpauth: 6 digits, 30-second steps, SHA-1 by default (what authenticator apps
 * support). A code is accepted within one step of clock drift either side, and only for a time step
 * later than the last accepted one, so each code works once.
 */
export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export const totpPeriodSeconds = 30;
export const totpDigits = 6;
/** Steps of clock drift tolerated either side of now. */
export const totpWindowSteps = 1;
const secretBytes = 20;

export function newTotpSecret(): string {
  return new Secret({ size: secretBytes }).base32;
}

export function totpStep(timestampMs: number, periodSeconds = totpPeriodSeconds): number {
  return Math.floor(timestampMs / 1000 / periodSeconds);
}

export interface TotpParameters {
  secretBase32: string;
  algorithm?: TotpAlgorithm;
  digits?: number;
  periodSeconds?: number;
}

function totpFor(parameters: TotpParameters, label = 'corebank', issuer = 'Corebank'): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: parameters.algorithm ?? 'SHA1',
    digits: parameters.digits ?? totpDigits,
    period: parameters.periodSeconds ?? totpPeriodSeconds,
    secret: Secret.fromBase32(parameters.secretBase32),
  });
}

export function generateTotp(parameters: TotpParameters, timestampMs: number): string {
  return totpFor(parameters).generate({ timestamp: timestampMs });
}

/**
 * The time step the code belongs to, or undefined if it matches none within the window or its step
 * is not after `lastUsedStep` (a replay).
 */
export function verifyTotp(
  parameters: TotpParameters,
  code: string,
  timestampMs: number,
  lastUsedStep: number | null,
): number | undefined {
  const delta = totpFor(parameters).validate({
    token: code,
    timestamp: timestampMs,
    window: totpWindowSteps,
  });
  if (delta === null) return undefined;
  const step = totpStep(timestampMs, parameters.periodSeconds) + delta;
  if (lastUsedStep !== null && step <= lastUsedStep) return undefined;
  return step;
}

export function totpUri(secretBase32: string, accountLabel: string, issuer: string): string {
  return totpFor({ secretBase32 }, accountLabel, issuer).toString();
}
