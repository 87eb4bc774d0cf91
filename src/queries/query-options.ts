import type { FastifyReply } from 'fastify';
import type { ReadStore } from '../projections/read-store.js';
import type { IncomingHttpHeaders } from 'node:http';
import { NotFoundError } from '../errors.js';
import type { Position } from '../streams/event-store.js';
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
  return waitForPosition(
    options,
    projection,
    headers,
    parsePosition(headers[MIN_POSITION_HEADER]),
    streamId,
  );
}

async function waitForPosition(
  options: QueryOptions,
  projection: string,
  headers: IncomingHttpHeaders,
  position: Position | undefined,
  streamId?: string,
): Promise<ReadOptions> {
  if (position === undefined) return {};
  const timeoutMs = parseMaxWait(headers[MAX_WAIT_HEADER], options.timeoutMs);
  await awaitPosition(options.progress, projection, position, timeoutMs, streamId);
  return { fresh: true };
}

/** A query for one document of one projection, by id. */
export type DocumentQuery = Readonly<{
  /** The projection, for `Streamfold-Min-Position`. */
  projection: string;
  collection: string;
  /** The one stream the document is built from. */
  streamIdOf: (id: string) => string;
  /** The 404 detail. */
  notFound: (id: string) => string;
}>;

/**
 * Answers a query for one document. A request without `Streamfold-Min-Position` whose
 * document is in an in-process cache is answered synchronously: that is the API's hottest
 * path, and every promise on it costs throughput. Everything else is awaited: the wait for
 * the position, then a read through the cache.
 */
export function sendOneDocument(
  options: QueryOptions,
  query: DocumentQuery,
  id: string,
  headers: IncomingHttpHeaders,
  reply: FastifyReply,
): FastifyReply | Promise<FastifyReply> {
  const position = parsePosition(headers[MIN_POSITION_HEADER]);
  if (position === undefined) {
    const hit = options.documents.cached(query.collection, id);
    if (hit !== undefined) return sendDocument(reply, hit);
  }
  return readAndSend(options, query, id, headers, position, reply);
}

async function readAndSend(
  options: QueryOptions,
  query: DocumentQuery,
  id: string,
  headers: IncomingHttpHeaders,
  position: Position | undefined,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const streamId = query.streamIdOf(id);
  const consistency = await waitForPosition(options, query.projection, headers, position, streamId);
  const doc = await options.documents.get(query.collection, id, consistency);
  if (doc === undefined) throw new NotFoundError(query.notFound(id));
  return sendDocument(reply, doc);
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
