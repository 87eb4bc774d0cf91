/**
 * The read store's bulk writer thread: its own connection to the store's file, one bulk write
 * per message, each one transaction with its checkpoint, the same statements as the store's
 * own connection. `null` closes the connection and ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { describeWriteFailure, type BulkRequest, type BulkWriterData } from './bulk-writer.js';
import { PUT_CHECKPOINT_SQL, guardedWriteSql } from './schema.js';

const port = parentPort;
if (port === null) throw new Error('sqlite-bulk-writer.worker must run on a worker thread');

const { path, busyTimeoutMs } = workerData as BulkWriterData;
const db = new Database(path, { timeout: busyTimeoutMs });
// The same settings as the store's connection (see sqlite-read-store.ts for why NORMAL).
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
const putCheckpoint = db.prepare<[string, string]>(PUT_CHECKPOINT_SQL);
const writes = new Map<string, Statement<[string, string, string | null]>>();

/** Index of the op being written, so that a failure can name its document. */
let current = -1;

const apply = db.transaction((request: BulkRequest): number => {
  let write = writes.get(request.collection);
  if (write === undefined) {
    write = db.prepare(guardedWriteSql(request.collection));
    writes.set(request.collection, write);
  }
  let applied = 0;
  for (current = 0; current < request.ids.length; current++) {
    applied += write.run(
      request.ids[current] ?? '',
      request.positions[current] ?? '',
      request.docs[current] ?? null,
    ).changes;
  }
  current = -1;
  if (request.checkpoint !== undefined) {
    putCheckpoint.run(request.checkpoint.id, request.checkpoint.position);
  }
  return applied;
});

port.on('message', (request: BulkRequest | null) => {
  if (request === null) {
    db.close();
    port.close();
    return;
  }
  current = -1;
  try {
    port.postMessage({ applied: apply.immediate(request) });
  } catch (error) {
    // A dropped collection's statement is stale: prepare it again next time.
    writes.delete(request.collection);
    port.postMessage({ failure: describeWriteFailure(error, request.ids[current]) });
  }
});
