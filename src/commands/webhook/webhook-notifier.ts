import { StreamfoldError, ErrorCodes } from '../../errors.js';
import type { Notifier } from '../notifier.js';

export type WebhookNotifierOptions = Readonly<{
  /** Receives `POST` with the notification as JSON. */
  url: string;
  /** Per request. @default 5000 */
  timeoutMs?: number;
}>;

/**
 * POSTs each notification as JSON with `Idempotency-Key: <notification id>`. Any non-2xx
 * answer or network error rejects, so the workflow retries and eventually dead-letters it.
 */
export function createWebhookNotifier(options: WebhookNotifierOptions): Notifier {
  const timeoutMs = options.timeoutMs ?? 5000;
  return {
    async send(notification) {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': notification.id },
        body: JSON.stringify(notification),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer();
      if (!response.ok) {
        throw new StreamfoldError(
          ErrorCodes.OVERLOADED,
          `Notification webhook answered ${response.status}`,
          {
            details: { status: response.status },
          },
        );
      }
    },
    async close() {},
  };
}
