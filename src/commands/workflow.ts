/**
 * A workflow (reactor) consumes events from the bus like a projection does, but sends commands
 * and notifications instead of writing documents. Workflows run only on live events: a rebuild
 * or replay of projections never reaches them, and a workflow deployed on an existing log starts
 * at the log's head rather than reacting to history.
 */
import type { RecordedEvent } from '../streams/event-store.js';
import type { CommandHandler, HandleResult } from './command-handler.js';
import type { Command, Decider, DomainEvent } from './decider.js';
import { deterministicId } from './deterministic-id.js';

export type WorkflowContext = Readonly<{
  /** Loads aggregate state (read-only). */
  commands: CommandHandler;
  /**
   * Sends a command whose event ids derive from the triggering event and `step`, so a
   * redelivered trigger appends nothing new.
   */
  execute<C extends Command, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
    command: C,
    step: string,
  ): Promise<HandleResult<E>>;
  /** Aborts when the worker shuts down. */
  signal: AbortSignal;
}>;

export type Workflow = Readonly<{
  /** Kebab-case name, for example `order-processing`. */
  name: string;
  version: number;
  /** Event types the workflow reacts to; every other event is passed over. */
  handles: readonly string[];
  /**
   * Reacts to one event. Throwing means "try again": the runner retries with back-off and,
   * after the configured attempts, parks the event as a dead letter.
   */
  handle(event: RecordedEvent, context: WorkflowContext): Promise<void>;
}>;

export type WorkflowId = `workflow:${string}:v${number}`;

export function workflowId(workflow: Workflow): WorkflowId {
  return `workflow:${workflow.name}:v${workflow.version}`;
}

/**
 * The context a workflow handles `event` in: its commands carry ids derived from the workflow,
 * the event and the step, and the event as their cause.
 */
export function workflowContext(
  workflow: Workflow,
  event: RecordedEvent,
  commands: CommandHandler,
  signal: AbortSignal,
): WorkflowContext {
  const id = workflowId(workflow);
  return {
    commands,
    signal,
    execute: (decider, streamId, command, step) =>
      commands.execute(decider, streamId, command, {
        eventIds: (index) => deterministicId(id, event.id, step, String(index)),
        metadata: {
          correlationId: event.metadata.correlationId ?? event.id,
          causationId: event.id,
        },
      }),
  };
}
