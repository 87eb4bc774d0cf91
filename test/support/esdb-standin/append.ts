/**
 * `Streams.Append` (client streaming: options, then one message per event) and
 * `Streams.BatchAppend` (bidirectional: requests correlated by id, each split over chunks until
 * `is_final`), answered as EventStoreDB answers them: a success carries the stream's revision
 * and the position of the last written event, an idempotent repeat carries the revision and no
 * position, a wrong expected version carries the stream's actual revision (or no stream).
 */
import { status, type ServerDuplexStream, type ServerReadableStream } from '@grpc/grpc-js';
import type * as StreamsPb from '@eventstore/db-client/generated/streams_pb.js';
import type { AppendOutcome, Expected, Log, ProposedEvent } from './log.js';
import { anyPb, emptyPb, sharedPb, statusPb, streamsPb } from './proto.js';

type ProposedMessage =
  StreamsPb.AppendReq.ProposedMessage | StreamsPb.BatchAppendReq.ProposedMessage;

/** `google.rpc.Code.FAILED_PRECONDITION`, the code the server puts on batch append errors. */
const FAILED_PRECONDITION = 9;

export function handleAppend(log: Log) {
  return (
    call: ServerReadableStream<StreamsPb.AppendReq, StreamsPb.AppendResp>,
    callback: (
      error: { code: number; details: string } | null,
      value?: StreamsPb.AppendResp,
    ) => void,
  ): void => {
    let options: StreamsPb.AppendReq.Options | undefined;
    const events: ProposedEvent[] = [];
    call.on('data', (request: StreamsPb.AppendReq) => {
      if (request.hasOptions()) options = request.getOptions();
      const message = request.getProposedMessage();
      if (message !== undefined) events.push(toProposed(message));
    });
    call.on('end', () => {
      if (options === undefined) {
        callback({
          code: status.INVALID_ARGUMENT,
          details: 'The first message must carry options',
        });
        return;
      }
      const expected = expectedOfAppend(options);
      const outcome = log.append(streamName(options.getStreamIdentifier()), expected, events);
      callback(null, appendResponse(outcome, expected));
    });
  };
}

function expectedOfAppend(options: StreamsPb.AppendReq.Options): Expected {
  if (options.hasRevision()) return { kind: 'revision', revision: BigInt(options.getRevision()) };
  if (options.hasNoStream()) return { kind: 'revision', revision: -1n };
  if (options.hasStreamExists()) return { kind: 'stream-exists' };
  return { kind: 'any' };
}

function appendResponse(outcome: AppendOutcome, expected: Expected): StreamsPb.AppendResp {
  const response = new streamsPb.AppendResp();
  if (outcome.kind === 'wrong-expected-version') {
    const wrong = new streamsPb.AppendResp.WrongExpectedVersion();
    if (outcome.current === undefined) wrong.setCurrentNoStream(new sharedPb.Empty());
    else wrong.setCurrentRevision(outcome.current.toString());
    if (expected.kind === 'any') wrong.setExpectedAny(new sharedPb.Empty());
    else if (expected.kind === 'stream-exists') wrong.setExpectedStreamExists(new sharedPb.Empty());
    else if (expected.revision === -1n) wrong.setExpectedNoStream(new sharedPb.Empty());
    else wrong.setExpectedRevision(expected.revision.toString());
    return response.setWrongExpectedVersion(wrong);
  }
  const success = new streamsPb.AppendResp.Success();
  if (outcome.revision < 0n) success.setNoStream(new sharedPb.Empty());
  else success.setCurrentRevision(outcome.revision.toString());
  if (outcome.kind === 'written') {
    const position = new streamsPb.AppendResp.Position();
    position.setCommitPosition(outcome.position.toString());
    position.setPreparePosition(outcome.position.toString());
    success.setPosition(position);
  } else {
    success.setNoPosition(new sharedPb.Empty());
  }
  return response.setSuccess(success);
}

type PendingBatch = { options: StreamsPb.BatchAppendReq.Options; events: ProposedEvent[] };

export function handleBatchAppend(log: Log) {
  return (call: ServerDuplexStream<StreamsPb.BatchAppendReq, StreamsPb.BatchAppendResp>): void => {
    const pending = new Map<string, PendingBatch>();
    call.on('data', (request: StreamsPb.BatchAppendReq) => {
      const correlation = request.getCorrelationId()?.getString() ?? '';
      const options = request.getOptions();
      const batch = pending.get(correlation) ?? (options && { options, events: [] });
      if (batch === undefined) return;
      batch.events.push(...request.getProposedMessagesList().map(toProposed));
      if (!request.getIsFinal()) {
        pending.set(correlation, batch);
        return;
      }
      pending.delete(correlation);
      call.write(batchResponse(log, correlation, batch));
    });
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  };
}

function batchResponse(
  log: Log,
  correlation: string,
  batch: PendingBatch,
): StreamsPb.BatchAppendResp {
  const { options, events } = batch;
  const expected = expectedOfBatch(options);
  const outcome = log.append(streamName(options.getStreamIdentifier()), expected, events);
  const response = new streamsPb.BatchAppendResp();
  response.setCorrelationId(new sharedPb.UUID().setString(correlation));
  response.setStreamIdentifier(options.getStreamIdentifier());
  if (expected.kind === 'any') response.setAny(new emptyPb.Empty());
  else if (expected.kind === 'stream-exists') response.setStreamExists(new emptyPb.Empty());
  else if (expected.revision === -1n) response.setNoStream(new emptyPb.Empty());
  else response.setStreamPosition(expected.revision.toString());
  if (outcome.kind === 'wrong-expected-version') {
    return response.setError(wrongExpectedVersionStatus(outcome.current, expected));
  }
  const success = new streamsPb.BatchAppendResp.Success();
  if (outcome.revision < 0n) success.setNoStream(new emptyPb.Empty());
  else success.setCurrentRevision(outcome.revision.toString());
  if (outcome.kind === 'written') {
    const position = new sharedPb.AllStreamPosition();
    position.setCommitPosition(outcome.position.toString());
    position.setPreparePosition(outcome.position.toString());
    success.setPosition(position);
  } else {
    success.setNoPosition(new emptyPb.Empty());
  }
  return response.setSuccess(success);
}

function expectedOfBatch(options: StreamsPb.BatchAppendReq.Options): Expected {
  if (options.hasStreamPosition()) {
    return { kind: 'revision', revision: BigInt(options.getStreamPosition()) };
  }
  if (options.hasNoStream()) return { kind: 'revision', revision: -1n };
  if (options.hasStreamExists()) return { kind: 'stream-exists' };
  return { kind: 'any' };
}

/** Batch append errors are `google.rpc.Status` with the typed detail packed in an `Any`. */
function wrongExpectedVersionStatus(current: bigint | undefined, expected: Expected) {
  const detail = new sharedPb.WrongExpectedVersion();
  if (current === undefined) detail.setCurrentNoStream(new emptyPb.Empty());
  else detail.setCurrentStreamRevision(current.toString());
  if (expected.kind === 'any') detail.setExpectedAny(new emptyPb.Empty());
  else if (expected.kind === 'stream-exists') detail.setExpectedStreamExists(new emptyPb.Empty());
  else if (expected.revision === -1n) detail.setExpectedNoStream(new emptyPb.Empty());
  else detail.setExpectedStreamPosition(expected.revision.toString());
  const packed = new anyPb.Any();
  packed.pack(detail.serializeBinary(), 'event_store.client.WrongExpectedVersion');
  const result = new statusPb.Status();
  result.setCode(FAILED_PRECONDITION);
  result.setMessage('WrongExpectedVersion');
  result.setDetails(packed);
  return result;
}

function toProposed(message: ProposedMessage): ProposedEvent {
  const metadata = message.getMetadataMap();
  return {
    id: message.getId()?.getString() ?? '',
    type: metadata.get('type') ?? '',
    contentType: metadata.get('content-type') ?? 'application/octet-stream',
    data: message.getData_asU8(),
    customMetadata: message.getCustomMetadata_asU8(),
  };
}

export function streamName(identifier: { getStreamName_asU8(): Uint8Array } | undefined): string {
  return Buffer.from(identifier?.getStreamName_asU8() ?? new Uint8Array()).toString('utf8');
}
