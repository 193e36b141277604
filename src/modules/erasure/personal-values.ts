/** The personal values of one customer, collected before erasure, to scrub wherever they were copied. */
export interface PersonalValues {
  phone: string | null;
  /** Network addresses the customer's rows hold (host form, as PostgreSQL's host() renders them). */
  addresses: string[];
  /** The user agents the customer's rows hold (also among texts). */
  agents: string[];
  /** Name, contact details, mother's name, avatar, user agents (each at least 3 characters). */
  texts: string[];
}

export const erasedText = '[erased]';

function mentionsPersonalValue(text: string, values: PersonalValues): boolean {
  const lowered = text.toLowerCase();
  return (
    values.texts.some((value) => lowered.includes(value.toLowerCase())) ||
    values.addresses.some((address) => lowered.includes(address.toLowerCase()))
  );
}

/**
 * A copy of a JSON value (or text) with every string that contains one of the personal values replaced
 * by '[erased]', keys kept: what the row recorded stays readable, whose it was does not.
 */
export function scrubPersonalValues<T>(value: T, values: PersonalValues): T {
  return scrub(value, values) as T;
}

function scrub(value: unknown, values: PersonalValues): unknown {
  if (typeof value === 'string') return mentionsPersonalValue(value, values) ? erasedText : value;
  if (Array.isArray(value)) return value.map((item) => scrub(item, values));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, scrub(item, values)]));
  }
  return value;
}
