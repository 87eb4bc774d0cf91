/**
 * A MongoDB stand-in for tests: a TCP server speaking the MongoDB wire protocol, so the
 * official `mongodb` driver runs unmodified against it. Test code only: it keeps everything in
 * memory and is no database.
 *
 * What it does: the OP_QUERY handshake and OP_MSG (document sequences included); hello /
 * isMaster as a standalone MongoDB 7.0 (wire version 21) with sessions; ping, buildInfo,
 * endSessions; insert, update (update operators via mingo, replacement, upsert,
 * $setOnInsert, multi), delete; find (filter, sort, projection, skip, limit, batchSize) with
 * getMore and killCursors; aggregate (mingo pipeline) and count; createIndexes (unique and
 * partialFilterExpression enforced, conflicts reported with codes 85/86), listIndexes,
 * listCollections, create, drop, dropDatabase, renameCollection (admin, dropTarget). Errors
 * carry MongoDB's codes: 11000 DuplicateKey (with keyPattern/keyValue), 26 NamespaceNotFound,
 * 48 NamespaceExists, 43 CursorNotFound, 59 CommandNotFound, 13, 20, 66, 73, 85, 86.
 *
 * What it does NOT do: authentication, TLS, compression, replica sets, transactions,
 * retryable-write bookkeeping, read or write concerns (accepted and ignored: every write is
 * immediately "majority"), change streams, collations, pipeline updates, multikey (array)
 * index keys, capped collections, $where/$text/geo queries, explain, query planning (indexes
 * other than unique ones speed nothing up and are not required), streaming hello, and
 * byte-for-byte parity of error messages. Matching, sorting and update semantics are mingo's,
 * which follows MongoDB's for the scalar types the read store uses (type bracketing in ranges,
 * BSON type order in sorts, missing fields as null). Writes are atomic per document; an
 * upsert yields between its query and its insert, so concurrent upserts of one `_id` can
 * collide with E11000 exactly as on mongod.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Document } from 'bson';
import { Cursors, execute, type Session } from './commands.js';
import { Storage } from './store.js';
import { encodeReply, parseRequest, takeMessages } from './wire.js';

export type MongoStandin = Readonly<{
  /** A `mongodb://` URL for the driver, without a database path. */
  url: string;
  port: number;
  /** The stand-in's data, for assertions on what the adapter stored. */
  storage: Storage;
  /** The latest commands received (up to 1,000), oldest first, for tests of what was sent. */
  seen(): readonly SeenCommand[];
  /** Closes every connection and the listener. Idempotent. */
  stop(): Promise<void>;
}>;

export type SeenCommand = Readonly<{
  /** Increases by one per command received, from 1. */
  seq: number;
  name: string;
  /** The value of the command's first field: usually the collection it addresses. */
  target: unknown;
  db: unknown;
}>;

const SEEN_LIMIT = 1_000;

export type MongoStandinOptions = Readonly<{
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /**
   * How long an upsert that found nothing waits before inserting, so tests can make
   * concurrent upserts of one `_id` collide reliably. @default 0 (one turn of the event loop)
   */
  upsertRaceWindowMs?: number;
}>;

export async function startMongoStandin(options: MongoStandinOptions = {}): Promise<MongoStandin> {
  const { port = 0, host = '127.0.0.1', upsertRaceWindowMs = 0 } = options;
  const storage = new Storage();
  const cursors = new Cursors();
  const sockets = new Set<Socket>();
  const seen: SeenCommand[] = [];
  let received = 0;
  const record = (command: Document) => {
    const [name = '', target] = Object.entries(command)[0] ?? [];
    seen.push({ seq: ++received, name, target, db: command.$db });
    if (seen.length > SEEN_LIMIT) seen.splice(0, seen.length - SEEN_LIMIT);
  };
  let connections = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serve(socket, { storage, cursors, connectionId: ++connections, upsertRaceWindowMs }, record);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('stand-in has no address');
  let stopped: Promise<void> | undefined;
  return {
    url: `mongodb://${host}:${address.port}`,
    port: address.port,
    storage,
    seen: () => [...seen],
    stop: () => (stopped ??= close(server, sockets, cursors)),
  };
}

function close(server: Server, sockets: Set<Socket>, cursors: Cursors): Promise<void> {
  cursors.clear();
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** One connection: requests are answered one at a time, in order, as mongod does. */
function serve(socket: Socket, session: Session, record: (command: Document) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  let queue = Promise.resolve();
  let responseId = 1;
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    let messages: Buffer[];
    try {
      ({ messages, rest: pending } = takeMessages(Buffer.concat([pending, chunk])));
    } catch {
      socket.destroy();
      return;
    }
    for (const message of messages) {
      queue = queue
        .then(async () => {
          const request = parseRequest(message);
          record(request.command);
          const reply = await run(request.command, session);
          if (!request.noReply && !socket.destroyed) {
            socket.write(encodeReply(request, reply, responseId++));
          }
        })
        .catch(() => {
          socket.destroy();
        });
    }
  });
}

/** A bug or an unsupported query operator answers like mongod's BadValue, never a crash. */
async function run(command: Document, session: Session): Promise<Document> {
  try {
    return await execute(command, session);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: 0, errmsg: `stand-in: ${message}`, code: 2, codeName: 'BadValue' };
  }
}
