/**
 * A catch-up subscription to `$all` that survives connection loss. The server filters out
 * system events (`excludeSystemEvents`) and sends checkpoints across long filtered stretches.
 * On a transient failure the adapter subscribes again, after a back-off, strictly after the
 * last position it handed to the consumer (or a later checkpoint that covers everything read),
 * and drops anything at or before it, so no event is lost or repeated across reconnects.
 *
 * Back-pressure: the client's subscription is a Node stream piped from the gRPC call, buffering
 * at most `batchSize` events; the consumer pulls through its async iterator, so a slow
 * consumer pauses the call and, through HTTP/2 flow control, the server.
 */
import {
  excludeSystemEvents,
  START,
  type AllStreamSubscription,
  type EventStoreDBClient,
} from '@eventstore/db-client';
import { ClosedError, ValidationError } from '../../errors.js';
import type { RecordedEvent, SubscribeOptions } from '../event-store.js';
import { isAfter } from '../position.js';
import { decodePosition, encodePosition, type LogPosition } from './position.js';
import { isSystemEvent, isTransient, toRecordedEvent, translateError } from './records.js';

export type FollowSettings = Readonly<{
  client: EventStoreDBClient;
  /** Aborted when the store closes. */
  closed: AbortSignal;
  retryInitialMs: number;
  retryMaxMs: number;
  /** Called on every transient failure before the next attempt, for logs and tests. */
  onReconnect?: (error: unknown) => void;
}>;

const DEFAULT_BATCH_SIZE = 500;
/** Server-side checkpoint every this many filter windows. */
const CHECKPOINT_INTERVAL = 1;

export async function* followAll(
  settings: FollowSettings,
  options: SubscribeOptions,
): AsyncGenerator<RecordedEvent> {
  if (settings.closed.aborted) throw new ClosedError('EventStoreDB event store');
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(batchSize) || batchSize <= 0) {
    throw new ValidationError('batchSize must be a positive integer', { batchSize });
  }
  const signal = anySignal(settings.closed, options.signal);
  let resumeAfter = decodePosition(options.after);
  let failures = 0;
  while (!signal.aborted) {
    const state = { resumeAfter, delivered: false };
    const subscription = open(settings.client, state, batchSize);
    const stop = () => void subscription.unsubscribe().finally(() => subscription.destroy());
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const resolved of subscription) {
        if (signal.aborted) return;
        const event = toRecordedEvent(resolved.event);
        if (event === undefined || isSystemEvent(event)) continue;
        const last =
          state.resumeAfter === undefined ? undefined : encodePosition(state.resumeAfter);
        if (!isAfter(event.position, last)) continue;
        state.resumeAfter = decodePosition(event.position);
        failures = 0;
        yield event;
      }
    } catch (error) {
      if (signal.aborted) return;
      if (!isTransient(error)) throw translateError(error, 'subscription');
      settings.onReconnect?.(error);
    } finally {
      signal.removeEventListener('abort', stop);
      stop();
    }
    resumeAfter = state.resumeAfter;
    await sleep(backoff(failures++, settings), signal);
  }
}

type FollowState = { resumeAfter: LogPosition | undefined };

function open(
  client: EventStoreDBClient,
  state: FollowState,
  batchSize: number,
): AllStreamSubscription {
  const subscription: AllStreamSubscription = client.subscribeToAll(
    {
      fromPosition: state.resumeAfter ?? START,
      filter: excludeSystemEvents({
        checkpointInterval: CHECKPOINT_INTERVAL,
        // A checkpoint covers every event the server sent before it; it may move the resume
        // point only once the consumer has taken all of those, i.e. nothing is buffered.
        checkpointReached: (_, position) => {
          const covered = subscription.readableLength === 0;
          if (covered && isLater(position, state.resumeAfter)) state.resumeAfter = position;
          return Promise.resolve();
        },
      }),
    },
    { highWaterMark: batchSize },
  );
  return subscription;
}

function isLater(position: LogPosition, than: LogPosition | undefined): boolean {
  return than === undefined || isAfter(encodePosition(position), encodePosition(than));
}

function backoff(failures: number, settings: FollowSettings): number {
  const delay = Math.min(settings.retryMaxMs, settings.retryInitialMs * 2 ** failures);
  return delay / 2 + Math.random() * (delay / 2);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function anySignal(closed: AbortSignal, signal: AbortSignal | undefined): AbortSignal {
  return signal === undefined ? closed : AbortSignal.any([closed, signal]);
}
