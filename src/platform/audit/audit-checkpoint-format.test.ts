import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  checkpointFileName,
  checkpointSignatureMatches,
  parseCheckpoint,
  signCheckpoint,
} from './audit-checkpoint-format.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const body = {
  tenantId: '01a24d30-aad4-710e-81ec-e0a11f806bf4',
  chainSequence: 22,
  rowHash: 'ab'.repeat(32),
  takenAt: new Date('2026-12-06T21:09:30.069Z'),
};

describe('audit checkpoint format', () => {
  test('a signed checkpoint is four body lines, a blank line and one signature line, and round-trips', () => {
    const text = signCheckpoint(body, 'corebank-audit', privateKey);
    const lines = text.split('\n');
    assert.deepEqual(lines.slice(0, 5), [
      'corebank-audit/01a24d30-aad4-710e-81ec-e0a11f806bf4',
      '22',
      Buffer.from(body.rowHash, 'hex').toString('base64'),
      '2026-12-06T21:09:30.069Z',
      '',
    ]);
    assert.match(lines[5] ?? '', /^\u2014 corebank-audit [A-Za-z0-9+/]{86}==$/);
    const parsed = parseCheckpoint(text);
    assert.equal(parsed.tenantId, body.tenantId);
    assert.equal(parsed.chainSequence, 22);
    assert.equal(parsed.rowHash, body.rowHash);
    assert.equal(parsed.takenAt.toISOString(), body.takenAt.toISOString());
    assert.equal(checkpointSignatureMatches(parsed, 'corebank-audit', [publicKey]), true);
  });

  test('the signature fails under another key, another key name, or a changed body', () => {
    const text = signCheckpoint(body, 'corebank-audit', privateKey);
    assert.equal(
      checkpointSignatureMatches(parseCheckpoint(text), 'corebank-audit', [other.publicKey]),
      false,
    );
    assert.equal(checkpointSignatureMatches(parseCheckpoint(text), 'other-name', [publicKey]), false);
    assert.equal(
      checkpointSignatureMatches(parseCheckpoint(text), 'corebank-audit', [other.publicKey, publicKey]),
      true,
      'a retired key listed beside the current one still verifies',
    );
    const changed = text.replace('\n22\n', '\n23\n');
    assert.equal(checkpointSignatureMatches(parseCheckpoint(changed), 'corebank-audit', [publicKey]), false);
  });

  test('malformed checkpoints are refused with a reason', () => {
    const text = signCheckpoint(body, 'corebank-audit', privateKey);
    const cases: [string, RegExp][] = [
      [text.replace('\n\n', '\n'), /no blank line/],
      [text.replace('corebank-audit/', 'other/'), /origin line/],
      [text.replace('\n22\n', '\n022\n'), /sequence line/],
      [text.replace('\n22\n', '\n0\n'), /sequence line/],
      [text.replace('=\n2026', '\n2026'), /hash line/],
      [text.replace('2026-12-06T21:09:30.069Z', '2026-13-06'), /time line/],
      [text.slice(0, -1), /newline/],
      [text.replace('\u2014 ', '- '), /signature line/],
      [`${text.split('\n\n')[0]}\nextra\n\n${text.split('\n\n')[1]}`, /5 lines/],
    ];
    for (const [input, reason] of cases) assert.throws(() => parseCheckpoint(input), reason);
  });

  test('file names are <tenant>-<sequence>.checkpoint and refuse a tenant that is not a uuid', () => {
    assert.equal(checkpointFileName(body.tenantId, 7), `${body.tenantId}-7.checkpoint`);
    assert.throws(() => checkpointFileName('../etc', 7), /not a uuid/);
  });
});
