import { AppError } from '../../platform/errors.ts';

/**
 * PIN policy of a PIN change (issue 10). The schema (PinSchema) already makes a PIN six ASCII digits;
 * this refuses the PINs people guess first: one digit repeated (111111) and a run of consecutive
 * digits up or down (123456, 987654). The banking login and registration apply no such rule (the
 * development seed's PIN is 123456), so only a new PIN chosen through the change meets it.
 */
export function weakPinReason(pin: string): string | undefined {
  const digits = [...pin].map(Number);
  const steps = digits.slice(1).map((digit, index) => digit - (digits[index] ?? digit));
  if (steps.every((step) => step === 0)) return 'must not be one digit repeated';
  if (steps.every((step) => step === 1) || steps.every((step) => step === -1))
    return 'must not be a run of consecutive digits';
  return undefined;
}

/** Throws WEAK_PIN (400) naming the field when the PIN breaks the policy. */
export function assertPinPolicy(pin: string, field: string): void {
  const reason = weakPinReason(pin);
  if (reason !== undefined) throw new AppError('WEAK_PIN', undefined, [{ field, reason }]);
}
