import type { Config } from '../../config/config.ts';
import { AppError } from '../../platform/errors.ts';

/** One message as a provider would deliver it. */
export interface OutboxMessage {
  channel: 'sms' | 'email';
  to: string;
  subject: string | undefined;
  body: string;
  sentAt: Date;
}

/**
 * Where SMS and email go. Production wires a real provider behind this interface; development and
 * test use the in-memory outbox, which GET /v1/dev/outbox lists so every flow can be driven end to end.
 */
export interface MessageSender {
  sendSms(to: string, body: string): Promise<void>;
  sendEmail(to: string, subject: string, body: string): Promise<void>;
}

/** Bounded so a long-running development server cannot grow without limit. */
export const outboxMessagesMax = 2000;

export class MessageOutbox implements MessageSender {
  readonly #messages: OutboxMessage[] = [];

  async sendSms(to: string, body: string): Promise<void> {
    this.#push({ channel: 'sms', to, subject: undefined, body, sentAt: new Date() });
  }

  async sendEmail(to: string, subject: string, body: string): Promise<void> {
    this.#push({ channel: 'email', to, subject, body, sentAt: new Date() });
  }

  /** Newest first. */
  list(to: string | undefined, limit: number): OutboxMessage[] {
    const matching =
      to === undefined ? this.#messages : this.#messages.filter((message) => message.to === to);
    return matching.slice(-limit).reverse();
  }

  #push(message: OutboxMessage): void {
    if (this.#messages.length >= outboxMessagesMax) this.#messages.shift();
    this.#messages.push(message);
  }
}

/** Production has no provider wired yet: a send fails loudly instead of pretending a code was delivered. */
class UnconfiguredMessageSender implements MessageSender {
  async sendSms(): Promise<void> {
    throw new AppError('SERVICE_UNAVAILABLE', 'No SMS provider is configured.');
  }

  async sendEmail(): Promise<void> {
    throw new AppError('SERVICE_UNAVAILABLE', 'No email provider is configured.');
  }
}

export function createMessageSender(config: Pick<Config, 'environment'>): MessageSender {
  return config.environment === 'production' ? new UnconfiguredMessageSender() : new MessageOutbox();
}
