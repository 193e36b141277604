import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Secret } from 'otpauth';
import { generateTotp, type TotpAlgorithm, totpStep, verifyTotp } from './totp.ts';

/** RFC 6238 Appendix B: the seeds are ASCII digits of 20, 32 and 64 bytes; codes have 8 digits. */
const seeds: Record<TotpAlgorithm, string> = {
  SHA1: '12345678901234567890',
  SHA256: '12345678901234567890123456789012',
  SHA512: '1234567890123456789012345678901234567890123456789012345678901234',
};

const vectors: [number, Record<TotpAlgorithm, string>][] = [
  [59, { SHA1: '94287082', SHA256: '46119246', SHA512: '90693936' }],
  [1111111109, { SHA1: '07081804', SHA256: '68084774', SHA512: '25091201' }],
  [1111111111, { SHA1: '14050471', SHA256: '67062674', SHA512: '99943326' }],
  [1234567890, { SHA1: '89005924', SHA256: '91819424', SHA512: '93441116' }],
  [2000000000, { SHA1: '69279037', SHA256: '90698825', SHA512: '38618901' }],
  [20000000000, { SHA1: '65353130', SHA256: '77737706', SHA512: '47863826' }],
];

describe('TOTP (RFC 6238)', () => {
  for (const algorithm of ['SHA1', 'SHA256', 'SHA512'] as const) {
    test(`Appendix B test vectors for ${algorithm}`, () => {
      const secretBase32 = Secret.fromLatin1(seeds[algorithm]).base32;
      for (const [seconds, codes] of vectors) {
        assert.equal(
          generateTotp({ secretBase32, algorithm, digits: 8 }, seconds * 1000),
          codes[algorithm],
          `T=${seconds}`,
        );
      }
    });
  }

  test('a code is accepted once: its step, and every earlier step, is refused afterwards', () => {
    const secretBase32 = Secret.fromLatin1(seeds.SHA1).base32;
    const now = 1_700_000_000_000;
    const code = generateTotp({ secretBase32 }, now);
    const step = verifyTotp({ secretBase32 }, code, now, null);
    assert.equal(step, totpStep(now));
    assert.equal(verifyTotp({ secretBase32 }, code, now, step ?? 0), undefined);
    const next = generateTotp({ secretBase32 }, now + 30_000);
    assert.equal(verifyTotp({ secretBase32 }, next, now + 30_000, step ?? 0), (step ?? 0) + 1);
  });

  test('one step of clock drift is tolerated, two are not, and a wrong code never', () => {
    const secretBase32 = Secret.fromLatin1(seeds.SHA1).base32;
    const now = 1_700_000_000_000;
    assert.notEqual(
      verifyTotp({ secretBase32 }, generateTotp({ secretBase32 }, now - 30_000), now, null),
      undefined,
    );
    assert.equal(
      verifyTotp({ secretBase32 }, generateTotp({ secretBase32 }, now - 60_000), now, null),
      undefined,
    );
    const right = generateTotp({ secretBase32 }, now);
    const wrong = `${(Number(right[0]) + 1) % 10}${right.slice(1)}`;
    assert.equal(verifyTotp({ secretBase32 }, wrong, now, null), undefined);
  });
});
