/**
 * Appends with the embedded store's exact semantics on top of EventStoreDB's.
 *
 * The server's own idempotency is narrower than the port's: with `any` it only recognises a
 * retry by its first id, and an append that repeats an old id after a new one is written
 * again; its id cache is bounded. So the adapter decides from the stream itself, as the SQLite
 * store does: it reads the stream, recognises a retry (the ids at consecutive revisions → the
 * original result) or an overlap (→ conflict), checks the caller's expectation, and then
 * appends with the exact revision it saw. The server's revision check makes that safe against
 * other writers: when one got in between, the server answers "wrong expected version" and the
 * decision is taken again on the new stream. The price is one stream read per append; an
 * append to a new stream with `no-stream`, the common creation path, skips it.
 */
import {
  NO_STREAM,
  WrongExpectedVersionError,
  type AppendResult as ClientAppendResult,
  type EventData,
} from '@eventstore/db-client';
import { ConflictError, OverloadedError } from '../../errors.js';
import type { AppendResult, ExpectedRevision, RecordedEvent } from '../event-store.js';
import { encodePosition } from './position.js';

/** What the append needs from the store: the client call and a full read of one stream. */
export type AppendDriver = Readonly<{
  write(streamId: string, events: EventData[], revision: number): Promise<ClientAppendResult>;
  readStream(streamId: string): Promise<readonly RecordedEvent[]>;
}>;

type Decision =
  | Readonly<{ kind: 'replay'; result: AppendResult }>
  | Readonly<{ kind: 'conflict'; current: number; overlap: boolean }>
  | Readonly<{ kind: 'write'; current: number }>;

/** The revision of a stream without events. */
const NONE = -1;

export async function appendExactly(
  driver: AppendDriver,
  streamId: string,
  events: EventData[],
  expected: ExpectedRevision,
  maxAttempts: number,
): Promise<AppendResult> {
  let lastRefusal: unknown;
  if (expected === 'no-stream') {
    const first = await attempt(driver, streamId, events, NONE);
    if (first.kind === 'done') return first.result;
    lastRefusal = first.refusal;
  }
  for (let round = 0; round < maxAttempts; round++) {
    const stream = await driver.readStream(streamId);
    const decision = decide(stream, events, expected);
    if (decision.kind === 'replay') return decision.result;
    if (decision.kind === 'conflict') {
      const cause = decision.overlap ? overlapError(streamId) : lastRefusal;
      throw new ConflictError(streamId, render(expected), render(decision.current), cause);
    }
    const outcome = await attempt(driver, streamId, events, decision.current);
    if (outcome.kind === 'done') return outcome.result;
    lastRefusal = outcome.refusal;
  }
  throw new OverloadedError(
    `Stream ${streamId} kept changing during ${maxAttempts} append attempts; retry later`,
  );
}

type Attempt =
  | Readonly<{ kind: 'done'; result: AppendResult }>
  | Readonly<{ kind: 'refused'; refusal: WrongExpectedVersionError }>;

async function attempt(
  driver: AppendDriver,
  streamId: string,
  events: EventData[],
  revision: number,
): Promise<Attempt> {
  let written: ClientAppendResult;
  try {
    written = await driver.write(streamId, events, revision);
  } catch (error) {
    if (error instanceof WrongExpectedVersionError) return { kind: 'refused', refusal: error };
    throw error;
  }
  const nextExpectedRevision = Number(written.nextExpectedRevision);
  if (written.position !== undefined) {
    return {
      kind: 'done',
      result: { nextExpectedRevision, position: encodePosition(written.position) },
    };
  }
  // The server recognised a concurrent retry of these very events and sent no position.
  const stream = await driver.readStream(streamId);
  const last = stream[nextExpectedRevision];
  if (last === undefined)
    throw new Error(`Stream ${streamId} has no revision ${nextExpectedRevision}`);
  return { kind: 'done', result: { nextExpectedRevision, position: last.position } };
}

/** The SQLite store's rules: a retry gets the original result; any other overlap conflicts. */
export function decide(
  stream: readonly RecordedEvent[],
  events: readonly EventData[],
  expected: ExpectedRevision,
): Decision {
  const current = stream.length - 1;
  const revisionOf = new Map(stream.map((event) => [event.id.toLowerCase(), event]));
  const found = events.map((event) => revisionOf.get(event.id.toLowerCase()));
  if (found.some((event) => event !== undefined)) {
    const first = found[0];
    const last = found[found.length - 1];
    const isRetry =
      first !== undefined &&
      found.every((event, index) => event?.revision === first.revision + index);
    if (isRetry && last !== undefined) {
      return {
        kind: 'replay',
        result: { nextExpectedRevision: last.revision, position: last.position },
      };
    }
    return { kind: 'conflict', current, overlap: true };
  }
  return holds(expected, current)
    ? { kind: 'write', current }
    : { kind: 'conflict', current, overlap: false };
}

function holds(expected: ExpectedRevision, current: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no-stream') return current === NONE;
  if (expected === 'stream-exists') return current !== NONE;
  return expected === current;
}

/** How conflicts show revisions, as the embedded store does. */
function render(revision: ExpectedRevision): string {
  return revision === NONE ? 'no-stream' : String(revision);
}

function overlapError(streamId: string): Error {
  return new Error(
    `Some of the appended event ids are already in stream ${streamId}, but not as one consecutive run in the same order`,
  );
}

/** The client's expected revision for "the stream is at `revision`". */
export function clientRevision(revision: number): typeof NO_STREAM | bigint {
  return revision === NONE ? NO_STREAM : BigInt(revision);
}
