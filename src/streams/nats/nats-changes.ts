/**
 * Which documents a projector changed, told to API processes over core NATS so that a cache
 * local to an API process does not serve a version older than the one just written. A lost
 * notice means a cached copy lives until its entry is evicted, as with any cache.
 */
import type { NatsConnection } from 'nats';
import type { Position } from '../event-store.js';
import type { ChangedDocuments } from '../../queries/cache-invalidation.js';
import { closeNatsConnection, openNatsConnection } from './connection.js';

export type ChangesOptions = Readonly<{
  url: string;
  /** @default 'streamfold.changes' */
  subject?: string;
}>;

type Wire = Readonly<{
  collection: string;
  position: Position;
  documents: readonly (readonly [string, Position | null])[];
}>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function publishChanges(
  options: ChangesOptions,
): Promise<Readonly<{ publish(change: ChangedDocuments): void; close(): Promise<void> }>> {
  const nc = await openNatsConnection({ url: options.url, name: 'streamfold-changes' });
  const subject = options.subject ?? 'streamfold.changes';
  return {
    publish(change) {
      const wire: Wire = {
        collection: change.collection,
        position: change.position,
        documents: [...change.documents].map(([id, doc]) => [id, doc?.position ?? null] as const),
      };
      nc.publish(subject, encoder.encode(JSON.stringify(wire)));
    },
    close: () => closeNatsConnection(nc),
  };
}

export async function subscribeChanges(
  options: ChangesOptions,
  onChange: (change: ChangedDocuments) => Promise<void>,
): Promise<Readonly<{ close(): Promise<void> }>> {
  const nc: NatsConnection = await openNatsConnection({
    url: options.url,
    name: 'streamfold-changes-reader',
  });
  nc.subscribe(options.subject ?? 'streamfold.changes', {
    callback: (error, msg) => {
      if (error !== null) return;
      let wire: Wire;
      try {
        wire = JSON.parse(decoder.decode(msg.data)) as Wire;
      } catch {
        return; // Not a notice of ours; a lost notice only delays eviction.
      }
      if (!Array.isArray((wire as { documents?: unknown } | null)?.documents)) return;
      const documents = new Map(
        wire.documents.map(
          ([id, position]) => [id, position === null ? null : { position }] as const,
        ),
      );
      // Cache failures are the cache's concern; the read path falls back to the store.
      onChange({ collection: wire.collection, position: wire.position, documents }).catch(
        () => undefined,
      );
    },
  });
  return { close: () => closeNatsConnection(nc) };
}
