/**
 * Large bulk writes of the SQLite read store run on a thread of their own, with its own
 * connection to the file. A rebuild writes thousands of documents per batch, and writing them
 * (statements, index upkeep, commit, WAL checkpoints) costs as much as reading and folding the
 * events that made them; on its own thread the write of one batch overlaps the reading of the
 * next. The store allows one bulk write in flight at a time, so requests never queue here.
 */
import Database from 'better-sqlite3';
import { startWorker, type StartedWorker } from '../../worker-thread.js';
import type { Checkpoint } from '../read-store.js';

export type BulkWriterData = Readonly<{ path: string; busyTimeoutMs: number }>;

/** One bulk write as columns (documents already JSON text, `null` for a tombstone). */
export type BulkRequest = Readonly<{
  collection: string;
  ids: readonly string[];
  positions: readonly string[];
  docs: readonly (string | null)[];
  checkpoint?: Checkpoint;
}>;

type WriteFailure = Readonly<{ message: string; code?: string; id?: string }>;
type BulkReply = Readonly<{ applied: number }> | Readonly<{ failure: WriteFailure }>;

/** A failure of the writer thread, rebuilt on this side as the error the store would have thrown. */
export class BulkWriteFailure extends Error {
  /** The document whose write failed, when one did. */
  readonly id: string | undefined;

  constructor(failure: WriteFailure) {
    const cause =
      failure.code === undefined
        ? new Error(failure.message)
        : new Database.SqliteError(failure.message, failure.code);
    super(failure.message, { cause });
    this.name = 'BulkWriteFailure';
    this.id = failure.id;
  }
}

export function describeWriteFailure(error: unknown, id: string | undefined): WriteFailure {
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof Database.SqliteError ? error.code : undefined;
  return { message, ...(code === undefined ? {} : { code }), ...(id === undefined ? {} : { id }) };
}

export type BulkWriter = Readonly<{
  /** Resolves with the number of ops applied; rejects with a BulkWriteFailure. */
  write(request: BulkRequest): Promise<number>;
  /** Waits for the write in flight, then ends the thread. */
  stop(): Promise<void>;
}>;

export function createBulkWriter(data: BulkWriterData): BulkWriter {
  let thread: StartedWorker | undefined;
  let waiting: { resolve(applied: number): void; reject(error: Error): void } | undefined;
  let inFlight: Promise<number> | undefined;

  function started(): StartedWorker {
    thread ??= startWorker<BulkReply>(
      new URL(`./sqlite-bulk-writer.worker${moduleExtension()}`, import.meta.url),
      data,
      {
        onMessage(reply) {
          const settle = waiting;
          waiting = undefined;
          thread?.idle();
          if ('failure' in reply) settle?.reject(new BulkWriteFailure(reply.failure));
          else settle?.resolve(reply.applied);
        },
        onExit(error) {
          thread = undefined;
          const settle = waiting;
          waiting = undefined;
          settle?.reject(new Error(`The read store's writer thread stopped: ${error.message}`));
        },
      },
    );
    return thread;
  }

  return {
    write(request) {
      if (waiting !== undefined) {
        return Promise.reject(new Error('A bulk write is already in flight'));
      }
      const writer = started();
      inFlight = new Promise<number>((resolve, reject) => {
        waiting = { resolve, reject };
        writer.post(request);
      });
      return inFlight;
    },
    async stop() {
      await inFlight?.catch(() => undefined);
      const stopping = thread;
      thread = undefined;
      if (stopping === undefined) return;
      // An idle thread is unref'd, and waiting for its exit does not keep this process alive.
      const keepAlive = setInterval(() => undefined, 60_000);
      try {
        await stopping.stop();
      } finally {
        clearInterval(keepAlive);
      }
    },
  };
}

function moduleExtension(): string {
  return import.meta.url.endsWith('.ts') ? '.ts' : '.js';
}
