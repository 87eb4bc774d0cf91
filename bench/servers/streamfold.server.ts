/**
 * Streamfold as `npm start` runs it, through the composition root, with the environment a
 * benchmark chooses (data directory, adapters). Logging is off: it is not what is measured.
 */
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startStreamfold } from '../../src/main.js';
import { childArg, reportReady } from '../lib/children.js';

export type StreamfoldServerArg = Readonly<{
  dataDir: string;
  env?: Readonly<Record<string, string>>;
}>;

const arg = childArg<StreamfoldServerArg>();
const config = loadConfig({
  ...arg.env,
  STREAMFOLD_DATA_DIR: arg.dataDir,
  PORT: '0',
  HOST: '127.0.0.1',
  STREAMFOLD_LOG_LEVEL: 'silent',
});
const running = await startStreamfold(config, pino({ level: 'silent' }));
reportReady(running.url);
process.once('SIGTERM', () => {
  running.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
