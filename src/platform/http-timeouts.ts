/**
 * How often Node checks for requests past requestTimeout (its default, 30 s, would let a stalled
 * request live up to twice the timeout): a tenth of the timeout, between 100 ms and 1 s.
 */
export function connectionsCheckingIntervalMs(requestTimeoutMs: number): number {
  return Math.min(1000, Math.max(100, Math.floor(requestTimeoutMs / 10)));
}

/**
 * The socket inactivity timeout. It must fire after Node's request-timeout check, or a stalled
 * request would be cut silently instead of answered 408 in the error shape.
 */
export function socketTimeoutMs(requestTimeoutMs: number): number {
  return requestTimeoutMs + 2 * connectionsCheckingIntervalMs(requestTimeoutMs) + 1000;
}
