/**
 * Turns what a projector committed into the change notices the live feed carries.
 */
import type { StoredDocument } from '../../projections/read-store.js';
import type { Position } from '../../streams/event-store.js';
import type { DocumentChange } from '../change-feed.js';

export type CommittedDocuments = Readonly<{
  collection: string;
  /** The batch's position; a deleted document is reported there. */
  position: Position;
  documents: ReadonlyMap<string, StoredDocument | null>;
}>;

export function documentChanges(committed: CommittedDocuments): DocumentChange[] {
  return [...committed.documents].map(([id, doc]) => ({
    collection: committed.collection,
    id,
    position: doc === null ? committed.position : doc.position,
    body: doc === null ? null : JSON.stringify(doc.value),
  }));
}
