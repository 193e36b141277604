import { type KeyObject, sign, verify } from 'node:crypto';

/**
 * The text of an audit checkpoint, modelled on the C2SP signed note and tlog-checkpoint formats
 * (Trillian Tessera): a body of four lines, a blank line, and signature lines.
 *
 *     corebank-audit/<tenant id>          origin: whose chain
 *     <chain sequence>                    the head's sequence, decimal
 *     <row hash, base64>                  the head's row_hash (32 bytes, standard base64)
 *     <ISO 8601 time>                     when the checkpoint was taken (an extension line)
 *
 *     — <key name> <base64 Ed25519 signature over the body bytes>
 *
 * The body bytes are the four lines, each ended by a newline; the signature is the raw 64-byte
 * Ed25519 signature (no signed-note key-hash prefix), so `openssl pkeyutl -verify -rawin` checks it
 * directly (docs/operations.md).
 */
export interface CheckpointBody {
  tenantId: string;
  chainSequence: number;
  /** The head's row_hash, hex as stored in audit_logs. */
  rowHash: string;
  takenAt: Date;
}

export interface ParsedCheckpoint extends CheckpointBody {
  body: string;
  signatures: { keyName: string; signature: Buffer }[];
}

export const checkpointOrigin = 'corebank-audit';
export const checkpointFileSuffix = '.checkpoint';
/** A checkpoint is a few hundred bytes; anything far larger is not one. */
export const checkpointBytesMax = 4096;

const signatureDash = '\u2014';
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const isoTimePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function checkpointFileName(tenantId: string, chainSequence: number): string {
  if (!uuidPattern.test(tenantId)) throw new Error(`tenant id ${tenantId.slice(0, 40)} is not a uuid`);
  return `${tenantId}-${chainSequence}${checkpointFileSuffix}`;
}

export function formatCheckpointBody(checkpoint: CheckpointBody): string {
  const hash = Buffer.from(checkpoint.rowHash, 'hex');
  if (hash.length !== 32 || !/^[0-9a-f]{64}$/.test(checkpoint.rowHash)) {
    throw new Error('a checkpoint hash is 64 lowercase hex characters');
  }
  return [
    `${checkpointOrigin}/${checkpoint.tenantId}`,
    String(checkpoint.chainSequence),
    hash.toString('base64'),
    checkpoint.takenAt.toISOString(),
    '',
  ].join('\n');
}

/** The whole checkpoint file: the body, a blank line and one signature line by `keyName`. */
export function signCheckpoint(checkpoint: CheckpointBody, keyName: string, privateKey: KeyObject): string {
  const body = formatCheckpointBody(checkpoint);
  const signature = sign(null, Buffer.from(body, 'utf8'), privateKey).toString('base64');
  return `${body}\n${signatureDash} ${keyName} ${signature}\n`;
}

/** Parses a checkpoint file strictly; throws an Error naming what is wrong (never its content). */
export function parseCheckpoint(text: string): ParsedCheckpoint {
  const separator = text.indexOf('\n\n');
  if (separator < 0) throw new Error('it has no blank line between body and signatures');
  const body = text.slice(0, separator + 1);
  const lines = body.slice(0, -1).split('\n');
  if (lines.length !== 4) throw new Error(`its body has ${lines.length} lines, not 4`);
  const [origin = '', sequence = '', hash = '', takenAt = ''] = lines;
  const tenantId = origin.startsWith(`${checkpointOrigin}/`) ? origin.slice(checkpointOrigin.length + 1) : '';
  if (!uuidPattern.test(tenantId)) throw new Error(`its origin line is not ${checkpointOrigin}/<tenant id>`);
  if (!/^[1-9]\d{0,14}$/.test(sequence)) throw new Error('its sequence line is not a positive integer');
  const hashBytes = Buffer.from(hash, 'base64');
  if (hashBytes.length !== 32 || hashBytes.toString('base64') !== hash) {
    throw new Error('its hash line is not 32 bytes of base64');
  }
  if (!isoTimePattern.test(takenAt) || Number.isNaN(Date.parse(takenAt))) {
    throw new Error('its time line is not an ISO 8601 UTC time');
  }
  return {
    tenantId,
    chainSequence: Number(sequence),
    rowHash: hashBytes.toString('hex'),
    takenAt: new Date(takenAt),
    body,
    signatures: parseSignatureLines(text.slice(separator + 2)),
  };
}

function parseSignatureLines(text: string): ParsedCheckpoint['signatures'] {
  if (!text.endsWith('\n')) throw new Error('its last line does not end with a newline');
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      const match = /^\u2014 ([A-Za-z0-9._-]{1,64}) ([A-Za-z0-9+/]{86}==)$/.exec(line);
      if (!match) throw new Error('a signature line is not "— <key name> <base64 signature>"');
      return { keyName: match[1] ?? '', signature: Buffer.from(match[2] ?? '', 'base64') };
    });
}

/** True when a signature line by `keyName` verifies over the body with one of `publicKeys`. */
export function checkpointSignatureMatches(
  checkpoint: ParsedCheckpoint,
  keyName: string,
  publicKeys: readonly KeyObject[],
): boolean {
  const body = Buffer.from(checkpoint.body, 'utf8');
  return checkpoint.signatures.some(
    (line) =>
      line.keyName === keyName &&
      line.signature.length === 64 &&
      publicKeys.some((publicKey) => verify(null, body, publicKey, line.signature)),
  );
}
