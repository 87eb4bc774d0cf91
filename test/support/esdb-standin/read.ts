/**
 * `Streams.Read`: reads of one stream and of `$all` in either direction, and catch-up
 * subscriptions to `$all`. Read start positions are inclusive, subscription start positions
 * exclusive, as on EventStoreDB. A subscription sends its confirmation, then the events after
 * its start (filtered server-side, with a checkpoint every `checkpointIntervalMultiplier ×
 * window` records scanned), `CaughtUp` when it reaches the head, then live events. Every write
 * waits for the client to drain (HTTP/2 flow control), so a slow client slows the stand-in.
 */
import { randomUUID } from 'node:crypto';
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import type * as StreamsPb from '@eventstore/db-client/generated/streams_pb.js';
import { streamName } from './append.js';
import type { Log, StoredEvent } from './log.js';
import { sharedPb, streamsPb } from './proto.js';

type ReadCall = ServerWritableStream<StreamsPb.ReadReq, StreamsPb.ReadResp>;
type Options = StreamsPb.ReadReq.Options;
type Filter = (event: StoredEvent) => boolean;

/** The server's default search window when the client asks for `count`. */
const DEFAULT_WINDOW = 32;
const BACKWARDS = streamsPb.ReadReq.Options.ReadDirection.BACKWARDS;

export function handleRead(log: Log) {
  return (call: ReadCall): void => {
    const options = call.request.getOptions();
    if (options === undefined) {
      call.destroy(
        Object.assign(new Error('Options are required'), { code: status.INVALID_ARGUMENT }),
      );
      return;
    }
    const run = options.hasSubscription()
      ? options.hasAll()
        ? subscribeToAll(log, call, options)
        : unsupported(call, 'Subscriptions to one stream are not implemented by the stand-in')
      : options.hasAll()
        ? readAll(log, call, options)
        : readStream(log, call, options);
    run.then(
      () => call.end(),
      () => call.end(),
    );
  };
}

function unsupported(call: ReadCall, message: string): Promise<void> {
  call.emit('error', { code: status.UNIMPLEMENTED, details: message });
  return Promise.resolve();
}

async function readStream(log: Log, call: ReadCall, options: Options): Promise<void> {
  const stream = options.getStream();
  const name = streamName(stream?.getStreamIdentifier());
  const events = log.stream(name);
  if (events === undefined) {
    const notFound = new streamsPb.ReadResp.StreamNotFound();
    notFound.setStreamIdentifier(stream?.getStreamIdentifier());
    await send(call, new streamsPb.ReadResp().setStreamNotFound(notFound));
    return;
  }
  const backwards = options.getReadDirection() === BACKWARDS;
  const last = events.length - 1;
  let index = backwards ? last : 0;
  if (stream?.hasRevision()) index = Number(BigInt(stream.getRevision()));
  else if (stream?.hasEnd()) index = backwards ? last : events.length;
  if (backwards) index = Math.min(index, last);
  let remaining = count(options);
  for (; remaining > 0 && index >= 0 && index < events.length; index += backwards ? -1 : 1) {
    const event = events[index];
    if (event === undefined || cancelled(call)) return;
    await send(call, eventResponse(event));
    remaining -= 1;
  }
}

async function readAll(log: Log, call: ReadCall, options: Options): Promise<void> {
  const all = options.getAll();
  const backwards = options.getReadDirection() === BACKWARDS;
  let index = backwards ? log.length - 1 : 0;
  const position = all?.getPosition();
  if (position !== undefined) {
    const at = BigInt(position.getCommitPosition());
    index = log.indexAtOrAfter(at);
    if (backwards && log.at(index)?.position !== at) index -= 1;
  } else if (all?.hasEnd() === true) {
    index = backwards ? log.length - 1 : log.length;
  }
  let remaining = count(options);
  for (; remaining > 0 && index >= 0 && index < log.length; index += backwards ? -1 : 1) {
    const event = log.at(index);
    if (event === undefined || cancelled(call)) return;
    await send(call, eventResponse(event));
    remaining -= 1;
  }
}

async function subscribeToAll(log: Log, call: ReadCall, options: Options): Promise<void> {
  const confirmation = new streamsPb.ReadResp.SubscriptionConfirmation();
  confirmation.setSubscriptionId(randomUUID());
  await send(call, new streamsPb.ReadResp().setConfirmation(confirmation));
  let index = subscriptionStart(log, options.getAll());
  const filter = compileFilter(options);
  const interval = checkpointInterval(options);
  let scanned = 0;
  let caughtUp = false;
  while (!cancelled(call)) {
    const event = log.at(index);
    if (event === undefined) {
      if (!caughtUp)
        await send(call, new streamsPb.ReadResp().setCaughtUp(new streamsPb.ReadResp.CaughtUp()));
      caughtUp = true;
      await nextWrite(log, call);
      continue;
    }
    index += 1;
    if (filter(event)) await send(call, eventResponse(event));
    if (interval !== undefined && ++scanned >= interval) {
      scanned = 0;
      await send(call, checkpoint(event.position));
    }
  }
}

/** Exclusive: the first record strictly after the requested position. */
function subscriptionStart(
  log: Log,
  all: StreamsPb.ReadReq.Options.AllOptions | undefined,
): number {
  if (all?.hasEnd() === true) return log.length;
  const position = all?.getPosition();
  if (position === undefined) return 0;
  const at = BigInt(position.getCommitPosition());
  const index = log.indexAtOrAfter(at);
  return log.at(index)?.position === at ? index + 1 : index;
}

function compileFilter(options: Options): Filter {
  const filter = options.getFilter();
  if (filter === undefined) return () => true;
  const onType = filter.hasEventType();
  const expression = onType ? filter.getEventType() : filter.getStreamIdentifier();
  const regex = expression?.getRegex() ?? '';
  const prefixes = expression?.getPrefixList() ?? [];
  const pattern = regex === '' ? undefined : new RegExp(regex);
  return (event) => {
    const subject = onType ? event.type : event.streamId;
    if (pattern !== undefined) return pattern.test(subject);
    return prefixes.some((prefix) => subject.startsWith(prefix));
  };
}

function checkpointInterval(options: Options): number | undefined {
  const filter = options.getFilter();
  if (filter === undefined) return undefined;
  const window = filter.hasMax() ? filter.getMax() : DEFAULT_WINDOW;
  return Math.max(1, window * Math.max(1, filter.getCheckpointintervalmultiplier()));
}

function checkpoint(position: bigint): StreamsPb.ReadResp {
  const message = new streamsPb.ReadResp.Checkpoint();
  message.setCommitPosition(position.toString());
  message.setPreparePosition(position.toString());
  return new streamsPb.ReadResp().setCheckpoint(message);
}

function count(options: Options): number {
  return options.hasCount() ? Number(BigInt(options.getCount())) : Number.MAX_SAFE_INTEGER;
}

function eventResponse(event: StoredEvent): StreamsPb.ReadResp {
  const recorded = new streamsPb.ReadResp.ReadEvent.RecordedEvent();
  recorded.setId(new sharedPb.UUID().setString(event.id));
  recorded.setStreamIdentifier(
    new sharedPb.StreamIdentifier().setStreamName(Buffer.from(event.streamId)),
  );
  recorded.setStreamRevision(event.revision.toString());
  recorded.setCommitPosition(event.position.toString());
  recorded.setPreparePosition(event.position.toString());
  recorded
    .getMetadataMap()
    .set('type', event.type)
    .set('content-type', event.contentType)
    .set('created', event.created.toString());
  recorded.setCustomMetadata(event.customMetadata);
  recorded.setData(event.data);
  const read = new streamsPb.ReadResp.ReadEvent();
  read.setEvent(recorded);
  read.setCommitPosition(event.position.toString());
  return new streamsPb.ReadResp().setEvent(read);
}

function cancelled(call: ReadCall): boolean {
  return call.cancelled || call.destroyed || call.writableEnded;
}

/** Writes one message, waiting for the client to drain when HTTP/2 flow control pushes back. */
async function send(call: ReadCall, message: StreamsPb.ReadResp): Promise<void> {
  if (cancelled(call)) return;
  if (call.write(message)) return;
  await new Promise<void>((resolve) => {
    const events = ['drain', 'cancelled', 'close'] as const;
    const done = () => {
      events.forEach((name) => call.off(name, done));
      resolve();
    };
    events.forEach((name) => call.once(name, done));
  });
}

/** Resolves on the next write to the log, or when the call ends. */
function nextWrite(log: Log, call: ReadCall): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      unsubscribe();
      call.off('cancelled', done);
      call.off('close', done);
      resolve();
    };
    const unsubscribe = log.onWrite(done);
    call.once('cancelled', done);
    call.once('close', done);
  });
}
