/**
 * Live documents over Server-Sent Events: each change of the document is one event whose `id`
 * is its log position, so a client that reconnects with `Last-Event-ID` continues where it was.
 *
 * On connect the handler subscribes first and reads the current version second, so no change
 * can fall between the two; it then sends only versions newer than the last one sent (or the
 * client's Last-Event-ID), in position order. A slow client never makes the server buffer
 * without bound: while its socket is full the handler waits for it to drain, and meanwhile the
 * feed keeps only the newest few versions (see `watchers.ts`); the client skips intermediate
 * versions but always ends up with the latest.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import { NotFoundError } from '../../errors.js';
import { Identifier, problemResponses } from '../../http/schemas.js';
import { checkoutProjections } from '../../projections/index.js';
import { orderViewProjection } from '../../projections/order-view/order-view.projection.js';
import { collectionName } from '../../projections/projector.js';
import { isAfter } from '../../streams/position.js';
import type { Position } from '../../streams/event-store.js';
import type { ChangeFeed } from '../change-feed.js';
import type { DocumentReader } from '../document-reader.js';

export type LiveOptions = Readonly<{
  documents: DocumentReader;
  changes: ChangeFeed;
  /** Comment lines sent on an idle stream, so proxies do not close it. @default 15_000 */
  heartbeatMs?: number;
}>;

const tags = ['live'];
const LastEventId = Type.Object({
  'last-event-id': Type.Optional(
    Type.String({ maxLength: 64, description: 'Resume after this position' }),
  ),
});

export const liveRoutes: FastifyPluginAsyncTypebox<LiveOptions> = async (app, options) => {
  const streams = new Set<AbortController>();
  // Open streams are never idle, so server shutdown ends them rather than waiting for them.
  app.addHook('preClose', (done) => {
    for (const stream of streams) stream.abort();
    done();
  });

  const serve = async (
    raw: ServerResponse,
    collection: string,
    id: string,
    after: string | undefined,
  ) => {
    const stop = new AbortController();
    streams.add(stop);
    raw.once('close', () => stop.abort());
    try {
      await streamDocument(raw, options, { collection, id, after, signal: stop.signal });
    } finally {
      streams.delete(stop);
      raw.end();
    }
  };

  app.get(
    '/v1/orders/:orderId/live',
    {
      schema: {
        tags,
        summary: 'The order view, as an event stream of its versions (text/event-stream)',
        params: Type.Object({ orderId: Identifier }),
        headers: LastEventId,
        response: problemResponses,
      },
    },
    async (request, reply) => {
      reply.hijack();
      await serve(
        reply.raw,
        collectionName(orderViewProjection),
        request.params.orderId,
        request.headers['last-event-id'],
      );
    },
  );

  app.get(
    '/v1/live/:projection/:id',
    {
      schema: {
        tags,
        summary: 'Any document of any projection, as an event stream of its versions',
        params: Type.Object({ projection: Identifier, id: Identifier }),
        headers: LastEventId,
        response: problemResponses,
      },
    },
    async (request, reply) => {
      const projection = checkoutProjections.find((p) => p.name === request.params.projection);
      if (projection === undefined) {
        throw new NotFoundError(`No projection named ${request.params.projection}`);
      }
      reply.hijack();
      await serve(
        reply.raw,
        collectionName(projection),
        request.params.id,
        request.headers['last-event-id'],
      );
    },
  );
};

type Target = Readonly<{
  collection: string;
  id: string;
  /** Last-Event-ID: the position the client already has. */
  after: Position | undefined;
  signal: AbortSignal;
}>;

async function streamDocument(
  raw: ServerResponse,
  options: LiveOptions,
  target: Target,
): Promise<void> {
  const { collection, id, signal } = target;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx would otherwise buffer the stream.
    'x-accel-buffering': 'no',
  });
  raw.write('retry: 1000\n\n');
  const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), options.heartbeatMs ?? 15_000);
  try {
    const changes = options.changes.subscribe(collection, id, { signal });
    // Subscribed before reading: a change from here on is in the subscription, not lost.
    await changes.ready;
    const iterator = changes[Symbol.asyncIterator]();
    let sent = target.after?.trim() === '' ? undefined : target.after;
    const current = await options.documents.get(collection, id, { fresh: true });
    if (current !== undefined && isAfter(current.position, sent)) {
      sent = current.position;
      await send(raw, current.position, 'change', current.body, signal);
    }
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
      const change = next.value;
      if (!isAfter(change.position, sent)) continue;
      sent = change.position;
      const event = change.body === null ? 'deleted' : 'change';
      await send(raw, change.position, event, change.body ?? 'null', signal);
    }
  } finally {
    clearInterval(heartbeat);
  }
}

/** Writes one event and, when the socket is full, waits for it to drain (or the client to go). */
async function send(
  raw: ServerResponse,
  id: Position,
  event: string,
  data: string,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return;
  const ok = raw.write(`id: ${id}\nevent: ${event}\ndata: ${data}\n\n`);
  if (!ok) await once(raw, 'drain', { signal }).catch(() => undefined);
}
