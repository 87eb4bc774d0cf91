/**
 * The Notifier port: where customer notifications leave the system. The default adapter logs;
 * `webhook/` POSTs them. Delivery is at least once: each notification carries a stable `id`
 * (sent as `Idempotency-Key` by the webhook) so that a receiver can drop the rare repeat that
 * a crash between sending and recording the send can cause.
 */
import type { JsonObject } from '../streams/event-store.js';

export type Notification = Readonly<{
  id: string;
  kind: string;
  /** Who it is for, for example a customer id. */
  recipient: string;
  data: JsonObject;
}>;

export interface Notifier {
  /** Resolves once the notification was accepted; rejects to have it retried. */
  send(notification: Notification): Promise<void>;
  close(): Promise<void>;
}
