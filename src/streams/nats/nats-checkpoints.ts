/**
 * Relay checkpoints in a NATS KV bucket, so a standby relay on another machine resumes where the
 * active one stopped. A checkpoint only moves forward: a relay that lost its lease and saves late
 * must not drag the new holder's checkpoint back.
 */
import { StorageType, type KV, type NatsConnection } from 'nats';
import type { Position } from '../event-store.js';
import type { RelayCheckpoints } from '../relay.js';
import { isAfter } from '../position.js';
import { closeNatsConnection, openNatsConnection, unavailable } from './connection.js';

export type NatsCheckpointsOptions = Readonly<{
  url: string;
  /** @default 'streamfold-checkpoints' */
  bucket?: string;
}>;

export type NatsCheckpoints = RelayCheckpoints & Readonly<{ close(): Promise<void> }>;

/** KV keys allow `[-/_=.a-zA-Z0-9]`; checkpoint ids like `relay` or `a:b` are mapped onto that. */
export function kvKey(id: string): string {
  return id.replace(/[^-/_=.a-zA-Z0-9]/g, '_');
}

export async function createNatsCheckpoints(
  options: NatsCheckpointsOptions,
): Promise<NatsCheckpoints> {
  const nc = await openNatsConnection({ url: options.url, name: 'streamfold-checkpoints' });
  let kv: KV;
  try {
    kv = await nc.jetstream().views.kv(options.bucket ?? 'streamfold-checkpoints', {
      history: 1,
      storage: StorageType.File,
    });
  } catch (cause) {
    await closeNatsConnection(nc);
    throw unavailable('Could not open the NATS KV bucket for checkpoints', cause);
  }
  return checkpointsIn(nc, kv);
}

function checkpointsIn(nc: NatsConnection, kv: KV): NatsCheckpoints {
  return {
    async get(id) {
      try {
        const entry = await kv.get(kvKey(id));
        return entry === null || entry.operation !== 'PUT' ? undefined : entry.string();
      } catch (cause) {
        throw unavailable(`Could not read checkpoint ${id}`, cause);
      }
    },
    async put(id, position: Position) {
      const key = kvKey(id);
      try {
        const entry = await kv.get(key);
        if (entry !== null && entry.operation === 'PUT' && !isAfter(position, entry.string())) {
          return;
        }
        if (entry === null) await kv.create(key, position);
        else await kv.update(key, position, entry.revision);
      } catch (cause) {
        // A concurrent writer won; the next periodic save retries against its value.
        throw unavailable(`Could not store checkpoint ${id}`, cause);
      }
    },
    close: () => closeNatsConnection(nc),
  };
}
