/**
 * The distributed ChangeFeed over NATS core subjects: a projector in any process publishes each
 * changed document on `<prefix>.<collection>.<id>`, and an API process subscribes to a
 * document's subject only while someone in it watches that document, so NATS routes each
 * change only to the processes that need it. Core NATS is at-most-once, which a feed can
 * afford: each change carries the whole document, and a watcher reads the current version
 * whenever it (re)connects.
 */
import { connect, type NatsConnection, type Subscription } from 'nats';
import { ClosedError, ErrorCodes, StreamfoldError } from '../../errors.js';
import type { ChangeFeed, DocumentChange } from '../change-feed.js';
import { createWatcherHub, topicOf } from '../live/watchers.js';

export type NatsChangeFeedOptions = Readonly<{
  /** `nats://host:4222`; several servers may be given comma-separated. */
  url: string;
  /** First subject tokens; use one per deployment sharing a NATS. @default 'streamfold.live' */
  subjectPrefix?: string;
  /** Changes queued per watcher before it only gets the newest. @default 16 */
  maxQueued?: number;
  /** Told about undecodable messages and subscription errors. @default none */
  onError?: (error: Error) => void;
}>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A subject token may not hold '.', '*', '>' or whitespace; percent-encoding removes them all. */
function token(value: string): string {
  return encodeURIComponent(value).replace(
    /[.*!~'()]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export async function createNatsChangeFeed(options: NatsChangeFeedOptions): Promise<ChangeFeed> {
  const prefix = options.subjectPrefix ?? 'streamfold.live';
  const subjectOf = (collection: string, id: string) =>
    `${prefix}.${token(collection)}.${token(id)}`;
  let nc: NatsConnection;
  try {
    const servers = options.url.split(',').map((server) => server.trim());
    nc = await connect({ servers, name: 'streamfold-change-feed', maxReconnectAttempts: -1 });
  } catch (cause) {
    throw new StreamfoldError(ErrorCodes.OVERLOADED, `NATS unreachable at ${options.url}`, {
      cause,
    });
  }
  /** Per followed document: its NATS subscription, and when the server has registered it. */
  const subscriptions = new Map<string, { subscription: Subscription; ready: Promise<void> }>();
  const hub = createWatcherHub({
    ...(options.maxQueued === undefined ? {} : { maxQueued: options.maxQueued }),
    onFirst: (topic) => {
      const subscription = follow(topic);
      // A round trip to the server: once it returns, the server routes the subject to us.
      const ready = nc.flush().catch((error: unknown) => options.onError?.(error as Error));
      subscriptions.set(topic, { subscription, ready });
    },
    onLast: (topic) => {
      subscriptions.get(topic)?.subscription.unsubscribe();
      subscriptions.delete(topic);
    },
  });
  let closed = false;

  function follow(topic: string): Subscription {
    const [collection = '', id = ''] = topic.split('\u0000');
    return nc.subscribe(subjectOf(collection, id), {
      callback: (error, message) => {
        if (error !== null) return options.onError?.(error);
        try {
          hub.deliver(JSON.parse(decoder.decode(message.data)) as DocumentChange);
        } catch (decodeError) {
          options.onError?.(decodeError as Error);
        }
      },
    });
  }

  return {
    publish(changes) {
      if (closed) return Promise.reject(new ClosedError('NATS change feed'));
      try {
        for (const change of changes) {
          nc.publish(
            subjectOf(change.collection, change.id),
            encoder.encode(JSON.stringify(change)),
          );
        }
        return Promise.resolve();
      } catch (cause) {
        return Promise.reject(
          new StreamfoldError(ErrorCodes.OVERLOADED, 'Publishing changes to NATS failed', {
            cause,
          }),
        );
      }
    },
    subscribe(collection, id, { signal }) {
      if (closed) throw new ClosedError('NATS change feed');
      const topic = topicOf(collection, id);
      const changes = hub.watch(topic, signal);
      const ready = subscriptions.get(topic)?.ready ?? Promise.resolve();
      return Object.assign(changes, { ready });
    },
    async close() {
      if (closed) return;
      closed = true;
      hub.close();
      await nc.drain().catch(() => nc.close());
    },
  };
}
