/**
 * The JetStream objects behind the bus: one stream with a subject per partition, and one durable
 * pull consumer per (consumer name, partition). Names and configurations live here so that the
 * publisher, the consumers and the tests agree on them.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  NatsError,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  nanos,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamConfig,
} from 'nats';

export type StreamSettings = Readonly<{
  stream: string;
  subjectPrefix: string;
  maxAgeMs: number;
  maxBytes: number;
  duplicateWindowMs: number;
  replicas: number;
}>;

export type ConsumerSettings = Readonly<{ maxAckPending: number; ackWaitMs: number }>;

export function partitionSubject(prefix: string, partition: number): string {
  return `${prefix}.p.${partition}`;
}

/** The partition a message arrived on, from the last token of its subject. */
export function partitionOfSubject(subject: string): number {
  return Number(subject.slice(subject.lastIndexOf('.') + 1));
}

/**
 * Durable names may not contain `.`, `*`, `>`, whitespace or (by convention, for file storage)
 * `:`; `projector:order-view:v1` becomes `projector_order-view_v1-p0`. Names that differ only in
 * forbidden characters would collide, so a short hash of the original keeps them apart.
 */
export function durableName(consumer: string, partition: number): string {
  const safe = consumer.replace(/[^A-Za-z0-9_-]/g, '_');
  const suffix = safe === consumer ? '' : `-${shortHash(consumer)}`;
  return `${safe}${suffix}-p${partition}`;
}

function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(36);
}

function streamConfig(settings: StreamSettings): Partial<StreamConfig> & { name: string } {
  return {
    name: settings.stream,
    subjects: [`${settings.subjectPrefix}.p.*`],
    // Limits, not interest or work-queue: every projection reads every message, and a consumer
    // created later still finds what is retained.
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(settings.maxAgeMs),
    max_bytes: settings.maxBytes,
    duplicate_window: nanos(settings.duplicateWindowMs),
    num_replicas: settings.replicas,
  };
}

/** Creates the stream, or brings an existing one's limits in line with the settings. */
export async function ensureStream(jsm: JetStreamManager, settings: StreamSettings): Promise<void> {
  const config = streamConfig(settings);
  try {
    await jsm.streams.info(settings.stream);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    try {
      await jsm.streams.add(config);
      return;
    } catch (addError) {
      // Another process created it in between; fall through to the update.
      if (!isAlreadyInUse(addError)) throw addError;
    }
  }
  await jsm.streams.update(settings.stream, config);
}

function consumerConfig(
  settings: StreamSettings & ConsumerSettings,
  durable: string,
  partition: number,
  startSequence?: number,
): Partial<ConsumerConfig> {
  return {
    durable_name: durable,
    filter_subject: partitionSubject(settings.subjectPrefix, partition),
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(settings.ackWaitMs),
    max_ack_pending: settings.maxAckPending,
    max_deliver: -1,
    replay_policy: ReplayPolicy.Instant,
    ...(startSequence === undefined
      ? { deliver_policy: DeliverPolicy.All }
      : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSequence }),
  };
}

/**
 * Opens the durable consumer for a new session. Messages a previous session was handed but
 * never acknowledged (a crashed process, a pull abandoned on shutdown, a connection lost with
 * messages on the wire) would otherwise come back only after `ack_wait`, behind newer ones, and
 * a projector's position guard would then skip them for good. So when any are outstanding, the
 * consumer is recreated to start right after its ack floor: they come again at once, in order.
 */
export async function openConsumer(
  jsm: JetStreamManager,
  settings: StreamSettings & ConsumerSettings,
  durable: string,
  partition: number,
): Promise<void> {
  let info: ConsumerInfo | undefined;
  try {
    info = await jsm.consumers.info(settings.stream, durable);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  if (info === undefined) {
    await addConsumer(jsm, settings, consumerConfig(settings, durable, partition));
    return;
  }
  if (info.num_ack_pending === 0) return;
  await jsm.consumers.delete(settings.stream, durable);
  const start = info.ack_floor.stream_seq + 1;
  await addConsumer(jsm, settings, consumerConfig(settings, durable, partition, start));
}

async function addConsumer(
  jsm: JetStreamManager,
  settings: StreamSettings,
  config: Partial<ConsumerConfig>,
): Promise<void> {
  try {
    await jsm.consumers.add(settings.stream, config);
  } catch (error) {
    // Created meanwhile by another session of the same consumer: use that one.
    if (!isAlreadyInUse(error)) throw error;
  }
}

function apiCode(error: unknown): number | undefined {
  return error instanceof NatsError ? error.jsError()?.code : undefined;
}

export function isNotFound(error: unknown): boolean {
  return apiCode(error) === 404 || /not found/i.test(String(error));
}

function isAlreadyInUse(error: unknown): boolean {
  return /already in use|already exists/i.test(String(error));
}
