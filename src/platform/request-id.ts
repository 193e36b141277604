import { randomFillSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { v7 as uuidv7 } from 'uuid';

export const requestIdHeader = 'x-request-id';

/**
 * A caller's id is kept so one request can be followed across services, but only when it is short and
 * plain: it is echoed in headers, bodies and log lines, where anything else could inject content.
 */
const safeRequestId = /^[A-Za-z0-9._-]{1,64}$/;

/*
 * uuid's own v7 asks WebCrypto for 16 random bytes on every call: measured at about 6 µs of CPU per
 * request (the largest single item of GET /health's profile). Request ids draw their random part from
 * a pool refilled 4 KiB at a time instead; they are time-ordered like any v7 id, and nothing requires
 * two ids of the same millisecond to sort in creation order.
 */
const randomPool = new Uint8Array(4096);
let randomOffset = randomPool.length;

function pooledRandom16(): Uint8Array {
  if (randomOffset + 16 > randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  const bytes = randomPool.subarray(randomOffset, randomOffset + 16);
  randomOffset += 16;
  return bytes;
}

/** A fresh id (also for answers written before a request exists: Node's parser rejected it). */
export function newRequestId(): string {
  return uuidv7({ random: pooledRandom16() });
}

export function generateRequestId(request: IncomingMessage): string {
  const incoming = request.headers[requestIdHeader];
  if (typeof incoming === 'string' && safeRequestId.test(incoming)) return incoming;
  return newRequestId();
}
