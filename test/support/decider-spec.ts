/**
 * Given/when/then for deciders, after Emmett's DeciderSpecification:
 *
 *   spec(orderDecider).given([placed]).when(confirm).then([confirmed]);
 *   spec(orderDecider).given([]).when(confirm).thenThrows(NotFoundError);
 *   spec(orderDecider).given([shipped]).when(cancel).thenThrows({ rule: 'order-not-cancellable' });
 *
 * Events and command are frozen, so a decider that mutates its input fails loudly.
 */
import { expect } from 'vitest';
import type { Command, Decider, DomainEvent } from '../../src/commands/decider.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any constructor of an error
type ErrorClass = abstract new (...args: any[]) => Error;

/** Properties the thrown error must have, for example `{ code, rule, details }`. */
export type ErrorMatch = Readonly<Record<string, unknown>>;

export type Then<E> = Readonly<{
  /** The command decides exactly these events, in order. */
  then(expected: readonly E[]): void;
  /** The command decides no events (for example an idempotent retry). */
  thenNothing(): void;
  /** The command throws an error of this class and/or with these properties. */
  thenThrows(expected: ErrorClass | ErrorMatch, match?: ErrorMatch): void;
}>;

export function spec<C extends Command, E extends DomainEvent, S>(decider: Decider<C, E, S>) {
  return {
    given: (events: readonly E[]) => ({
      when: (command: C): Then<E> => {
        const decide = (): readonly E[] => {
          const state = events.map(deepFreeze).reduce(decider.evolve, decider.initialState());
          return decider.decide(deepFreeze(command), state);
        };
        return {
          then: (expected) => expect(decide()).toStrictEqual(expected),
          thenNothing: () => expect(decide()).toStrictEqual([]),
          thenThrows: (expected, match) => expectThrows(decide, expected, match),
        };
      },
    }),
  };
}

function expectThrows(
  run: () => unknown,
  expected: ErrorClass | ErrorMatch,
  match: ErrorMatch | undefined,
): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected the command to throw').toBeDefined();
  if (typeof expected === 'function') expect(thrown).toBeInstanceOf(expected);
  else expect(thrown).toMatchObject(expected);
  if (match !== undefined) expect(thrown).toMatchObject(match);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
