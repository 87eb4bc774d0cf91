/**
 * Group commit: every append requested during one event-loop turn is written in a single
 * transaction, so a burst of N appends costs one fsync instead of N. Each append is still
 * checked on its own against the stream as the earlier appends of the batch left it, and a
 * conflicting append fails alone.
 */
import type Database from 'better-sqlite3';
import { ConflictError, OverloadedError } from '../../errors.js';
import type { AppendResult, ExpectedRevision } from '../event-store.js';
import { encodePosition, type Statements } from './schema.js';

/** An event whose JSON is already serialised, so the transaction does no avoidable work. */
export type SerializedEvent = Readonly<{
  id: string;
  type: string;
  data: string;
  metadata: string;
}>;

export type PendingAppend = Readonly<{
  streamId: string;
  events: readonly SerializedEvent[];
  expectedRevision: ExpectedRevision;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}>;

export type GroupCommitStats = Readonly<{
  /** Write transactions committed. */
  commits: number;
  /** Append calls settled by those transactions, successful or conflicting. */
  appends: number;
}>;

export type GroupCommitter = {
  enqueue(append: PendingAppend): void;
  /** Writes whatever is queued now, synchronously; used by close(). */
  flush(): void;
  stats(): GroupCommitStats;
};

/** The revision of a stream that has no events. */
const NO_STREAM = -1;

type Outcome = AppendResult | ConflictError;

export function createGroupCommitter(
  db: Database.Database,
  statements: Statements,
  onCommitted: () => void,
): GroupCommitter {
  let queue: PendingAppend[] = [];
  let scheduled = false;
  let commits = 0;
  let appends = 0;

  // Later appends of a batch see the rows of earlier ones: it is one connection and one
  // transaction, so the stream checks need no cache of their own.
  const writeBatch = db.transaction((batch: readonly PendingAppend[]): Outcome[] =>
    batch.map((append) => writeAppend(statements, append)),
  );

  function flush(): void {
    scheduled = false;
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    let outcomes: Outcome[];
    try {
      // IMMEDIATE takes the write lock before the first read, so the revision checks cannot
      // be invalidated by another process committing in between.
      outcomes = writeBatch.immediate(batch);
    } catch (error) {
      const failure = translate(error);
      for (const append of batch) append.reject(failure);
      return;
    }
    commits += 1;
    appends += batch.length;
    settle(batch, outcomes);
    onCommitted();
  }

  return {
    enqueue(append) {
      queue.push(append);
      if (scheduled) return;
      scheduled = true;
      // setImmediate runs after the I/O callbacks of this turn, so every request that arrived
      // in the same turn joins the batch.
      setImmediate(flush);
    },
    flush,
    stats: () => ({ commits, appends }),
  };
}

function settle(batch: readonly PendingAppend[], outcomes: readonly Outcome[]): void {
  batch.forEach((append, index) => {
    const outcome = outcomes[index];
    if (outcome instanceof ConflictError) append.reject(outcome);
    else if (outcome !== undefined) append.resolve(outcome);
  });
}

function writeAppend(statements: Statements, append: PendingAppend): Outcome {
  const { streamId, events, expectedRevision } = append;
  const current = statements.lastRevision.get(streamId) ?? NO_STREAM;
  // A new stream cannot hold any of the ids, which spares the lookups on the common path.
  if (current !== NO_STREAM) {
    const replay = findReplay(statements, append, current);
    if (replay !== undefined) return replay;
  }
  if (!expectationHolds(expectedRevision, current)) {
    return new ConflictError(streamId, renderRevision(expectedRevision), renderRevision(current));
  }
  let revision = current;
  let position = 0;
  for (const event of events) {
    revision += 1;
    const info = statements.insert.run(
      streamId,
      revision,
      event.id,
      event.type,
      event.data,
      event.metadata,
    );
    position = Number(info.lastInsertRowid);
  }
  return { nextExpectedRevision: revision, position: encodePosition(position) };
}

/**
 * Recognises a retry: when the first id is already in the stream, every id must follow it at
 * consecutive revisions, and the retry gets the original result. Any other overlap between
 * the append and the stream is a conflict, whatever the expected revision.
 */
function findReplay(
  statements: Statements,
  append: PendingAppend,
  current: number,
): Outcome | undefined {
  const { streamId, events, expectedRevision } = append;
  const found = events.map((event) => statements.findEventId.get(streamId, event.id));
  if (found.every((row) => row === undefined)) return undefined;
  const first = found[0];
  const isRetry =
    first !== undefined && found.every((row, index) => row?.revision === first.revision + index);
  const last = found[found.length - 1];
  if (isRetry && last !== undefined) {
    return { nextExpectedRevision: last.revision, position: encodePosition(last.position) };
  }
  const overlap = new Error(
    `Some of the appended event ids are already in stream ${streamId}, but not as one consecutive run in the same order`,
  );
  return new ConflictError(
    streamId,
    renderRevision(expectedRevision),
    renderRevision(current),
    overlap,
  );
}

function expectationHolds(expected: ExpectedRevision, current: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no-stream':
      return current === NO_STREAM;
    case 'stream-exists':
      return current !== NO_STREAM;
    default:
      return expected === current;
  }
}

/** How conflicts show revisions: a number, or `no-stream` for a stream without events. */
function renderRevision(revision: ExpectedRevision): string {
  return revision === NO_STREAM ? 'no-stream' : String(revision);
}

function translate(error: unknown): unknown {
  // Another process kept the write lock past the busy timeout: a transient overload, the
  // caller may retry. Anything else (disk full, I/O error) is passed on as it is.
  if (
    error instanceof Error &&
    'code' in error &&
    typeof error.code === 'string' &&
    error.code.startsWith('SQLITE_BUSY')
  ) {
    return new OverloadedError(`The event store is locked by another writer: ${error.message}`);
  }
  return error;
}
