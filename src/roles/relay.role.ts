/**
 * The relay role: exactly one relay is active at a time. Every relay process waits for the
 * lease; the holder runs the relay from the stored checkpoint and stops it as soon as the lease
 * is lost; standbys take over when the holder dies (after the lease TTL) or steps down.
 */
import type { Lease } from '../streams/lease.js';
import type { Relay, RelayLogger } from '../streams/relay.js';

export type RelayRoleOptions = Readonly<{
  lease: Lease;
  /** A fresh relay for each term as leader; it starts from the shared checkpoint. */
  createRelay: () => Relay;
  logger: RelayLogger;
}>;

export type RelayRole = Readonly<{
  /** Whether this process currently runs the relay. */
  active(): boolean;
  /** The running relay, if active. */
  relay(): Relay | undefined;
  /** Stops the relay if running (saving its checkpoint), gives up the lease. */
  stop(): Promise<void>;
}>;

export function startRelayRole(options: RelayRoleOptions): RelayRole {
  const { lease, logger } = options;
  const stopping = new AbortController();
  let current: Relay | undefined;

  const loop = (async () => {
    while (!stopping.signal.aborted) {
      const held = await lease.acquire(stopping.signal);
      if (held === undefined) return;
      logger.info({ owner: lease.owner }, 'relay lease acquired; relaying');
      const relay = options.createRelay();
      try {
        await relay.start();
        current = relay;
        await untilAborted(AbortSignal.any([held, stopping.signal]));
      } catch (error) {
        logger.error({ err: error }, 'relay could not start; giving the lease back');
      } finally {
        current = undefined;
        await relay.stop();
        await lease.release();
      }
      if (!stopping.signal.aborted)
        logger.warn({ owner: lease.owner }, 'relay lease lost; standing by');
    }
  })();

  return {
    active: () => current !== undefined,
    relay: () => current,
    async stop() {
      stopping.abort();
      await loop;
      await lease.close();
    },
  };
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
