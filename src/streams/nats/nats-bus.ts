/**
 * The EventBus on NATS JetStream: one file-backed stream with a subject per partition, a durable
 * pull consumer per (consumer, partition). Events are published with `Nats-Msg-Id` = event id,
 * so a relay that republishes after a crash adds nothing; the duplicate window must cover the
 * longest republish, hence at least two minutes.
 *
 * Retention is a limit, not an archive: the log is the source of truth and replay reads the log.
 * A projector that falls further behind than the retention has to be rebuilt from the log.
 * A fresh durable consumer starts at the beginning of what is retained (deliver all): the
 * projector's checkpoint lives in its read store, next to its documents, and its position guard
 * skips what it already applied, so no start position has to be agreed with the bus.
 */
import {
  Events,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type PubAck,
  type Status,
} from 'nats';
import { ClosedError, ConfigError } from '../../errors.js';
import type { ConsumeOptions, Delivery, EventBus } from '../event-bus.js';
import type { Position, RecordedEvent } from '../event-store.js';
import { partitionOf } from '../partition.js';
import { closeNatsConnection, openNatsConnection, unavailable } from './connection.js';
import { ensureStream, partitionSubject } from './jetstream-setup.js';
import { encodeEvent, encodeWatermark, type WireMessage } from './message-codec.js';
import { pullDeliveries, type PullContext, type PullSettings } from './pull-consumer.js';

export type NatsBusOptions = Readonly<{
  /** `nats://host:4222` (comma-separate several servers of a cluster). */
  url: string;
  /** JetStream stream name. @default 'streamfold' */
  stream?: string;
  /** Partition `n` is the subject `<subjectPrefix>.p.<n>`. @default the stream name */
  subjectPrefix?: string;
  /** Fixed for a deployment; every process must agree. @default 4 */
  partitions?: number;
  /** Messages older than this are dropped. @default 7 days */
  maxAgeMs?: number;
  /** The stream's size cap in bytes, oldest dropped first; -1 for none. @default -1 */
  maxBytes?: number;
  /** JetStream deduplication window; at least 120 000. @default 120_000 */
  duplicateWindowMs?: number;
  /** Stream replicas (1 on a single server, 3 on a cluster). @default 1 */
  replicas?: number;
  /** Most messages a consumer may hold unacknowledged. @default 1000 */
  maxAckPending?: number;
  /** How long the server waits for an acknowledgement before redelivering. @default 30_000 */
  ackWaitMs?: number;
  /** Most publishes awaiting their acknowledgement at once. @default 256 */
  maxPublishInFlight?: number;
  /** Longest wait for one publish acknowledgement. @default 5_000 */
  publishTimeoutMs?: number;
  /** How long an idle consumer's pull waits on the server before it is renewed. @default 5_000 */
  pullExpiresMs?: number;
  /** Connection name shown by the server. @default 'streamfold' */
  connectionName?: string;
  /** Told about consumer failures the bus retries itself (lost connection, server restart). */
  onError?: (error: unknown, context: Readonly<{ partition: number }>) => void;
}>;

export type NatsBus = EventBus & Readonly<{ stream: string; subjectPrefix: string }>;

type Outgoing = Readonly<{ subject: string; wire: WireMessage }>;

class NatsJetStreamBus implements NatsBus {
  readonly durable = true;
  readonly #closing = new AbortController();
  #epoch = 0;
  #queue: Promise<void> = Promise.resolve();
  readonly #statuses: AsyncIterable<Status> & { stop?: () => void };
  readonly #watching: Promise<void>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly settings: Settings,
    private readonly onError: NatsBusOptions['onError'],
  ) {
    this.#statuses = nc.status();
    this.#watching = this.#watchConnection();
  }

  get partitions(): number {
    return this.settings.partitions;
  }

  get stream(): string {
    return this.settings.stream;
  }

  get subjectPrefix(): string {
    return this.settings.subjectPrefix;
  }

  publish(events: readonly RecordedEvent[]): Promise<void> {
    const outgoing = events.map((event) => ({
      subject: partitionSubject(this.subjectPrefix, partitionOf(event.streamId, this.partitions)),
      wire: encodeEvent(event),
    }));
    return this.#enqueue(outgoing);
  }

  publishWatermark(position: Position): Promise<void> {
    const outgoing = Array.from({ length: this.partitions }, (_, partition) => ({
      subject: partitionSubject(this.subjectPrefix, partition),
      wire: encodeWatermark(position, partition),
    }));
    return this.#enqueue(outgoing);
  }

  consume(options: ConsumeOptions): AsyncIterable<Delivery> {
    const { partition, maxBatch = 256 } = options;
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new ConfigError(`Partition ${partition} is outside 0..${this.partitions - 1}`, {
        partition,
      });
    }
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new ConfigError('maxBatch must be a positive integer', { maxBatch });
    }
    const ctx: PullContext = {
      nc: this.nc,
      jsm: this.jsm,
      settings: this.settings,
      connectionEpoch: () => this.#epoch,
      closing: this.#closing.signal,
      onError: (error, failed) => this.onError?.(error, { partition: failed }),
    };
    return pullDeliveries(ctx, options.consumer, partition, maxBatch, options.signal);
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    await this.#queue;
    await closeNatsConnection(this.nc);
    // The status iterable does not end when the connection closes; it has to be stopped.
    this.#statuses.stop?.();
    await this.#watching;
  }

  /** Calls run one after another, so a failed call is never overtaken by a later one. */
  #enqueue(outgoing: readonly Outgoing[]): Promise<void> {
    if (this.#closing.signal.aborted) return Promise.reject(new ClosedError('NATS bus'));
    const run = this.#queue.then(() => this.#publishInOrder(outgoing));
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Pipelined, yet in order even when a publish fails while later ones are on the wire (a lost
   * connection, for example, after which the client flushes what it buffered): each pipelined
   * message expects the previous one to be the stream's last (`Nats-Expected-Last-Msg-Id`), so
   * nothing lands behind a gap. The chain starts after a message stored fresh and awaited:
   * messages that come back as duplicates (a republish after a crash) go one by one, since a
   * duplicate is somewhere in the stream but not necessarily last.
   */
  async #publishInOrder(outgoing: readonly Outgoing[]): Promise<void> {
    let next = 0;
    let previous: string | undefined;
    while (next < outgoing.length && previous === undefined) {
      const item = outgoing[next++] as Outgoing;
      const ack = await this.#send(item, undefined);
      if (!ack.duplicate) previous = item.wire.msgId;
    }
    const inFlight: Promise<unknown>[] = [];
    let failure: { error: unknown } | undefined;
    for (; next < outgoing.length && failure === undefined; next++) {
      const item = outgoing[next] as Outgoing;
      if (inFlight.length >= this.settings.maxPublishInFlight) await inFlight.shift();
      const sent = this.#send(item, previous).catch((error: unknown) => {
        failure ??= { error };
      });
      inFlight.push(sent);
      previous = item.wire.msgId;
    }
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure.error;
  }

  async #send(item: Outgoing, expectedLast: string | undefined): Promise<PubAck> {
    try {
      return await this.js.publish(item.subject, item.wire.data, {
        msgID: item.wire.msgId,
        headers: item.wire.headers,
        timeout: this.settings.publishTimeoutMs,
        expect: {
          streamName: this.stream,
          ...(expectedLast === undefined ? {} : { lastMsgID: expectedLast }),
        },
      });
    } catch (cause) {
      throw unavailable(`Publishing to JetStream stream ${this.stream} failed`, cause);
    }
  }

  /** Any disconnect may have lost messages on the wire; consumers start a new session. */
  async #watchConnection(): Promise<void> {
    for await (const status of this.#statuses) {
      if (status.type === Events.Disconnect || status.type === Events.Reconnect) this.#epoch++;
    }
  }
}

type Settings = PullSettings &
  Readonly<{ partitions: number; maxPublishInFlight: number; publishTimeoutMs: number }>;

function settingsOf(options: NatsBusOptions): Settings {
  const stream = options.stream ?? 'streamfold';
  const settings: Settings = Object.freeze({
    stream,
    subjectPrefix: options.subjectPrefix ?? stream,
    partitions: options.partitions ?? 4,
    maxAgeMs: options.maxAgeMs ?? 7 * 24 * 3_600_000,
    maxBytes: options.maxBytes ?? -1,
    duplicateWindowMs: options.duplicateWindowMs ?? 120_000,
    replicas: options.replicas ?? 1,
    maxAckPending: options.maxAckPending ?? 1000,
    ackWaitMs: options.ackWaitMs ?? 30_000,
    maxPublishInFlight: options.maxPublishInFlight ?? 256,
    publishTimeoutMs: options.publishTimeoutMs ?? 5_000,
    pullExpiresMs: options.pullExpiresMs ?? 5_000,
    ackTimeoutMs: options.publishTimeoutMs ?? 5_000,
  });
  validate(settings);
  return settings;
}

function validate(settings: Settings): void {
  if (!/^[A-Za-z0-9_-]+$/.test(settings.stream)) {
    throw new ConfigError(`NATS stream name "${settings.stream}" may hold only A-Z a-z 0-9 _ -`);
  }
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(settings.subjectPrefix)) {
    throw new ConfigError(`NATS subject prefix "${settings.subjectPrefix}" is not a subject`);
  }
  const { stream: _s, subjectPrefix: _p, maxBytes, ...positive } = settings;
  for (const [name, value] of Object.entries(positive)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new ConfigError(`NATS bus option ${name} must be a positive integer`, {
        [name]: value,
      });
    }
  }
  if (!Number.isInteger(maxBytes) || (maxBytes < 1 && maxBytes !== -1)) {
    throw new ConfigError('NATS bus option maxBytes must be positive or -1', { maxBytes });
  }
  if (settings.duplicateWindowMs < 120_000 || settings.duplicateWindowMs > settings.maxAgeMs) {
    throw new ConfigError('duplicateWindowMs must be at least 120000 and at most maxAgeMs', {
      duplicateWindowMs: settings.duplicateWindowMs,
    });
  }
}

/** Connects, creates or updates the stream, and returns the bus. */
export async function createNatsBus(options: NatsBusOptions): Promise<NatsBus> {
  const settings = settingsOf(options);
  const nc = await openNatsConnection({
    url: options.url,
    name: options.connectionName ?? 'streamfold',
  });
  try {
    const jsm = await nc.jetstreamManager();
    await ensureStream(jsm, settings);
    const js = nc.jetstream({ timeout: settings.publishTimeoutMs });
    return new NatsJetStreamBus(nc, js, jsm, settings, options.onError);
  } catch (cause) {
    await closeNatsConnection(nc);
    throw unavailable(`Could not set up JetStream stream ${settings.stream}`, cause);
  }
}
