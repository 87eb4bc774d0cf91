/**
 * Options of the MongoDB read store, validated once. Read preference and write concern come
 * from the options, else from the connection string, else the safe defaults (primary,
 * majority): a read model read from a lagging secondary or written without a majority could
 * go back in time after a failover, which the position guard cannot detect.
 */
import type { MongoClientOptions } from 'mongodb';
import { ConfigError } from '../../errors.js';

export type MongoReadPreference =
  'primary' | 'primaryPreferred' | 'secondary' | 'secondaryPreferred' | 'nearest';

export type MongoWriteConcern = Readonly<{
  /** Acknowledgements to wait for. @default 'majority' */
  w?: number | 'majority';
  /** Wait for the journal. @default the server's default */
  journal?: boolean;
  /** Give up waiting for the acknowledgements after this long. @default no limit */
  wtimeoutMs?: number;
}>;

export type MongoReadStoreOptions = Readonly<{
  /** A `mongodb://` or `mongodb+srv://` connection string. */
  url: string;
  /** @default the connection string's database, else `'streamfold'` */
  database?: string;
  /** Where reads go. @default the connection string's `readPreference`, else `'primary'` */
  readPreference?: MongoReadPreference;
  /** @default the connection string's `w`/`journal`/`wtimeoutMS`, else `{ w: 'majority' }` */
  writeConcern?: MongoWriteConcern;
  /** How long an operation waits to find a suitable server. @default 10_000 */
  serverSelectionTimeoutMs?: number;
}>;

export type ResolvedOptions = Readonly<{
  url: string;
  database: string;
  client: MongoClientOptions;
}>;

const READ_PREFERENCES = new Set<string>([
  'primary',
  'primaryPreferred',
  'secondary',
  'secondaryPreferred',
  'nearest',
]);
const DATABASE_NAME = /^[^/\\. "$*<>:|?]{1,63}$/;

export function resolveOptions(options: MongoReadStoreOptions): ResolvedOptions {
  const { url, serverSelectionTimeoutMs = 10_000 } = options;
  if (typeof url !== 'string' || !/^mongodb(\+srv)?:\/\//.test(url)) {
    throw new ConfigError('The MongoDB read store needs a mongodb:// or mongodb+srv:// URL');
  }
  const params = queryParams(url);
  const database = options.database ?? (databaseOf(url) || 'streamfold');
  if (!DATABASE_NAME.test(database)) {
    throw new ConfigError(`Invalid MongoDB database name ${JSON.stringify(database)}`, {
      database,
    });
  }
  if (!Number.isInteger(serverSelectionTimeoutMs) || serverSelectionTimeoutMs <= 0) {
    throw new ConfigError('serverSelectionTimeoutMs must be a positive integer', {
      serverSelectionTimeoutMs,
    });
  }
  const client: MongoClientOptions = {
    appName: 'streamfold',
    serverSelectionTimeoutMS: serverSelectionTimeoutMs,
    ...readPreferenceOption(options.readPreference, params),
    ...writeConcernOption(options.writeConcern, params),
  };
  return { url, database, client };
}

function readPreferenceOption(
  chosen: MongoReadPreference | undefined,
  params: URLSearchParams,
): MongoClientOptions {
  if (chosen !== undefined && !READ_PREFERENCES.has(chosen)) {
    throw new ConfigError(`Unknown read preference ${JSON.stringify(chosen)}`, {
      readPreference: chosen,
    });
  }
  if (chosen === undefined && params.has('readPreference')) return {};
  return { readPreference: chosen ?? 'primary' };
}

function writeConcernOption(
  chosen: MongoWriteConcern | undefined,
  params: URLSearchParams,
): MongoClientOptions {
  if (chosen === undefined) return params.has('w') ? {} : { writeConcern: { w: 'majority' } };
  const { w = 'majority', journal, wtimeoutMs } = chosen;
  if (w !== 'majority' && (!Number.isInteger(w) || w < 0)) {
    throw new ConfigError('writeConcern.w must be "majority" or a whole number', { w });
  }
  if (wtimeoutMs !== undefined && (!Number.isInteger(wtimeoutMs) || wtimeoutMs < 0)) {
    throw new ConfigError('writeConcern.wtimeoutMs must be a non-negative integer', {
      wtimeoutMs,
    });
  }
  return {
    writeConcern: {
      w,
      ...(journal === undefined ? {} : { journal }),
      ...(wtimeoutMs === undefined ? {} : { wtimeoutMS: wtimeoutMs }),
    },
  };
}

/**
 * A connection string may list several hosts (`mongodb://a:1,b:2/db?…`), which WHATWG URL
 * parsing rejects, so the path and query are cut out by hand.
 */
function queryParams(url: string): URLSearchParams {
  const at = url.indexOf('?');
  return new URLSearchParams(at === -1 ? '' : url.slice(at + 1));
}

function databaseOf(url: string): string {
  const afterScheme = url.slice(url.indexOf('://') + 3);
  const slash = afterScheme.indexOf('/');
  if (slash === -1) return '';
  const path = afterScheme.slice(slash + 1);
  const at = path.indexOf('?');
  return decodeURIComponent(at === -1 ? path : path.slice(0, at));
}
