/**
 * The event store's writer thread: its own connection to the log file, one batch of appends
 * per message, each batch one durable transaction, the outcomes sent back in order. `null`
 * closes the connection and ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createBatchWriter, describeFailure, type AppendRequest } from './group-commit.js';
import { openDatabase, prepareStatements } from './schema.js';

const port = parentPort;
if (port === null) throw new Error('sqlite-writer.worker must run on a worker thread');

const { path } = workerData as { path: string };
const db = openDatabase(path);
const writeBatch = createBatchWriter(db, prepareStatements(db));

port.on('message', (batch: readonly AppendRequest[] | null) => {
  if (batch === null) {
    db.close();
    port.close();
    return;
  }
  try {
    port.postMessage({ outcomes: writeBatch(batch) });
  } catch (error) {
    port.postMessage({ failure: describeFailure(error) });
  }
});
