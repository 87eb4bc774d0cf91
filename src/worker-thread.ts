/**
 * Starts a module on a worker thread, from the build or from the TypeScript sources alike.
 * Under `tsx` or Vitest a worker does not inherit the TypeScript loader, so a `.ts` module is
 * started through a small bootstrap that registers tsx in the new thread first.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

export type StartedWorker = Readonly<{
  post(message: unknown): void;
  /** Lets the process exit while the thread waits for work (it is kept alive while busy). */
  idle(): void;
  /** Asks the thread to finish (it receives `null`) and waits until it has exited. */
  stop(): Promise<void>;
}>;

export type WorkerHandlers<Reply> = Readonly<{
  onMessage(reply: Reply): void;
  /** The thread ended without being asked to: an uncaught error, or it exited on its own. */
  onExit(error: Error): void;
}>;

export function startWorker<Reply>(
  module: URL,
  workerData: unknown,
  handlers: WorkerHandlers<Reply>,
): StartedWorker {
  const worker = module.pathname.endsWith('.ts')
    ? new Worker(tsBootstrap(module), { eval: true, workerData })
    : new Worker(module, { workerData });
  let stopping = false;
  let failure: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      resolve();
      if (stopping) return;
      handlers.onExit(failure ?? new Error(`the thread exited with code ${code}`));
    });
  });
  worker.on('error', (error) => (failure = error));
  worker.on('message', (reply: Reply) => handlers.onMessage(reply));
  return {
    post(message) {
      worker.ref();
      worker.postMessage(message);
    },
    idle: () => worker.unref(),
    async stop() {
      stopping = true;
      // An idle (unreferenced) thread would not keep the process alive until it has exited.
      worker.ref();
      worker.postMessage(null);
      await exited;
    },
  };
}

function tsBootstrap(module: URL): string {
  // tsx is a development dependency: only the sources need it, never the build.
  const require = createRequire(import.meta.url);
  const tsx = require
    .resolve('tsx/package.json')
    .replace(/package\.json$/, 'dist/esm/api/index.mjs');
  return `import(${JSON.stringify(pathToFileURL(tsx).href)})
    .then((api) => { api.register(); return import(${JSON.stringify(module.href)}); })
    .catch((error) => { process.nextTick(() => { throw error; }); });`;
}
