/**
 * The write model's shape, after Emmett: a decider turns a command and the current state into
 * events, and evolve folds events into state. Both are pure.
 */

export type Command<Type extends string = string, Data = unknown> = Readonly<{
  type: Type;
  data: Data;
}>;

export type DomainEvent<Type extends string = string, Data = unknown> = Readonly<{
  type: Type;
  data: Data;
}>;

export type Decider<C extends Command, E extends DomainEvent, S> = Readonly<{
  initialState: () => S;
  /** Returns the events the command causes, or throws a `RuleViolation`. */
  decide: (command: C, state: S) => readonly E[];
  evolve: (state: S, event: E) => S;
}>;
