import { describe, expect, it } from 'vitest';
import { startWorker } from '../../src/worker-thread.js';

const ECHO = new URL('../support/echo.worker.ts', import.meta.url);

describe('worker threads', () => {
  it('runs a TypeScript module on a thread and exchanges messages with it', async () => {
    const replies: number[] = [];
    const exits: Error[] = [];
    const worker = startWorker<number>(ECHO, undefined, {
      onMessage: (reply) => replies.push(reply),
      onExit: (error) => exits.push(error),
    });
    for (const n of [1, 2, 3]) worker.post(n);
    await expect.poll(() => replies, { timeout: 10_000 }).toEqual([2, 4, 6]);
    await worker.stop();
    expect(exits).toEqual([]);
  });

  it('reports a thread that dies without being asked to', async () => {
    let exit: Error | undefined;
    const worker = startWorker<number>(ECHO, undefined, {
      onMessage: () => undefined,
      onExit: (error) => (exit = error),
    });
    worker.post('crash');
    await expect.poll(() => exit?.message, { timeout: 10_000 }).toBe('asked to crash');
  });

  it('stops an idle thread and waits for it, with nothing else keeping the process alive', async () => {
    // In a child process whose only work is the thread: stop() must still be awaited to the end.
    const { execFileSync } = await import('node:child_process');
    const script = `
      import { startWorker } from ${JSON.stringify(new URL('../../src/worker-thread.ts', import.meta.url).href)};
      const worker = startWorker(new URL(${JSON.stringify(ECHO.href)}), undefined, {
        onMessage: () => undefined,
        onExit: () => undefined,
      });
      worker.idle();
      await worker.stop();
      console.log('stopped');
    `;
    const output = execFileSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
      },
    );
    expect(output.trim()).toBe('stopped');
  });
});
