import { createHmac } from 'node:crypto';
import type { BaseLogger } from 'pino';
import type { AlertWebhookConfig } from '../../config/alert-config.ts';

/**
 * The two sinks of an alert (issue 10 item 9): one structured warn line in the log, and a signed
 * JSON POST to ALERT_WEBHOOK_URL. docs/security.md "Alerts" tells a receiver how to verify one.
 */

/** The alert as every sink receives it: the delivery, its tenant and the event's public fields. */
export interface AlertMessage {
  /** The delivery's id: the same on every retry, so a receiver drops a repeat it already has. */
  id: string;
  tenant_id: string;
  event: Record<string, unknown> & { source: string; id: string; occurred_at: string };
}

export type SinkResult = { ok: true } | { ok: false; error: string };

/** X-Corebank-Signature: HMAC-SHA256, in hex, of `${timestamp}.${body}` under the shared secret. */
export function alertSignature(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export function logAlert(logger: Pick<BaseLogger, 'warn'>, message: AlertMessage): SinkResult {
  logger.warn({ alert: message }, 'security alert');
  return { ok: true };
}

/**
 * Why a POST failed, in words fit for last_error and the log: the status, a timeout or the network
 * error's code. Never the URL (it may carry a token in its path) and never a header (the signature).
 */
function failureReason(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`;
  }
  const cause: unknown = error instanceof Error ? error.cause : undefined;
  const code =
    typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string'
      ? cause.code
      : undefined;
  return `the request failed (${(code ?? (error instanceof Error ? error.name : 'unknown')).slice(0, 50)})`;
}

/**
 * POSTs the alert, signed, with a bounded wait. A 2xx is delivered; anything else (a redirect
 * included: the signature is not handed on to another address) is a failure the caller retries.
 */
export async function postAlert(webhook: AlertWebhookConfig, message: AlertMessage): Promise<SinkResult> {
  const body = JSON.stringify(message);
  const timestamp = String(Math.floor(Date.now() / 1000));
  try {
    const response = await fetch(webhook.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'corebank-alerts',
        'x-corebank-delivery': message.id,
        'x-corebank-timestamp': timestamp,
        'x-corebank-signature': alertSignature(webhook.secret, timestamp, body),
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(webhook.timeoutMs),
    });
    // The answer's body is of no use; read none of it, so a huge one costs nothing.
    await response.body?.cancel();
    if (response.status >= 200 && response.status < 300) return { ok: true };
    return { ok: false, error: `the sink answered HTTP ${response.status}` };
  } catch (error) {
    return { ok: false, error: failureReason(error, webhook.timeoutMs) };
  }
}
