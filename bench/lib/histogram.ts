/** Latency recording with HdrHistogram, in microseconds, summarised in milliseconds. */
import * as hdr from 'hdr-histogram-js';
import type { Latency } from './types.js';

export type Recorder = Readonly<{
  record(ms: number): void;
  summary(): Latency;
}>;

export function createRecorder(): Recorder {
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  return {
    record(ms) {
      histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
    },
    summary() {
      const at = (p: number) => round(histogram.getValueAtPercentile(p) / 1000);
      return {
        p50: at(50),
        p99: at(99),
        p999: at(99.9),
        max: round(histogram.maxValue / 1000),
        count: histogram.totalCount,
      };
    },
  };
}

export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
