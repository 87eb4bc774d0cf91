/**
 * The notification outbox, one stream per order (`notification-<orderId>`): a workflow records
 * that a notification is due, and the sender records that it went out, so that a redelivered
 * trigger neither requests nor sends it twice.
 */
import type { Command, Decider, DomainEvent } from '../decider.js';
import type { JsonObject } from '../../streams/event-store.js';

export type NotificationRequested = DomainEvent<
  'NotificationRequested',
  Readonly<{ notificationId: string; kind: string; recipient: string; data: JsonObject }>
>;
export type NotificationSent = DomainEvent<
  'NotificationSent',
  Readonly<{ notificationId: string }>
>;
export type NotificationEvent = NotificationRequested | NotificationSent;

export type RequestNotification = Command<'RequestNotification', NotificationRequested['data']>;
export type MarkNotificationSent = Command<
  'MarkNotificationSent',
  Readonly<{ notificationId: string }>
>;
export type NotificationCommand = RequestNotification | MarkNotificationSent;

export type NotificationState = Readonly<{
  requested: readonly string[];
  sent: readonly string[];
}>;

export function notificationStreamId(subject: string): string {
  return `notification-${subject}`;
}

export const notificationDecider: Decider<
  NotificationCommand,
  NotificationEvent,
  NotificationState
> = {
  initialState: () => ({ requested: [], sent: [] }),
  decide(command, state) {
    const { notificationId } = command.data;
    if (command.type === 'RequestNotification') {
      return state.requested.includes(notificationId)
        ? []
        : [{ type: 'NotificationRequested', data: command.data }];
    }
    return state.sent.includes(notificationId)
      ? []
      : [{ type: 'NotificationSent', data: { notificationId } }];
  },
  evolve(state, event) {
    const { notificationId } = event.data;
    return event.type === 'NotificationRequested'
      ? { ...state, requested: [...state.requested, notificationId] }
      : { ...state, sent: [...state.sent, notificationId] };
  },
};
