import type { ErrorDetail } from './errors.ts';

/**
 * PostgreSQL text cannot hold NUL, and UTF-8 (the wire and database encoding) cannot encode an
 * unpaired UTF-16 surrogate: either one reaching a query fails it with a driver error, i.e. a 500
 * after part of the request's work (a PIN check) has already happened. Matched on UTF-16 code units
 * (no `u` flag): a NUL, a high surrogate not followed by a low one, or a low one not preceded by a high.
 */
const unpairedSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const nul = '\u0000';

export function isIllFormedText(text: string): boolean {
  return text.includes(nul) || unpairedSurrogate.test(text);
}

/** The text with every offending code unit replaced by U+FFFD, so an error can name a bad key safely. */
export function printableText(text: string): string {
  return text.replaceAll(nul, '\ufffd').replace(new RegExp(unpairedSurrogate.source, 'g'), '\ufffd');
}

const illFormedReason = 'must not contain a NUL character or an unpaired UTF-16 surrogate';
const illFormedKeyReason = 'has a name that contains a NUL character or an unpaired UTF-16 surrogate';

// A 64 KB JSON body holds at most about 32,000 nested values: walking with an explicit stack instead of
// recursion keeps a deeply nested body from overflowing the call stack.
interface Pending {
  value: unknown;
  path: string;
}

/**
 * The first string, object key or array element anywhere in `value` that PostgreSQL could not store,
 * named by its dotted path under `part` (`body.device.name`), or undefined when every string is fine.
 */
export function findIllFormedText(value: unknown, part: string): ErrorDetail | undefined {
  const stack: Pending[] = [{ value, path: part }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop() as Pending;
    if (typeof current === 'string') {
      if (isIllFormedText(current)) return { field: path, reason: illFormedReason };
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index -= 1)
        stack.push({ value: current[index], path: `${path}.${index}` });
      continue;
    }
    const entries = Object.entries(current);
    for (let index = entries.length - 1; index >= 0; index -= 1) {
      const [key, item] = entries[index] as [string, unknown];
      if (isIllFormedText(key)) return { field: `${path}.${printableText(key)}`, reason: illFormedKeyReason };
      stack.push({ value: item, path: `${path}.${key}` });
    }
  }
  return undefined;
}
