/**
 * Read your writes: a query carrying `Streamfold-Min-Position` waits, event-driven and bounded,
 * until the projection behind it has processed the log up to that position.
 */
import { NotCaughtUpError, ValidationError } from '../errors.js';
import type { Position } from '../streams/event-store.js';

export const MIN_POSITION_HEADER = 'streamfold-min-position';
/** Lets one request wait less (or, up to the configured maximum, more) than the default. */
export const MAX_WAIT_HEADER = 'streamfold-max-wait-ms';
export const POSITION_HEADER = 'Streamfold-Position';

export type ProjectionProgress = Readonly<{
  /** How far the projection has surely got, or undefined before its first event. */
  position(projection: string): Position | undefined;
  /**
   * Resolves true once the projection has passed `position`, false after `timeoutMs`. With
   * `streamId`, only that stream's partition must have passed it: a document built from one
   * stream's events is complete once its partition is, without waiting for the others'
   * watermarks.
   */
  waitFor(
    projection: string,
    position: Position,
    timeoutMs: number,
    streamId?: string,
  ): Promise<boolean>;
}>;

const POSITION_SHAPE = /^[0-9A-Za-z:_.-]{1,64}$/;

export function parsePosition(raw: string | string[] | undefined): Position | undefined {
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value.trim() === '') return undefined;
  if (!POSITION_SHAPE.test(value.trim())) {
    throw new ValidationError(`Streamfold-Min-Position "${value}" is not a position`, {
      header: 'Streamfold-Min-Position',
    });
  }
  return value.trim();
}

/**
 * The wait a request asked for in `Streamfold-Max-Wait-Ms`, bounded by the configured maximum
 * so a client cannot hold a connection (and a waiter) open for longer than the operator allows.
 */
export function parseMaxWait(raw: string | string[] | undefined, maxMs: number): number {
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (value === undefined || value === '') return maxMs;
  if (!/^\d{1,9}$/.test(value)) {
    throw new ValidationError(`Streamfold-Max-Wait-Ms "${value}" is not a whole number of ms`, {
      header: 'Streamfold-Max-Wait-Ms',
    });
  }
  return Math.min(Number(value), maxMs);
}

export async function awaitPosition(
  progress: ProjectionProgress,
  projection: string,
  position: Position | undefined,
  timeoutMs: number,
  streamId?: string,
): Promise<void> {
  if (position === undefined) return;
  if (await progress.waitFor(projection, position, timeoutMs, streamId)) return;
  throw new NotCaughtUpError(
    `Projection ${projection} has not reached position ${position} within ${timeoutMs} ms`,
    { projection, position, reached: progress.position(projection) ?? null },
  );
}
