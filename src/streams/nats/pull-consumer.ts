/**
 * One durable pull consumer read as deliveries. JetStream redelivers an unacknowledged message
 * only after `ack_wait`, and a NAK'd message may come back behind newer ones; either would break
 * per-stream order. So a delivery the caller moves past without acknowledging makes the consumer
 * rewind to its ack floor (see `openConsumer`), and so does a new session after a crash or a
 * lost connection: unacknowledged messages come again at once, in order.
 *
 * Pulls are plain requests on `$JS.API.CONSUMER.MSG.NEXT`: first a `no_wait` pull for what is
 * there (up to `maxBatch`); when nothing is, a pull for one message that waits on the server
 * and ends with the server's own 408, never with a client-side timer that could race a message
 * on the wire; then a `no_wait` pull for the rest of the batch.
 */
import { createInbox, type JetStreamManager, type Msg, type NatsConnection } from 'nats';
import { backoffDelay, sleep } from '../../async.js';
import type { BusMessage, Delivery } from '../event-bus.js';
import {
  durableName,
  openConsumer,
  type ConsumerSettings,
  type StreamSettings,
} from './jetstream-setup.js';
import { unavailable } from './connection.js';
import { decodeMessage } from './message-codec.js';

export type PullSettings = StreamSettings &
  ConsumerSettings &
  Readonly<{
    /** How long one waiting pull stays open on the server. */
    pullExpiresMs: number;
    /** Longest wait for the server to confirm acknowledgements. */
    ackTimeoutMs: number;
  }>;

export type PullContext = Readonly<{
  nc: NatsConnection;
  jsm: JetStreamManager;
  settings: PullSettings;
  /** Bumped by the bus on every disconnect: messages may have been lost on the wire. */
  connectionEpoch: () => number;
  closing: AbortSignal;
  onError: (error: unknown, partition: number) => void;
}>;

const encoder = new TextEncoder();
const ACK = encoder.encode('+ACK');
/** Beyond the server's own expiry: only a lost connection leaves a pull unanswered this long. */
const PULL_GRACE_MS = 5_000;

type Batch = { messages: Msg[]; acked: boolean };

export async function* pullDeliveries(
  ctx: PullContext,
  consumer: string,
  partition: number,
  maxBatch: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<Delivery, void, undefined> {
  const durable = durableName(consumer, partition);
  const stopped = (): boolean => signal?.aborted === true || ctx.closing.aborted;
  const batchSize = Math.min(maxBatch, ctx.settings.maxAckPending);
  let failures = 0;
  while (!stopped()) {
    try {
      await openConsumer(ctx.jsm, ctx.settings, durable, partition);
      const epoch = ctx.connectionEpoch();
      for (;;) {
        if (ctx.connectionEpoch() !== epoch) throw new Error('NATS connection was lost');
        const messages = await nextBatch(ctx, durable, batchSize, [signal, ctx.closing]);
        if (stopped()) return;
        if (messages.length === 0) continue;
        failures = 0;
        const batch: Batch = { messages, acked: false };
        yield toDelivery(ctx, partition, batch);
        // Moved on without acknowledging: rewind so the batch comes again, first.
        if (!batch.acked) break;
      }
    } catch (error) {
      if (stopped()) return;
      failures++;
      ctx.onError(error, partition);
      await sleep(backoffDelay(failures, 100, 5_000), anySignal([signal, ctx.closing]));
    }
  }
}

function toDelivery(ctx: PullContext, partition: number, batch: Batch): Delivery {
  const messages: BusMessage[] = [];
  for (const msg of batch.messages) {
    const decoded = decodeMessage(partition, msg.headers, msg.data);
    if (decoded !== undefined) messages.push(decoded);
  }
  return {
    messages,
    ack: async () => {
      for (const msg of batch.messages) msg.respond(ACK);
      await flushWithin(ctx.nc, ctx.settings.ackTimeoutMs);
      batch.acked = true;
    },
  };
}

async function nextBatch(
  ctx: PullContext,
  durable: string,
  batchSize: number,
  signals: readonly (AbortSignal | undefined)[],
): Promise<Msg[]> {
  const ready = await pull(ctx, durable, { batch: batchSize, no_wait: true }, signals);
  if (ready.length > 0) return ready;
  const expires = ctx.settings.pullExpiresMs;
  const first = await pull(ctx, durable, { batch: 1, expires: expires * 1_000_000 }, signals);
  if (first.length === 0 || batchSize === 1) return first;
  const rest = await pull(ctx, durable, { batch: batchSize - 1, no_wait: true }, signals);
  return [...first, ...rest];
}

type PullRequest = Readonly<{ batch: number; no_wait?: true; expires?: number }>;

/** One pull request: resolves with its messages once the batch is full or the server ends it. */
function pull(
  ctx: PullContext,
  durable: string,
  request: PullRequest,
  signals: readonly (AbortSignal | undefined)[],
): Promise<Msg[]> {
  const { nc, settings } = ctx;
  const messages: Msg[] = [];
  const inbox = createInbox();
  return new Promise<Msg[]>((resolve, reject) => {
    const finish = (error?: unknown): void => {
      clearTimeout(timer);
      for (const signal of signals) signal?.removeEventListener('abort', aborted);
      sub.unsubscribe();
      if (error === undefined) resolve(messages);
      else reject(unavailable(`JetStream pull on ${durable} failed`, error));
    };
    const aborted = (): void => finish();
    const sub = nc.subscribe(inbox, {
      callback: (error, msg) => {
        if (error !== null) return finish(error);
        const code = msg.headers?.code ?? 0;
        if (code === 0) {
          messages.push(msg);
          if (messages.length >= request.batch) finish();
        } else if (code === 404 || code === 408) {
          finish();
        } else if (code !== 100) {
          finish(new Error(`pull ended with ${code} ${msg.headers?.description ?? ''}`));
        }
      },
    });
    const limitMs = (request.expires ?? 0) / 1_000_000 + PULL_GRACE_MS;
    const timer = setTimeout(() => finish(new Error(`no answer within ${limitMs} ms`)), limitMs);
    for (const signal of signals) signal?.addEventListener('abort', aborted, { once: true });
    if (signals.some((signal) => signal?.aborted === true)) return finish();
    const subject = `$JS.API.CONSUMER.MSG.NEXT.${settings.stream}.${durable}`;
    nc.publish(subject, encoder.encode(JSON.stringify(request)), { reply: inbox });
  });
}

async function flushWithin(nc: NatsConnection, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          unavailable(`NATS did not confirm acknowledgements within ${timeoutMs} ms`, undefined),
        ),
      timeoutMs,
    );
  });
  try {
    await Promise.race([nc.flush(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function anySignal(signals: readonly (AbortSignal | undefined)[]): AbortSignal {
  return AbortSignal.any(signals.filter((signal): signal is AbortSignal => signal !== undefined));
}
