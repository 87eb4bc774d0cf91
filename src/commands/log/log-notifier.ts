import type { Notification, Notifier } from '../notifier.js';

type InfoLogger = Readonly<{ info(fields: Record<string, unknown>, message: string): void }>;

/** The default notifier: one log line per notification. */
export function createLogNotifier(logger: InfoLogger): Notifier {
  return {
    async send(notification: Notification) {
      logger.info({ notification }, `notify ${notification.recipient}: ${notification.kind}`);
    },
    async close() {},
  };
}
