/**
 * Runs a decider against a stream: load, fold, decide, append with the revision it loaded.
 * Aggregate states are cached per stream so that a hot stream is caught up from its cached
 * revision rather than folded from the start on every command.
 */
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { ConflictError } from '../errors.js';
import type {
  EventMetadata,
  EventStore,
  JsonObject,
  NewEvent,
  Position,
  RecordedEvent,
} from '../streams/event-store.js';
import type { Command, Decider, DomainEvent } from './decider.js';
import { createKeyedQueue } from './keyed-queue.js';

export type CommandMetadata = Readonly<{
  correlationId?: string;
  causationId?: string;
}>;

export type HandleOptions = Readonly<{
  /**
   * The revision the client last saw (for example from `If-Match`). When given, a stream at
   * another revision is a conflict; when absent, conflicts are retried against fresh state.
   */
  expectedRevision?: number | 'no-stream';
  metadata?: CommandMetadata;
  /**
   * Ids for the decided events, by index. Workflows derive them from the triggering event so
   * that a redelivered trigger appends nothing new.
   */
  eventIds?: (index: number) => string;
}>;

export type HandleResult<E> = Readonly<{
  /** The events the command appended; empty when the decider decided nothing. */
  events: readonly E[];
  /** The stream's revision after the command, -1 for a stream that still does not exist. */
  revision: number;
  /** The log position of the stream's last event after the command. */
  position: Position | undefined;
}>;

type Cached = {
  state: unknown;
  revision: number;
  /** Undefined while the append that produced this state is in flight. */
  position: Position | undefined;
  pending?: Promise<{ position: Position }>;
};

async function settledPosition(pending: Promise<{ position: Position }> | undefined) {
  return pending?.then(
    (result) => result.position,
    () => undefined,
  );
}

export type CommandHandlerOptions = Readonly<{
  store: EventStore;
  /** Clock for `occurredAt`. @default () => new Date().toISOString() */
  now?: () => string;
  /** @default 3 */
  maxConflictRetries?: number;
  /** How many aggregate states to keep. @default 10_000 */
  cachedStreams?: number;
}>;

export type AggregateState<S> = Readonly<{
  state: S;
  revision: number;
  position: Position | undefined;
}>;

export type CommandHandler = Readonly<{
  /** Decides the command against the stream's current state and appends what it decides. */
  execute<C extends Command, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
    command: C,
    options?: HandleOptions,
  ): Promise<HandleResult<E>>;
  /** The stream's current state, for handlers that need another aggregate's facts. */
  load<C extends Command, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
  ): Promise<AggregateState<S>>;
}>;

export function createCommandHandler(options: CommandHandlerOptions): CommandHandler {
  const { store } = options;
  const now = options.now ?? (() => new Date().toISOString());
  const maxRetries = options.maxConflictRetries ?? 3;
  const states = new LRUCache<string, Cached>({ max: options.cachedStreams ?? 10_000 });
  // Streams another writer (a workflow in another process, another API process) has appended
  // to behind our cache: for those, reading first is cheaper than deciding on a stale state
  // and conflicting. Forgotten like cached states, so a stream that calms down is trusted again.
  const contended = new LRUCache<string, true>({ max: options.cachedStreams ?? 10_000 });
  const queue = createKeyedQueue();

  async function load<S>(decider: Decider<Command, DomainEvent, S>, streamId: string) {
    const cached = states.get(streamId);
    const base: Cached = cached ?? {
      state: decider.initialState(),
      revision: -1,
      position: undefined,
    };
    const newer = await store.readStream(streamId, { fromRevision: base.revision + 1 });
    const current = fold(decider, base, newer);
    if (current !== cached) states.set(streamId, current);
    return current;
  }

  /**
   * Decides in the stream's turn, then lets the next command of the stream decide against the
   * state this one is about to commit while its append is still in flight. Same-stream commands
   * thus share a group commit instead of each waiting for the previous one's fsync; an append
   * that fails drops the cached state, and whatever was decided on top of it then fails its
   * expected-revision check and is decided again.
   */
  async function decideAndAppend<C extends Command, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
    command: C,
    handleOptions: HandleOptions,
  ) {
    const generic = decider as unknown as Decider<Command, DomainEvent, S>;
    // A cached state is trusted without reading the stream: if another process appended
    // meanwhile, the append's expected revision conflicts and the retry reads the stream. Only
    // outcomes a stale state could get wrong without a conflict read the stream first: a
    // client's expected revision, a refusal, and a decision to append nothing.
    const trusted = handleOptions.expectedRevision === undefined && !contended.has(streamId);
    const cached = trusted ? states.get(streamId) : undefined;
    let current = cached ?? (await load(generic, streamId));
    assertExpected(streamId, handleOptions.expectedRevision, current.revision);
    let decided: readonly E[];
    try {
      decided = decider.decide(command, current.state as S);
    } catch (refusal) {
      if (current !== cached) throw refusal;
      current = await load(generic, streamId);
      decided = decider.decide(command, current.state as S);
    }
    if (decided.length === 0 && current === cached) {
      current = await load(generic, streamId);
      decided = decider.decide(command, current.state as S);
    }
    if (decided.length === 0) return { decided, current, appending: undefined };
    const events = decided.map((event, index) => toNewEvent(event, index, handleOptions, now()));
    const appending = store.append(streamId, events, {
      expectedRevision: current.revision < 0 ? 'no-stream' : current.revision,
    });
    let state = current.state as S;
    for (const event of decided) state = decider.evolve(state, event);
    const next: Cached = {
      state,
      revision: current.revision + decided.length,
      position: undefined,
      pending: appending,
    };
    states.set(streamId, next);
    appending.then(
      (result) => {
        if (states.get(streamId) === next)
          states.set(streamId, {
            state: next.state,
            revision: next.revision,
            position: result.position,
          });
      },
      () => states.delete(streamId),
    );
    return { decided, current, appending };
  }

  async function execute<C extends Command, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
    command: C,
    handleOptions: HandleOptions = {},
  ): Promise<HandleResult<E>> {
    for (let attempt = 0; ; attempt++) {
      const step = await queue(streamId, () =>
        decideAndAppend(decider, streamId, command, handleOptions),
      );
      if (step.appending === undefined) {
        const position = step.current.position ?? (await settledPosition(step.current.pending));
        return { events: [], revision: step.current.revision, position };
      }
      try {
        const result = await step.appending;
        return {
          events: step.decided,
          revision: result.nextExpectedRevision,
          position: result.position,
        };
      } catch (error) {
        states.delete(streamId);
        if (error instanceof ConflictError) contended.set(streamId, true);
        const retry =
          error instanceof ConflictError && handleOptions.expectedRevision === undefined;
        if (!retry || attempt >= maxRetries) throw error;
      }
    }
  }

  return {
    execute: (decider, streamId, command, handleOptions) =>
      execute(decider, streamId, command, handleOptions),
    load: async <C extends Command, E extends DomainEvent, S>(
      decider: Decider<C, E, S>,
      streamId: string,
    ) => {
      const current = await load(decider as unknown as Decider<Command, DomainEvent, S>, streamId);
      return { state: current.state as S, revision: current.revision, position: current.position };
    },
  };
}

function fold<S>(
  decider: Decider<Command, DomainEvent, S>,
  base: Cached,
  events: readonly RecordedEvent[],
): Cached {
  let state = base.state as S;
  for (const event of events) state = decider.evolve(state, { type: event.type, data: event.data });
  const last = events.at(-1);
  return last === undefined ? base : { state, revision: last.revision, position: last.position };
}

function assertExpected(
  streamId: string,
  expected: HandleOptions['expectedRevision'],
  actual: number,
) {
  if (expected === undefined) return;
  const wanted = expected === 'no-stream' ? -1 : expected;
  if (wanted !== actual) {
    throw new ConflictError(streamId, String(expected), actual < 0 ? 'no-stream' : String(actual));
  }
}

function toNewEvent(
  event: DomainEvent,
  index: number,
  options: HandleOptions,
  occurredAt: string,
): NewEvent {
  const metadata: Record<string, string | number> = { occurredAt, schemaVersion: 1 };
  if (options.metadata?.correlationId !== undefined)
    metadata.correlationId = options.metadata.correlationId;
  if (options.metadata?.causationId !== undefined)
    metadata.causationId = options.metadata.causationId;
  return {
    id: options.eventIds?.(index) ?? randomUUID(),
    type: event.type,
    data: event.data as JsonObject,
    metadata: metadata as EventMetadata,
  };
}
