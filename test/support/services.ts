/**
 * Finds the shared services integration suites run against. Without a service, a suite skips
 * with one loud line; under CI (CI=true) a missing service fails the run instead.
 */
import { Socket } from 'node:net';

export const NATS_URL = process.env.STREAMFOLD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
export const REDIS_URL = process.env.STREAMFOLD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const ESDB_URL = process.env.STREAMFOLD_TEST_ESDB_URL;
export const MONGO_URL = process.env.STREAMFOLD_TEST_MONGO_URL;

const inCi = process.env.CI === 'true' || process.env.CI === '1';

/** Whether something accepts TCP connections at the URL's host and port. */
export function reachable(url: string, timeoutMs = 1000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(Number(port), hostname.replace(/^\[|\]$/g, ''), () => done(true));
  });
}

/**
 * Resolves true when the suite should run. When the service is down: under CI, throws (the
 * suite fails); elsewhere, prints one loud line and resolves false (the caller skips).
 */
export async function requireService(name: string, url: string, suite: string): Promise<boolean> {
  if (await reachable(url)) return true;
  const message = `${name} is not reachable at ${url}`;
  if (inCi) throw new Error(`${message}; CI requires it for ${suite}`);
  console.warn(`\n!!! SKIPPED ${suite}: ${message} (set the URL or start the service) !!!\n`);
  return false;
}
