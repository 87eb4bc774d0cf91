/**
 * After a projector's bulk write, the documents it changed are dropped from the cache at their
 * new positions, so a reader that loaded an older version cannot put it back.
 */
import type { Cache } from './cache.js';
import { cacheKey } from './document-reader.js';
import type { Position } from '../streams/event-store.js';

export type ChangedDocuments = Readonly<{
  collection: string;
  /** The batch's position; deletes are invalidated there (the document is gone either way). */
  position: Position;
  documents: ReadonlyMap<string, { readonly position: Position } | null>;
}>;

export async function invalidateChanged(cache: Cache, change: ChangedDocuments): Promise<void> {
  const byPosition = new Map<Position, string[]>();
  for (const [id, doc] of change.documents) {
    const position = doc === null ? change.position : doc.position;
    const keys = byPosition.get(position) ?? [];
    keys.push(cacheKey(change.collection, id));
    byPosition.set(position, keys);
  }
  await Promise.all([...byPosition].map(([position, keys]) => cache.invalidate(keys, position)));
}
