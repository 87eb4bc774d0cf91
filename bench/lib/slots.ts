/** Rows for a variant that could not run in this build: named, with the reason, no number. */
import { NotAvailable } from './streamfold.js';
import type { Row } from './types.js';

export async function orSlot(
  benchmark: string,
  names: readonly Readonly<{ name: string; unit: string; target?: string }>[],
  measure: () => Promise<readonly Row[]>,
): Promise<readonly Row[]> {
  try {
    return await measure();
  } catch (error) {
    if (!(error instanceof NotAvailable)) throw error;
    return names.map((slot) => ({
      benchmark,
      name: slot.name,
      value: null,
      unit: slot.unit,
      ...(slot.target === undefined ? {} : { target: slot.target }),
      note: `not measured: ${error.message}`,
    }));
  }
}
