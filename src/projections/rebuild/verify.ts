/**
 * Verify: folds the whole log from scratch in memory, with the same fold the projector and
 * the rebuild use, and compares it with the projection's active collection document by
 * document, by content hash. Meant for a quiet system (or one whose read model has caught up
 * with the head read at the start): documents changed after that head show up as differences.
 */
import { createHash } from 'node:crypto';
import type { EventStore, JsonObject, JsonValue } from '../../streams/event-store.js';
import { partitionOf } from '../../streams/partition.js';
import { foldDocuments, foldTargets } from '../fold.js';
import type { Projection } from '../projection.js';
import type { ReadStore, StoredDocument } from '../read-store.js';

export type VerifyResult = Readonly<{
  collection: string;
  expectedHash: string;
  actualHash: string;
  documents: number;
  /** Ids whose document differs, is missing from the read model, or should not be there. */
  different: readonly string[];
  missing: readonly string[];
  unexpected: readonly string[];
}>;

export type VerifyOptions = Readonly<{
  events: EventStore;
  store: ReadStore;
  projection: Projection<JsonObject>;
  collection: string;
  partitions: number;
  /** @default 5000 */
  pageSize?: number;
}>;

export async function verifyProjection(options: VerifyOptions): Promise<VerifyResult> {
  const expected = await foldLog(options);
  const actual = await readCollection(options.store, options.collection);
  const different: string[] = [];
  const missing: string[] = [];
  for (const [id, hash] of expected) {
    const found = actual.get(id);
    if (found === undefined) missing.push(id);
    else if (found !== hash) different.push(id);
  }
  const unexpected = [...actual.keys()].filter((id) => !expected.has(id));
  return {
    collection: options.collection,
    expectedHash: collectionHash(expected),
    actualHash: collectionHash(actual),
    documents: expected.size,
    different,
    missing,
    unexpected,
  };
}

/** Document id → content hash of the projection folded over the log up to its head. */
async function foldLog(options: VerifyOptions): Promise<Map<string, string>> {
  const { events, projection, partitions } = options;
  const pageSize = options.pageSize ?? 5000;
  const head = await events.headPosition();
  const docs = new Map<string, StoredDocument>();
  let after: string | undefined;
  while (head !== undefined && (after === undefined || after < head)) {
    const page = await events.readAll({
      maxCount: pageSize,
      ...(after === undefined ? {} : { after }),
    });
    const last = page.at(-1);
    if (last === undefined) break;
    const upToHead = page.filter((event) => event.position <= head);
    const targets = foldTargets(projection, upToHead, (e) => partitionOf(e.streamId, partitions));
    for (const [id, change] of foldDocuments(projection, targets, docs)) {
      if (change.value === null) docs.delete(id);
      else docs.set(id, { id, position: change.position, value: change.value });
    }
    after = last.position;
  }
  return new Map([...docs].map(([id, doc]) => [id, contentHash(doc.value)]));
}

async function readCollection(store: ReadStore, collection: string): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  let cursor: string | undefined;
  do {
    const page = await store.find(collection, {
      limit: 1000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const doc of page.items) hashes.set(doc.id, contentHash(doc.value));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return hashes;
}

function collectionHash(hashes: ReadonlyMap<string, string>): string {
  const hash = createHash('sha256');
  for (const id of [...hashes.keys()].sort()) hash.update(`${id}\0${hashes.get(id)}\n`);
  return hash.digest('hex');
}

function contentHash(value: JsonValue): string {
  return createHash('sha256').update(canonical(value)).digest('hex');
}

/** JSON with object keys sorted, so that stores that reorder keys still compare equal. */
function canonical(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const object = value as { readonly [key: string]: JsonValue };
  const keys = Object.keys(object).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(object[key] ?? null)}`).join(',')}}`;
}
