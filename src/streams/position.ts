import type { Position } from './event-store.js';

/**
 * Positions are fixed-width strings chosen by each adapter so that string order is log order.
 * `undefined` stands for "before the first event".
 */
export function comparePositions(a: Position | undefined, b: Position | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return a < b ? -1 : 1;
}

export function isAfter(a: Position | undefined, b: Position | undefined): boolean {
  return comparePositions(a, b) > 0;
}

export function maxPosition(
  a: Position | undefined,
  b: Position | undefined,
): Position | undefined {
  return comparePositions(a, b) >= 0 ? a : b;
}

export function minPosition(
  a: Position | undefined,
  b: Position | undefined,
): Position | undefined {
  return comparePositions(a, b) <= 0 ? a : b;
}
