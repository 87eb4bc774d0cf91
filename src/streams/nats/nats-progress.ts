/**
 * Projection progress across processes. Projectors announce each owned partition's progress
 * (events and watermarks alike) on a core NATS subject, on change and as a heartbeat; an API
 * process, whose projectors run elsewhere, tracks the minimum per projection over all
 * partitions. That serves read-your-writes (`Streamfold-Min-Position`) and lag reporting.
 *
 * Core NATS, not JetStream: progress is a gauge, the next announcement supersedes a lost one.
 */
import type { Subscription } from 'nats';
import { partitionOf } from '../partition.js';
import { sleep } from '../../async.js';
import type { ProjectionProgress } from '../../queries/consistency.js';
import type { Position } from '../event-store.js';
import { isAfter, minPosition } from '../position.js';
import { closeNatsConnection, openNatsConnection } from './connection.js';

export type PartitionProgress = Readonly<{
  projection: string;
  partition: number;
  position: Position | undefined;
}>;

export type ProgressAnnouncerOptions = Readonly<{
  url: string;
  /** @default 'streamfold.progress' */
  subject?: string;
  /** The current progress of everything this process runs. */
  read: () => readonly PartitionProgress[];
  /** How often progress is checked for changes. @default 20 */
  checkIntervalMs?: number;
  /** How often everything is announced even without change, for newly started readers. @default 1_000 */
  heartbeatMs?: number;
}>;

export type Stoppable = Readonly<{ stop(): Promise<void> }>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function startProgressAnnouncer(
  options: ProgressAnnouncerOptions,
): Promise<Stoppable> {
  const nc = await openNatsConnection({ url: options.url, name: 'streamfold-progress' });
  const subject = options.subject ?? 'streamfold.progress';
  const checkMs = options.checkIntervalMs ?? 20;
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  const stopping = new AbortController();
  const announced = new Map<string, Position>();
  let lastBeat = 0;

  const loop = (async () => {
    while (!stopping.signal.aborted) {
      const beat = performance.now() - lastBeat >= heartbeatMs;
      const changed = options.read().filter((entry) => {
        if (entry.position === undefined) return false;
        const key = `${entry.projection}/${entry.partition}`;
        if (!beat && !isAfter(entry.position, announced.get(key))) return false;
        announced.set(key, entry.position);
        return true;
      });
      if (beat) lastBeat = performance.now();
      try {
        // Publishing never blocks: while NATS is away the client buffers, then flushes.
        if (changed.length > 0) nc.publish(subject, encoder.encode(JSON.stringify(changed)));
      } catch {
        // A gauge: the next heartbeat says it again. The loop must outlive any one failure.
        lastBeat = 0;
      }
      await sleep(checkMs, stopping.signal);
    }
  })();
  return {
    async stop() {
      stopping.abort();
      await loop;
      await closeNatsConnection(nc);
    },
  };
}

export type ProgressSnapshot = Readonly<
  Record<string, Readonly<{ position: Position | undefined; partitions: Record<number, Position> }>>
>;

export type NatsProgress = ProjectionProgress &
  Readonly<{
    /** Per projection: the minimum and each partition's last announced progress. */
    snapshot(): ProgressSnapshot;
    close(): Promise<void>;
  }>;

export type NatsProgressOptions = Readonly<{
  url: string;
  /** @default 'streamfold.progress' */
  subject?: string;
  /** A projection counts as having reached a position only once every partition has. */
  partitions: number;
}>;

export async function createNatsProgress(options: NatsProgressOptions): Promise<NatsProgress> {
  const nc = await openNatsConnection({ url: options.url, name: 'streamfold-progress-reader' });
  const byProjection = new Map<string, Map<number, Position>>();
  const waiters = new Set<() => void>();
  const sub: Subscription = nc.subscribe(options.subject ?? 'streamfold.progress', {
    callback: (error, msg) => {
      if (error !== null) return;
      const entries = parseProgress(msg.data);
      for (const { projection, partition, position } of entries) {
        if (position === undefined) continue;
        const partitions = byProjection.get(projection) ?? new Map<number, Position>();
        byProjection.set(projection, partitions);
        if (isAfter(position, partitions.get(partition))) partitions.set(partition, position);
      }
      for (const waiter of [...waiters]) waiter();
    },
  });

  const position = (projection: string): Position | undefined => {
    const partitions = byProjection.get(projection);
    if (partitions === undefined || partitions.size < options.partitions) return undefined;
    let lowest: Position | undefined;
    for (const reached of partitions.values()) lowest = minPosition(lowest ?? reached, reached);
    return lowest;
  };

  return {
    position,
    waitFor(projection, target, timeoutMs, streamId) {
      const reached = (): boolean =>
        !isAfter(
          target,
          streamId === undefined
            ? position(projection)
            : byProjection.get(projection)?.get(partitionOf(streamId, options.partitions)),
        );
      if (reached()) return Promise.resolve(true);
      return new Promise((resolve) => {
        const check = (): void => {
          if (!reached()) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(true);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          resolve(false);
        }, timeoutMs);
        waiters.add(check);
      });
    },
    snapshot() {
      const result: Record<
        string,
        { position: Position | undefined; partitions: Record<number, Position> }
      > = {};
      for (const [projection, partitions] of byProjection) {
        result[projection] = {
          position: position(projection),
          partitions: Object.fromEntries(partitions),
        };
      }
      return result;
    },
    async close() {
      sub.unsubscribe();
      await closeNatsConnection(nc);
    },
  };
}

/** Anything on the subject that is not a list of progress entries is ignored, not fatal. */
function parseProgress(data: Uint8Array): PartitionProgress[] {
  try {
    const parsed: unknown = JSON.parse(decoder.decode(data));
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (entry: Partial<PartitionProgress> | null): entry is PartitionProgress =>
        typeof entry?.projection === 'string' &&
        Number.isInteger(entry.partition) &&
        (entry.position === undefined || typeof entry.position === 'string'),
    );
  } catch {
    return [];
  }
}
