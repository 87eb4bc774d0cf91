/**
 * The stand-in's write commands: insert, update (operators, replacement, upsert) and delete,
 * ordered or not, reporting per-operation failures as `writeErrors` the way mongod does.
 */
import { ObjectId, deserialize, serialize, type Document } from 'bson';
import { Query, update as applyOperators } from 'mingo';
import { CommandError, canonical, type Collection, type Storage } from './store.js';

type WriteError = { index: number; code: number; codeName: string; errmsg: string } & Document;

/** Yields to other connections, as mongod can between an upsert's query and its insert. */
function turn(windowMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (windowMs > 0) setTimeout(resolve, windowMs);
    else setImmediate(resolve);
  });
}

function clone(doc: Document): Document {
  return deserialize(serialize(doc));
}

function writeError(index: number, error: unknown): WriteError {
  if (!(error instanceof CommandError)) throw error;
  return {
    index,
    code: error.code,
    codeName: error.codeName,
    errmsg: error.message,
    ...error.extra,
  };
}

function reply(n: number, errors: WriteError[], extra: Document = {}): Document {
  return { n, ...extra, ...(errors.length > 0 ? { writeErrors: errors } : {}), ok: 1 };
}

export function insert(storage: Storage, db: string, command: Document): Document {
  const docs = (command.documents ?? []) as Document[];
  const ordered = command.ordered !== false;
  const { collection } = storage.getOrCreate(db, String(command.insert));
  const errors: WriteError[] = [];
  let n = 0;
  for (const [index, doc] of docs.entries()) {
    try {
      collection.insert({ _id: new ObjectId(), ...doc });
      n++;
    } catch (error) {
      errors.push(writeError(index, error));
      if (ordered) break;
    }
  }
  return reply(n, errors);
}

type UpdateSpec = { q?: Document; u?: Document | Document[]; upsert?: boolean; multi?: boolean };
type UpdateOutcome = { matched: number; modified: number; upserted?: unknown };

export async function update(
  storage: Storage,
  db: string,
  command: Document,
  raceWindowMs = 0,
): Promise<Document> {
  const specs = (command.updates ?? []) as UpdateSpec[];
  const ordered = command.ordered !== false;
  const name = String(command.update);
  const errors: WriteError[] = [];
  const upserted: { index: number; _id: unknown }[] = [];
  let n = 0;
  let nModified = 0;
  for (const [index, spec] of specs.entries()) {
    try {
      const outcome = await updateOne(storage, db, name, spec, raceWindowMs);
      n += outcome.matched + (outcome.upserted === undefined ? 0 : 1);
      nModified += outcome.modified;
      if (outcome.upserted !== undefined) upserted.push({ index, _id: outcome.upserted });
    } catch (error) {
      errors.push(writeError(index, error));
      if (ordered) break;
    }
  }
  return reply(n, errors, { nModified, ...(upserted.length > 0 ? { upserted } : {}) });
}

async function updateOne(
  storage: Storage,
  db: string,
  name: string,
  spec: UpdateSpec,
  raceWindowMs: number,
  retried = false,
): Promise<UpdateOutcome> {
  const filter = spec.q ?? {};
  const modifier = spec.u ?? {};
  if (Array.isArray(modifier)) {
    throw new CommandError(2, 'BadValue', 'the stand-in does not implement pipeline updates');
  }
  const collection = storage.get(db, name);
  const matches =
    collection === undefined
      ? []
      : new Query(filter, {}).find<Document>(collection.candidates(filter)).all();
  if (collection !== undefined && matches.length > 0) {
    let modified = 0;
    for (const before of spec.multi === true ? matches : matches.slice(0, 1)) {
      const after = applyUpdate(before, modifier, false);
      if (canonical(after) === canonical(before)) continue;
      collection.replace(before, after);
      modified++;
    }
    return { matched: spec.multi === true ? matches.length : 1, modified };
  }
  if (spec.upsert !== true) return { matched: 0, modified: 0 };
  // mongod runs an upsert's query and its insert as two steps; another writer can insert the
  // same _id in between, and the insert then fails with E11000. Callers must handle that race,
  // so the stand-in opens the same window.
  await turn(raceWindowMs);
  const target = storage.getOrCreate(db, name).collection;
  const seed = seedFrom(filter);
  const inserted = applyUpdate(seed, modifier, true);
  if (inserted._id === undefined) inserted._id = new ObjectId();
  try {
    insertWithIdFirst(target, inserted);
  } catch (error) {
    // mongod (4.2+) retries, once the race is lost, an upsert whose query is nothing but
    // equalities on the unique key; any other query gets the E11000.
    if (!(error instanceof CommandError) || error.code !== 11000 || retried) throw error;
    if (Object.keys(seed).length !== Object.keys(filter).length || !('_id' in seed)) throw error;
    return updateOne(storage, db, name, spec, raceWindowMs, true);
  }
  return { matched: 0, modified: 0, upserted: inserted._id };
}

function insertWithIdFirst(collection: Collection, doc: Document): void {
  const { _id: id, ...rest } = doc;
  collection.insert({ _id: id as unknown, ...rest });
}

function applyUpdate(before: Document, modifier: Document, inserting: boolean): Document {
  const keys = Object.keys(modifier);
  if (!keys.some((key) => key.startsWith('$'))) {
    return { _id: before._id as unknown, ...clone(modifier) };
  }
  if (!keys.every((key) => key.startsWith('$'))) {
    throw new CommandError(9, 'FailedToParse', 'Unknown modifier: mixing operators and fields');
  }
  const { $setOnInsert, ...operators } = modifier as { $setOnInsert?: Document } & Document;
  const after = clone(before);
  const { $set, ...others } = operators as { $set?: Document } & Document;
  if ($set !== undefined) setPaths(after, $set);
  if (Object.keys(others).length > 0) applyOperators(after, others);
  if (inserting && $setOnInsert !== undefined) setPaths(after, $setOnInsert);
  return after;
}

/**
 * `$set` done here rather than by mingo: it is all the read store sends, and mingo's general
 * updater costs about a millisecond an op, too slow for batches of thousands.
 */
function setPaths(target: Document, fields: Document): void {
  for (const [path, value] of Object.entries(fields) as [string, unknown][]) {
    const parts = path.split('.');
    let node = target;
    for (const part of parts.slice(0, -1)) {
      const next: unknown = node[part];
      if (next === undefined || next === null) node = node[part] = {};
      else if (typeof next === 'object' && !Array.isArray(next)) node = next;
      else throw new CommandError(28, 'PathNotViable', `Cannot create field '${part}' in ${path}`);
    }
    node[parts.at(-1) as string] = (clone({ value }) as { value: unknown }).value;
  }
}

/** The document an upsert starts from: the filter's top-level equality conditions. */
function seedFrom(filter: Document): Document {
  const seed: Document = {};
  for (const [key, value] of Object.entries(filter)) {
    if (key.startsWith('$') || key.includes('.')) continue;
    if (isOperatorObject(value)) {
      if ('$eq' in value) seed[key] = value.$eq as unknown;
      continue;
    }
    seed[key] = value as unknown;
  }
  return seed;
}

function isOperatorObject(value: unknown): value is Document {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !('_bsontype' in value) &&
    !(value instanceof Date) &&
    Object.keys(value).some((key) => key.startsWith('$'))
  );
}

type DeleteSpec = { q?: Document; limit?: number };

export function remove(storage: Storage, db: string, command: Document): Document {
  const collection = storage.get(db, String(command.delete));
  let n = 0;
  for (const spec of (command.deletes ?? []) as DeleteSpec[]) {
    if (collection === undefined) continue;
    const filter = spec.q ?? {};
    const matches = new Query(filter, {}).find<Document>(collection.candidates(filter)).all();
    for (const doc of spec.limit === 1 ? matches.slice(0, 1) : matches) {
      collection.remove(doc);
      n++;
    }
  }
  return reply(n, []);
}
