import type { FastifyReply } from 'fastify';
import { ValidationError } from '../errors.js';
import { POSITION_HEADER } from '../queries/consistency.js';
import type { Position } from '../streams/event-store.js';

/** `If-Match: "3"` (or `3`, or a weak tag) names the stream revision the client expects. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '' || header.trim() === '*') return undefined;
  const match = /^(?:W\/)?"?(-?\d{1,15})"?$/.exec(header.trim());
  if (match?.[1] === undefined) {
    throw new ValidationError(`If-Match "${header}" is not a stream revision such as "3"`, {
      header: 'If-Match',
    });
  }
  return Number(match[1]);
}

export type CommandOutcome = Readonly<{ revision: number; position: Position | undefined }>;

/** Every command answer carries the log position in the body and in `Streamfold-Position`. */
export function commandReply<T extends Record<string, unknown>>(
  reply: FastifyReply,
  status: number,
  outcome: CommandOutcome,
  body: T,
): T & { revision: number; position: string } {
  const position = outcome.position ?? '';
  void reply.code(status).header(POSITION_HEADER, position).header('ETag', `"${outcome.revision}"`);
  return { ...body, revision: outcome.revision, position };
}

/** Handler options from the request: its `If-Match` expectation and its id for correlation. */
export function expectation(
  ifMatch: string | undefined,
  requestId: string,
): { metadata: { correlationId: string }; expectedRevision?: number } {
  const expectedRevision = parseIfMatch(ifMatch);
  return {
    metadata: { correlationId: requestId },
    ...(expectedRevision === undefined ? {} : { expectedRevision }),
  };
}
