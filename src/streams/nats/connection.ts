/**
 * Opening a NATS connection the way every Streamfold process needs it: reconnecting forever,
 * since the log, not the bus, is the source of truth and a process must outlive a NATS restart.
 */
import { connect, type NatsConnection } from 'nats';
import { ErrorCodes, StreamfoldError } from '../../errors.js';

export type NatsConnectOptions = Readonly<{
  /** `nats://host:port`; several servers may be given comma-separated. */
  url: string;
  /** Shown in the server's connection list. @default 'streamfold' */
  name?: string;
  /** Pause between reconnect attempts. @default 250 */
  reconnectWaitMs?: number;
}>;

/** Opens a connection that reconnects without limit; rejects if the first connect fails. */
export async function openNatsConnection(options: NatsConnectOptions): Promise<NatsConnection> {
  const servers = options.url.split(',').map((server) => server.trim());
  try {
    return await connect({
      servers,
      name: options.name ?? 'streamfold',
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectWaitMs ?? 250,
      reconnectJitter: 100,
      pingInterval: 5_000,
      maxPingOut: 3,
    });
  } catch (cause) {
    throw unavailable(`NATS is not reachable at ${options.url}`, cause);
  }
}

/**
 * NATS being down is a transient condition the caller retries; the catalogue has no dedicated
 * code for an unavailable dependency, so it is reported as OVERLOADED ("retry later").
 */
export function unavailable(message: string, cause: unknown): StreamfoldError {
  return new StreamfoldError(ErrorCodes.OVERLOADED, message, { cause });
}

/** Closes after flushing what is buffered; a connection that is already closed is fine. */
export async function closeNatsConnection(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  try {
    await nc.drain();
  } catch {
    await nc.close();
  }
}
