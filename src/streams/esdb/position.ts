/**
 * EventStoreDB positions are `{commit, prepare}` pairs of unsigned 64-bit log offsets, ordered
 * by commit, then prepare. Encoded as two 20-digit zero-padded decimals joined by '-', plain
 * string order is log order, and every 64-bit value fits.
 */
import { ValidationError } from '../../errors.js';
import type { Position } from '../event-store.js';

export type LogPosition = Readonly<{ commit: bigint; prepare: bigint }>;

const DIGITS = 20;
const MAX_U64 = 2n ** 64n - 1n;
const FORMAT = /^(\d{20})-(\d{20})$/;

export function encodePosition(position: LogPosition): Position {
  return `${pad(position.commit)}-${pad(position.prepare)}`;
}

/** `undefined` stands for the start of the log. */
export function decodePosition(position: Position | undefined): LogPosition | undefined {
  if (position === undefined) return undefined;
  const match = typeof position === 'string' ? FORMAT.exec(position) : null;
  const commit = match?.[1] === undefined ? undefined : BigInt(match[1]);
  const prepare = match?.[2] === undefined ? undefined : BigInt(match[2]);
  if (commit === undefined || prepare === undefined || commit > MAX_U64 || prepare > MAX_U64) {
    throw new ValidationError(
      'A position of the EventStoreDB log is two 20-digit numbers joined by "-"',
      { position },
    );
  }
  return { commit, prepare };
}

function pad(value: bigint): string {
  return value.toString(10).padStart(DIGITS, '0');
}
