/**
 * How far a rebuild has got, in events. Positions are opaque, but every adapter encodes them
 * as zero-padded decimals (SQLite: the global sequence; EventStoreDB: `commit-prepare` byte
 * offsets), so the leading number orders and roughly measures the log. Where the position is
 * the sequence itself the counts are exact; otherwise they are extrapolated from the events
 * read so far and the share of the log they covered.
 */
import type { Position } from '../../streams/event-store.js';

export type ProgressFigures = Readonly<{
  eventsDone: number;
  /** Undefined while it cannot be told (nothing read yet on a store with byte positions). */
  eventsTotal: number | undefined;
  /** Events per second over this process's part of the job. */
  rate: number;
  etaSeconds: number | undefined;
}>;

const SEQUENCE = /^\d+$/;
const LEADING = /^(\d+)/;

/** The number of events up to and including `position`, when the position is a sequence. */
export function sequenceOf(position: Position | undefined): number | undefined {
  if (position === undefined) return 0;
  return SEQUENCE.test(position) ? Number(position) : undefined;
}

/** Events in the log up to `head`, exact for sequences, extrapolated otherwise. */
export function estimateTotal(
  done: number,
  reached: Position | undefined,
  head: Position | undefined,
): number | undefined {
  const exact = sequenceOf(head);
  if (exact !== undefined && sequenceOf(reached) !== undefined) return exact;
  const at = leading(reached);
  const end = leading(head);
  if (at === undefined || end === undefined || at <= 0 || done === 0) return undefined;
  return Math.max(done, Math.round((done * end) / at));
}

export function figures(
  done: number,
  total: number | undefined,
  doneHere: number,
  elapsedMs: number,
): ProgressFigures {
  const rate = elapsedMs > 0 ? (doneHere * 1000) / elapsedMs : 0;
  const left = total === undefined ? undefined : Math.max(0, total - done);
  return {
    eventsDone: done,
    eventsTotal: total,
    rate: Math.round(rate),
    etaSeconds: left === undefined || rate === 0 ? undefined : Math.ceil(left / rate),
  };
}

function leading(position: Position | undefined): number | undefined {
  const match = position === undefined ? null : LEADING.exec(position);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}
