import type { FastifyReply } from 'fastify';
import type { ReadStore } from '../projections/read-store.js';
import {
  awaitPosition,
  parsePosition,
  POSITION_HEADER,
  type ProjectionProgress,
} from './consistency.js';
import type { DocumentBody, DocumentReader } from './document-reader.js';

/** What every query plugin receives. */
export type QueryOptions = Readonly<{
  documents: DocumentReader;
  readStore: ReadStore;
  progress: ProjectionProgress;
  /** Longest wait for `Streamfold-Min-Position`. */
  timeoutMs: number;
}>;

/** Honours `Streamfold-Min-Position` for the projection behind a query. */
export function readYourWrites(
  options: QueryOptions,
  projection: string,
  header: string | string[] | undefined,
): Promise<void> {
  return awaitPosition(options.progress, projection, parsePosition(header), options.timeoutMs);
}

/** Sends a cached document's JSON text as is, with the position it reflects. */
export function sendDocument(reply: FastifyReply, doc: DocumentBody): FastifyReply {
  return reply
    .header(POSITION_HEADER, doc.position)
    .type('application/json; charset=utf-8')
    .send(doc.body);
}
