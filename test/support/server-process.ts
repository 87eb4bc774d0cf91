/**
 * Runs the real server (`src/main.ts`) as a child process, as `npm start` would, so tests can
 * kill it with any signal and start it again on the same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from './free-port.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

export type ServerProcess = Readonly<{
  url: string;
  child: ChildProcess;
  /** Everything the process wrote, for failure messages. */
  output: () => string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}>;

export async function startServerProcess(
  env: Readonly<Record<string, string>>,
  options: { timeoutMs?: number } = {},
): Promise<ServerProcess> {
  const port = env.PORT ?? String(await freePort());
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, STREAMFOLD_LOG_LEVEL: 'info', ...env, PORT: port, HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await waitForServing(child, () => output, exited, options.timeoutMs ?? 60_000);
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => output,
    exited,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

async function waitForServing(
  child: ChildProcess,
  output: () => string,
  exited: Promise<unknown>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let done = false;
  void exited.then(() => (done = true));
  while (!output().includes('Streamfold is serving')) {
    if (done) throw new Error(`server exited before serving:\n${output()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start within ${timeoutMs} ms:\n${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
