import type { FastifyReply } from 'fastify';
import type { ReadStore } from '../projections/read-store.js';
import type { IncomingHttpHeaders } from 'node:http';
import {
  awaitPosition,
  MAX_WAIT_HEADER,
  MIN_POSITION_HEADER,
  parseMaxWait,
  parsePosition,
  POSITION_HEADER,
  type ProjectionProgress,
} from './consistency.js';
import type { DocumentBody, DocumentReader, ReadOptions } from './document-reader.js';

/** What every query plugin receives. */
export type QueryOptions = Readonly<{
  documents: DocumentReader;
  readStore: ReadStore;
  progress: ProjectionProgress;
  /** Longest wait for `Streamfold-Min-Position`; `Streamfold-Max-Wait-Ms` may only shorten it. */
  timeoutMs: number;
}>;

/**
 * Honours `Streamfold-Min-Position` (and `Streamfold-Max-Wait-Ms`) for the projection behind a
 * query, and says how to read its documents: fresh from the store after such a wait.
 */
export async function readYourWrites(
  options: QueryOptions,
  projection: string,
  headers: IncomingHttpHeaders,
  /** The one stream the queried document is built from, when there is one. */
  streamId?: string,
): Promise<ReadOptions> {
  const position = parsePosition(headers[MIN_POSITION_HEADER]);
  if (position === undefined) return {};
  const timeoutMs = parseMaxWait(headers[MAX_WAIT_HEADER], options.timeoutMs);
  await awaitPosition(options.progress, projection, position, timeoutMs, streamId);
  return { fresh: true };
}

/** Says whether a document came from the cache, for clients and for measuring the hit ratio. */
export const CACHE_HEADER = 'Streamfold-Cache';

/** Sends a cached document's JSON text as is, with the position it reflects. */
export function sendDocument(reply: FastifyReply, doc: DocumentBody): FastifyReply {
  return reply
    .header(POSITION_HEADER, doc.position)
    .header(CACHE_HEADER, doc.source === 'cache' ? 'hit' : 'miss')
    .type('application/json; charset=utf-8')
    .send(doc.body);
}
