/**
 * A private `nats-server -js` on a free port with its own data directory, for tests that kill or
 * restart NATS. The shared server is never touched. The data directory outlives restarts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { reachable } from './services.js';
import { freePort } from './free-port.js';

export type NatsServer = Readonly<{
  url: string;
  port: number;
  dataDir: string;
  pid: () => number | undefined;
  /** Stops the process with the signal and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it for good and removes its data. */
  dispose(): Promise<void>;
}>;

export async function startNatsServer(): Promise<NatsServer> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'streamfold-nats-'));
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function start(): Promise<void> {
    const spawned = spawn(
      'nats-server',
      ['-js', '-sd', dataDir, '-a', '127.0.0.1', '-p', String(port)],
      {
        stdio: 'ignore',
      },
    );
    child = spawned;
    exited = new Promise((resolve) => spawned.once('exit', () => resolve()));
    const deadline = Date.now() + 15_000;
    while (!(await reachable(url, 500))) {
      if (spawned.exitCode !== null) throw new Error(`nats-server exited (${spawned.exitCode})`);
      if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    running.kill(signal);
    await exited;
  }

  await start();
  return {
    url,
    port,
    dataDir,
    pid: () => child?.pid,
    stop,
    start,
    async dispose() {
      await stop('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
