/**
 * A private `redis-server` for tests that stop, pause or restart Redis: on a free port, in a
 * temp dir, with persistence off, stopped by its pid. The shared Redis is never touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';
import { reachable } from './services.js';

export type RedisServer = Readonly<{
  url: string;
  port: number;
  pid(): number | undefined;
  /** Kills the server with SIGKILL and waits until it has exited. */
  kill(): Promise<void>;
  /** SIGSTOP: the port stays open, but nothing answers (a hung server). */
  pause(): void;
  resume(): void;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  /** Kills it and removes its directory. */
  stop(): Promise<void>;
}>;

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'streamfold-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  async function launch(): Promise<void> {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    const started = spawn('redis-server', [...args, '--dir', dir], { stdio: 'ignore' });
    child = started;
    const deadline = Date.now() + 10_000;
    while (!(await reachable(url, 200))) {
      if (started.exitCode !== null) throw new Error(`redis-server exited (${started.exitCode})`);
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function kill(): Promise<void> {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  }

  await launch();
  return {
    url,
    port,
    pid: () => child?.pid,
    kill,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
