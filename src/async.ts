/** Small async helpers shared by the long-lived loops (relay, projectors, workflows). */

/**
 * Exponential back-off with equal jitter: between half and all of the capped delay, so that
 * processes retrying the same failure spread out instead of retrying in lockstep.
 */
export function backoffDelay(failures: number, initialMs: number, maxMs: number): number {
  const capped = Math.min(maxMs, initialMs * 2 ** Math.max(0, failures - 1));
  return capped / 2 + Math.random() * (capped / 2);
}

/** Resolves after `ms`, or at once when the signal aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
