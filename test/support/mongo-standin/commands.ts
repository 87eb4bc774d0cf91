/**
 * The commands the stand-in answers, by name. Anything else is CommandNotFound (59), as an
 * old mongod would answer a command it does not know.
 */
import { Long, type Document } from 'bson';
import { Aggregator, Query } from 'mingo';
import { CommandError, type IndexDef, type Storage } from './store.js';
import { insert, remove, update } from './writes.js';

/** MongoDB 7.0 speaks wire version 21; driver 7 needs at least 9 (MongoDB 4.2). */
const MAX_WIRE_VERSION = 21;
/** mongod's default size of a first batch, in documents. */
const DEFAULT_FIRST_BATCH = 101;

export type Session = Readonly<{
  storage: Storage;
  cursors: Cursors;
  connectionId: number;
  /** How long an upsert waits between its query and its insert. */
  upsertRaceWindowMs: number;
}>;

type Handler = (command: Document, db: string, session: Session) => Document | Promise<Document>;

/** Open cursors of one server: what is left of each result, by cursor id. */
export class Cursors {
  readonly #open = new Map<number, { ns: string; docs: Document[] }>();
  #nextId = 7_000;

  /** The first batch, and a cursor over the rest unless everything fit. */
  open(ns: string, docs: Document[], batchSize: number | undefined, single: boolean): Document {
    const size = batchSize === undefined || batchSize <= 0 ? DEFAULT_FIRST_BATCH : batchSize;
    const firstBatch = docs.slice(0, size);
    let id = 0;
    if (!single && docs.length > size) {
      id = this.#nextId++;
      this.#open.set(id, { ns, docs: docs.slice(size) });
    }
    return { cursor: { id: Long.fromNumber(id), ns, firstBatch }, ok: 1 };
  }

  more(id: number, batchSize: number | undefined): Document {
    const cursor = this.#open.get(id);
    if (cursor === undefined)
      throw new CommandError(43, 'CursorNotFound', `cursor id ${id} not found`);
    const size = batchSize === undefined || batchSize <= 0 ? cursor.docs.length : batchSize;
    const nextBatch = cursor.docs.splice(0, size);
    const exhausted = cursor.docs.length === 0;
    if (exhausted) this.#open.delete(id);
    return { cursor: { id: Long.fromNumber(exhausted ? 0 : id), ns: cursor.ns, nextBatch }, ok: 1 };
  }

  kill(ids: readonly number[]): Document {
    const killed = ids.filter((id) => this.#open.delete(id));
    const notFound = ids.filter((id) => !killed.includes(id));
    return {
      cursorsKilled: killed.map((id) => Long.fromNumber(id)),
      cursorsNotFound: notFound.map((id) => Long.fromNumber(id)),
      cursorsAlive: [],
      cursorsUnknown: [],
      ok: 1,
    };
  }

  clear(): void {
    this.#open.clear();
  }
}

const asNumber = (value: unknown): number | undefined =>
  typeof value === 'number' ? value : Long.isLong(value) ? value.toNumber() : undefined;

function hello(command: Document, _db: string, session: Session): Document {
  const legacy = command.hello === undefined;
  return {
    helloOk: true,
    ...(legacy ? { ismaster: true } : { isWritablePrimary: true }),
    // No topologyVersion: the driver then polls hello instead of streaming it (exhaust).
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: session.connectionId,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  };
}

function find(command: Document, db: string, { storage, cursors }: Session): Document {
  const name = String(command.find);
  const collection = storage.get(db, name);
  const filter = (command.filter ?? {}) as Document;
  let cursor = new Query(filter, {}).find<Document>(
    collection?.candidates(filter) ?? [],
    command.projection as Document | undefined,
  );
  if (command.sort !== undefined) cursor = cursor.sort(command.sort as Record<string, 1 | -1>);
  if (command.skip !== undefined) cursor = cursor.skip(Number(command.skip));
  const limit = asNumber(command.limit) ?? 0;
  if (limit !== 0) cursor = cursor.limit(Math.abs(limit));
  const single = command.singleBatch === true || limit < 0;
  return cursors.open(`${db}.${name}`, cursor.all(), asNumber(command.batchSize), single);
}

function aggregate(command: Document, db: string, { storage, cursors }: Session): Document {
  const name = String(command.aggregate);
  const docs = storage.get(db, name)?.all() ?? [];
  const result = new Aggregator((command.pipeline ?? []) as Document[], {}).run<Document>(docs);
  const batchSize = asNumber((command.cursor as Document | undefined)?.batchSize);
  return cursors.open(`${db}.${name}`, result, batchSize, false);
}

function count(command: Document, db: string, { storage }: Session): Document {
  const docs = storage.get(db, String(command.count))?.all() ?? [];
  const n = new Query((command.query ?? {}) as Document, {}).find(docs).all().length;
  return { n, ok: 1 };
}

function createIndexes(command: Document, db: string, { storage }: Session): Document {
  const { collection, created } = storage.getOrCreate(db, String(command.createIndexes));
  const before = collection.indexes.length;
  for (const spec of (command.indexes ?? []) as Document[]) {
    if (typeof spec.name !== 'string' || spec.key === null || typeof spec.key !== 'object') {
      throw new CommandError(9, 'FailedToParse', 'An index needs a key and a name');
    }
    const def: IndexDef = {
      name: spec.name,
      key: spec.key as Record<string, number>,
      unique: spec.unique === true,
      ...(spec.partialFilterExpression === undefined
        ? {}
        : { partialFilterExpression: spec.partialFilterExpression as Document }),
    };
    collection.addIndex(def);
  }
  const after = collection.indexes.length;
  return {
    createdCollectionAutomatically: created,
    numIndexesBefore: before,
    numIndexesAfter: after,
    ...(before === after ? { note: 'all indexes already exist' } : {}),
    ok: 1,
  };
}

function listIndexes(command: Document, db: string, { storage, cursors }: Session): Document {
  const collection = storage.get(db, String(command.listIndexes));
  if (collection === undefined) throw nsNotFound(`${db}.${String(command.listIndexes)}`);
  const docs = collection.indexes.map((index) => ({
    v: 2,
    key: index.key,
    name: index.name,
    ...(index.unique && index.name !== '_id_' ? { unique: true } : {}),
    ...(index.partialFilterExpression === undefined
      ? {}
      : { partialFilterExpression: index.partialFilterExpression }),
  }));
  return cursors.open(collection.ns, docs, undefined, false);
}

function listCollections(command: Document, db: string, { storage, cursors }: Session): Document {
  const infos = storage.list(db).map((collection) => ({
    name: collection.name,
    type: 'collection',
    options: {},
    info: { readOnly: false },
    idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
  }));
  const matching = new Query((command.filter ?? {}) as Document, {}).find<Document>(infos).all();
  const docs =
    command.nameOnly === true
      ? matching.map((info) => ({ name: info.name as string, type: info.type as string }))
      : matching;
  return cursors.open(`${db}.$cmd.listCollections`, docs, undefined, false);
}

function create(command: Document, db: string, { storage }: Session): Document {
  const { collection, created } = storage.getOrCreate(db, String(command.create));
  if (!created)
    throw new CommandError(48, 'NamespaceExists', `Collection ${collection.ns} already exists.`);
  return { ok: 1 };
}

function drop(command: Document, db: string, { storage }: Session): Document {
  const collection = storage.get(db, String(command.drop));
  // As mongod before 7.0: dropping a missing collection is NamespaceNotFound (the driver ignores it).
  if (collection === undefined) throw nsNotFound(`${db}.${String(command.drop)}`);
  storage.drop(db, collection.name);
  return { nIndexesWas: collection.indexes.length, ns: collection.ns, ok: 1 };
}

function dropDatabase(_command: Document, db: string, { storage }: Session): Document {
  for (const collection of storage.list(db)) storage.drop(db, collection.name);
  return { ok: 1 };
}

function renameCollection(command: Document, db: string, { storage }: Session): Document {
  if (db !== 'admin') {
    throw new CommandError(
      13,
      'Unauthorized',
      'renameCollection may only be run against the admin database.',
    );
  }
  const [fromDb, fromName] = splitNamespace(String(command.renameCollection));
  const [toDb, toName] = splitNamespace(String(command.to));
  if (fromDb !== toDb)
    throw new CommandError(20, 'IllegalOperation', 'the stand-in renames within one database only');
  const source = storage.get(fromDb, fromName);
  if (source === undefined) throw nsNotFound(`${fromDb}.${fromName}`);
  if (source.ns === `${toDb}.${toName}`) {
    throw new CommandError(20, 'IllegalOperation', "Can't rename a collection to itself");
  }
  storage.rename(source, toDb, toName, command.dropTarget === true);
  return { ok: 1 };
}

function splitNamespace(ns: string): [string, string] {
  const dot = ns.indexOf('.');
  if (dot <= 0)
    throw new CommandError(73, 'InvalidNamespace', `Invalid namespace specified '${ns}'`);
  return [ns.slice(0, dot), ns.slice(dot + 1)];
}

function nsNotFound(ns: string): CommandError {
  return new CommandError(26, 'NamespaceNotFound', `ns not found: ${ns}`);
}

const ok = (): Document => ({ ok: 1 });

export const handlers: Readonly<Record<string, Handler>> = {
  hello,
  isMaster: hello,
  ismaster: hello,
  ping: ok,
  endSessions: ok,
  buildInfo: () => ({ version: '7.0.0', versionArray: [7, 0, 0, 0], ok: 1 }),
  insert: (command, db, { storage }) => insert(storage, db, command),
  update: (command, db, { storage, upsertRaceWindowMs }) =>
    update(storage, db, command, upsertRaceWindowMs),
  delete: (command, db, { storage }) => remove(storage, db, command),
  find,
  getMore: (command, _db, { cursors }) =>
    cursors.more(asNumber(command.getMore) ?? -1, asNumber(command.batchSize)),
  killCursors: (command, _db, { cursors }) =>
    cursors.kill(((command.cursors ?? []) as unknown[]).map((id) => asNumber(id) ?? -1)),
  aggregate,
  count,
  createIndexes,
  listIndexes,
  listCollections,
  create,
  drop,
  dropDatabase,
  renameCollection,
};

/** Runs one command; a CommandError becomes MongoDB's `{ ok: 0, code, codeName, errmsg }`. */
export async function execute(command: Document, session: Session): Promise<Document> {
  const name = Object.keys(command)[0] ?? '';
  const db = typeof command.$db === 'string' ? command.$db : 'admin';
  const handler = Object.hasOwn(handlers, name) ? handlers[name] : undefined;
  try {
    if (handler === undefined)
      throw new CommandError(59, 'CommandNotFound', `no such command: '${name}'`);
    return await handler(command, db, session);
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    return {
      ok: 0,
      errmsg: error.message,
      code: error.code,
      codeName: error.codeName,
      ...error.extra,
    };
  }
}
