/**
 * Sends what the outbox holds: on `NotificationRequested`, unless the stream already records
 * the send, hand it to the notifier and record `NotificationSent`. A failing notifier makes the
 * step fail, so the runner retries it and, past its attempts, dead-letters it.
 */
import type { RecordedEvent } from '../../streams/event-store.js';
import {
  notificationDecider,
  type NotificationRequested,
} from '../notification/notification.decider.js';
import type { Notifier } from '../notifier.js';
import type { Workflow } from '../workflow.js';

export function notificationWorkflow(notifier: Notifier): Workflow {
  return {
    name: 'notification',
    version: 1,
    handles: ['NotificationRequested'],
    async handle(event: RecordedEvent, context) {
      const { notificationId, kind, recipient, data } = event.data as NotificationRequested['data'];
      const outbox = await context.commands.load(notificationDecider, event.streamId);
      if (outbox.state.sent.includes(notificationId)) return;
      await notifier.send({ id: notificationId, kind, recipient, data });
      await context.execute(
        notificationDecider,
        event.streamId,
        { type: 'MarkNotificationSent', data: { notificationId } },
        'sent',
      );
    },
  };
}
