/**
 * A stand-in for an EventStoreDB (KurrentDB) node, for tests only: never offer it as a database.
 * It serves, over insecure gRPC on 127.0.0.1, the service definitions that ship inside
 * `@eventstore/db-client`, so the official client runs against it unchanged
 * (`esdb://127.0.0.1:<port>?tls=false`).
 *
 * What it does: `ServerFeatures.GetSupportedMethods` (listing `BatchAppend`, so the client
 * appends through it as it does against servers since 21.10); `Streams.Append` and
 * `Streams.BatchAppend` with the server's expected-revision and idempotency rules (see
 * `log.ts`); `Streams.Read` of one stream and of `$all`, forwards and backwards, start
 * inclusive, `StreamNotFound` for a missing stream; catch-up subscriptions to `$all`, start
 * exclusive, with confirmation, server-side event-type / stream-name filters (regex or
 * prefixes), checkpoints and `CaughtUp`. `$all` holds system events (`$`-prefixed types and
 * streams, including a `$>` link and `$metadata`) written at every start, which filters must
 * skip. Revisions and positions are 64-bit. `stop()` drops every connection and call, like a
 * crashed node; `restart()` serves the same log again on the same port.
 *
 * What it does NOT do: persistence to disk (the log lives in memory across restarts of one
 * instance); TLS, authentication and ACLs; clusters and gossip (use a single-node connection
 * string); subscriptions to one stream; persistent subscriptions, projections, users,
 * operations, monitoring; `Delete`/`Tombstone` and stream metadata ($maxAge, $tb, ...);
 * resolving links; structured UUIDs; explicit transactions (commit != prepare); `FellBehind`;
 * deadlines; the bounded size of the server's idempotency cache (every id of a stream is
 * remembered here, whereas a real node remembers only recent ones).
 */
import { randomUUID } from 'node:crypto';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { handleAppend, handleBatchAppend } from './append.js';
import { Log } from './log.js';
import { featuresGrpc, featuresPb, streamsGrpc } from './proto.js';
import { handleRead } from './read.js';

export type EsdbStandIn = Readonly<{
  /** A connection string for the official client. */
  url: string;
  port: number;
  /** Drops every connection and call at once, as a crashed node would. */
  stop(): Promise<void>;
  /** Serves the same log again on the same port. */
  restart(): Promise<void>;
}>;

/** The version the stand-in claims; the client only logs it. */
const SERVER_VERSION = '23.10.0';

const SUPPORTED: Readonly<Record<string, readonly string[]>> = {
  'event_store.client.streams.Streams': ['read', 'append', 'batchappend'],
  'event_store.client.server_features.ServerFeatures': ['getsupportedmethods'],
};

/** Starts a stand-in on `port`, or on a port the system picks. */
export async function startEsdbStandIn(port = 0): Promise<EsdbStandIn> {
  const log = new Log();
  let server = await listen(log, port);
  const boundPort = server.port;
  return {
    url: `esdb://127.0.0.1:${boundPort}?tls=false`,
    port: boundPort,
    stop: async () => {
      server.grpc.forceShutdown();
      await Promise.resolve();
    },
    restart: async () => {
      server.grpc.forceShutdown();
      server = await listen(log, boundPort);
    },
  };
}

async function listen(log: Log, port: number): Promise<{ grpc: Server; port: number }> {
  writeSystemEvents(log, port);
  const grpc = new Server();
  grpc.addService(streamsGrpc.StreamsService, {
    read: handleRead(log),
    append: handleAppend(log),
    batchAppend: handleBatchAppend(log),
  });
  grpc.addService(featuresGrpc.ServerFeaturesService, {
    getSupportedMethods: (_call: unknown, callback: (error: null, value: unknown) => void) => {
      callback(null, supportedMethods());
    },
  });
  const bound = await new Promise<number>((resolve, reject) => {
    grpc.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, actual) => {
      if (error === null) resolve(actual);
      else reject(error);
    });
  });
  return { grpc, port: bound };
}

function supportedMethods() {
  const methods = Object.entries(SUPPORTED).flatMap(([service, names]) =>
    names.map((name) =>
      new featuresPb.SupportedMethod().setServiceName(service).setMethodName(name),
    ),
  );
  return new featuresPb.SupportedMethods()
    .setMethodsList(methods)
    .setEventStoreServerVersion(SERVER_VERSION);
}

/** What a node writes on its own at start-up, more or less: statistics, settings, a link. */
function writeSystemEvents(log: Log, port: number): void {
  const system = (streamId: string, type: string, data: unknown) => {
    // Links carry their target as plain text, not JSON.
    const raw = typeof data === 'string';
    const event = {
      id: randomUUID(),
      type,
      contentType: raw ? 'application/octet-stream' : 'application/json',
      data: Buffer.from(raw ? data : JSON.stringify(data)),
      customMetadata: new Uint8Array(),
    };
    log.append(streamId, { kind: 'any' }, [event]);
  };
  system(`$stats-127.0.0.1:${port}`, '$statsCollected', { 'proc-startTime': Date.now() });
  system('$$$settings', '$metadata', { $maxCount: 1 });
  system('$settings', '$settings', { $userStreamAcl: { $r: '$all' } });
  system('$ce-$stats', '$>', `0@$stats-127.0.0.1:${port}`);
}
