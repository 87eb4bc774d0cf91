/**
 * The stand-in's transaction log: one in-memory list of records in log order, indexed by
 * stream. It decides appends the way EventStoreDB's index writer does (`CheckCommit`):
 *
 * - `any` / `stream-exists`: when the first id is already in the stream, the write is
 *   idempotent if every id follows at consecutive revisions, and "corrupted idempotency"
 *   (reported as a wrong expected version) otherwise; when the first id is new, the events are
 *   appended, even if a later id is already in the stream.
 * - an exact revision (`no-stream` is revision -1) behind the stream's last revision: the write
 *   is idempotent when the ids sit exactly at the following revisions, and a wrong expected
 *   version otherwise; ahead of it, a wrong expected version; equal to it, appended.
 *
 * Revisions and positions are 64-bit (`bigint`). A position is the record's byte offset in a
 * notional log file, with commit = prepare for every event, as single-event prepares have on a
 * real server; offsets grow by the record's size, so positions are sparse like real ones.
 */

export type Expected =
  | Readonly<{ kind: 'any' }>
  | Readonly<{ kind: 'stream-exists' }>
  | Readonly<{ kind: 'revision'; revision: bigint }>;

export type ProposedEvent = Readonly<{
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
}>;

export type StoredEvent = ProposedEvent &
  Readonly<{
    streamId: string;
    revision: bigint;
    /** Commit and prepare position alike. */
    position: bigint;
    /** .NET ticks (100 ns) since the Unix epoch, as the server sends `created`. */
    created: bigint;
  }>;

export type AppendOutcome =
  | Readonly<{ kind: 'written'; revision: bigint; position: bigint }>
  | Readonly<{ kind: 'idempotent'; revision: bigint }>
  | Readonly<{ kind: 'wrong-expected-version'; current: bigint | undefined }>;

/** Revision of a stream without events, as the server counts. */
const NO_STREAM = -1n;
const RECORD_OVERHEAD = 96n;
const TICKS_PER_MS = 10_000n;

export class Log {
  readonly #records: StoredEvent[] = [];
  readonly #streams = new Map<string, StoredEvent[]>();
  readonly #listeners = new Set<() => void>();
  #nextPosition = 0n;

  get length(): number {
    return this.#records.length;
  }

  at(index: number): StoredEvent | undefined {
    return this.#records[index];
  }

  stream(streamId: string): readonly StoredEvent[] | undefined {
    return this.#streams.get(streamId);
  }

  /** Index of the first record whose position is at or after `position`. */
  indexAtOrAfter(position: bigint): number {
    let low = 0;
    let high = this.#records.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#records[middle]?.position ?? 0n) < position) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Called after every write; returns the unsubscribe function. */
  onWrite(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  append(streamId: string, expected: Expected, events: readonly ProposedEvent[]): AppendOutcome {
    const stream = this.#streams.get(streamId) ?? [];
    const current = BigInt(stream.length) - 1n;
    const verdict = decide(stream, current, expected, events);
    if (verdict !== 'write') return verdict;
    if (events.length === 0) {
      return { kind: 'written', revision: current, position: this.#nextPosition };
    }
    const created = BigInt(Date.now()) * TICKS_PER_MS;
    let stored: StoredEvent | undefined;
    for (const event of events) {
      const revision = BigInt(stream.length);
      stored = { ...event, streamId, revision, position: this.#nextPosition, created };
      this.#nextPosition += RECORD_OVERHEAD + BigInt(sizeOf(stored));
      stream.push(stored);
      this.#records.push(stored);
    }
    this.#streams.set(streamId, stream);
    for (const listener of [...this.#listeners]) listener();
    return {
      kind: 'written',
      revision: stored?.revision ?? current,
      position: stored?.position ?? 0n,
    };
  }
}

function decide(
  stream: readonly StoredEvent[],
  current: bigint,
  expected: Expected,
  events: readonly ProposedEvent[],
): AppendOutcome | 'write' {
  const wrong = {
    kind: 'wrong-expected-version',
    current: current === NO_STREAM ? undefined : current,
  } as const;
  if (expected.kind === 'stream-exists' && current === NO_STREAM) return wrong;
  if (expected.kind === 'any' || expected.kind === 'stream-exists') {
    return idempotentByFirstId(stream, events, wrong);
  }
  const revision = expected.revision;
  if (revision > current) return wrong;
  if (revision === current) return 'write';
  // Behind the stream: only an exact repeat of what followed `revision` is accepted.
  let next = revision;
  for (const event of events) {
    next += 1n;
    if (stream[Number(next)]?.id !== event.id) return wrong;
  }
  return { kind: 'idempotent', revision: next };
}

function idempotentByFirstId(
  stream: readonly StoredEvent[],
  events: readonly ProposedEvent[],
  wrong: AppendOutcome,
): AppendOutcome | 'write' {
  const first = events[0];
  const start = first === undefined ? -1 : stream.findIndex((stored) => stored.id === first.id);
  if (start === -1) return 'write';
  const consecutive = events.every((event, index) => stream[start + index]?.id === event.id);
  return consecutive ? { kind: 'idempotent', revision: BigInt(start + events.length - 1) } : wrong;
}

function sizeOf(event: StoredEvent): number {
  return (
    event.data.length + event.customMetadata.length + event.streamId.length + event.type.length
  );
}
