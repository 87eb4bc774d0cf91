/** Starts the whole embedded system in this process on a free port with a fresh data dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startStreamfold, type Running } from '../../src/main.js';

export type Embedded = Readonly<{
  url: string;
  running: Running;
  dataDir: string;
  stop(): Promise<void>;
}>;

export async function startEmbedded(env: Readonly<Record<string, string>> = {}): Promise<Embedded> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'streamfold-e2e-'));
  const config = loadConfig({ STREAMFOLD_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', ...env });
  const running = await startStreamfold(config, pino({ level: 'silent' }));
  return {
    url: running.url,
    running,
    dataDir,
    async stop() {
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
