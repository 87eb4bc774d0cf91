/** A worker for the worker-thread tests: echoes numbers doubled, dies on "crash". */
import { parentPort } from 'node:worker_threads';

const port = parentPort;
if (port === null) throw new Error('echo.worker must run on a worker thread');
port.on('message', (message: number | 'crash' | null) => {
  if (message === null) port.close();
  else if (message === 'crash') throw new Error('asked to crash');
  else port.postMessage(message * 2);
});
