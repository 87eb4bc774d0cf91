import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { problemResponses } from '../../http/schemas.js';
import type { DeadLetterStore } from '../dead-letters.js';

const tags = ['admin'];
const Status = Type.Union(
  ['failed', 'waiting', 'retry-requested', 'skip-requested', 'resolved', 'skipped'].map((s) =>
    Type.Literal(s),
  ),
);
const DeadLetterSchema = Type.Object(
  {
    id: Type.String(),
    workflow: Type.String(),
    streamId: Type.String(),
    eventId: Type.String(),
    eventType: Type.String(),
    position: Type.String(),
    revision: Type.Integer(),
    status: Type.String(),
    attempts: Type.Integer(),
    error: Type.Union([Type.String(), Type.Null()]),
    behind: Type.Union([Type.String(), Type.Null()]),
    parkedAt: Type.String(),
    updatedAt: Type.String(),
  },
  { additionalProperties: true },
);
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 300 }) });

/**
 * Dead letters of the workflows. Retry and skip are requests: the worker that owns the
 * letter's stream acts on them within a moment, then releases the events waiting behind it.
 */
export const deadLetterRoutes: FastifyPluginAsyncTypebox<{ deadLetters: DeadLetterStore }> = async (
  app,
  { deadLetters },
) => {
  app.get(
    '/v1/admin/dead-letters',
    {
      schema: {
        tags,
        summary: 'Events workflows could not handle, and those waiting behind them',
        querystring: Type.Object({
          status: Type.Optional(Status),
          workflow: Type.Optional(Type.String({ maxLength: 200 })),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          cursor: Type.Optional(Type.String({ maxLength: 1000 })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(DeadLetterSchema),
            nextCursor: Type.Optional(Type.String()),
          }),
          ...problemResponses,
        },
      },
    },
    async (request) => {
      const { status, workflow, limit, cursor } = request.query;
      const page = await deadLetters.list({
        limit,
        ...(status === undefined ? {} : { status: status as never }),
        ...(workflow === undefined ? {} : { workflow }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      return { ...page, items: [...page.items] };
    },
  );

  for (const action of ['retry', 'skip'] as const) {
    app.post(
      `/v1/admin/dead-letters/:id/${action}`,
      {
        schema: {
          tags,
          summary:
            action === 'retry'
              ? 'Run a failed event again'
              : 'Give up on a failed event and release the ones behind it',
          params: IdParams,
          response: { 202: DeadLetterSchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        const letter =
          action === 'retry'
            ? await deadLetters.requestRetry(id)
            : await deadLetters.requestSkip(id);
        return reply.code(202).send(letter);
      },
    );
  }
};
