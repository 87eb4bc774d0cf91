import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ValidationError } from '../../errors.js';
import { collectionName } from '../../projections/projector.js';
import { salesPerMinuteProjection } from '../../projections/sales-per-minute/sales-per-minute.projection.js';
import type { ReadStore } from '../../projections/read-store.js';
import { problemResponses, QueryHeaders } from '../../http/schemas.js';
import { readYourWrites, type QueryOptions } from '../query-options.js';

const MINUTE_MS = 60_000;
const MAX_RANGE_MS = 7 * 24 * 60 * MINUTE_MS;

const Minute = Type.Object({
  minute: Type.String({ description: 'Start of the minute, ISO 8601' }),
  orders: Type.Integer(),
  units: Type.Integer(),
  revenueCents: Type.Integer(),
});

export type MinuteTotals = {
  minute: string;
  orders: number;
  units: number;
  revenueCents: number;
};

export const salesQueryRoutes: FastifyPluginAsyncTypebox<QueryOptions> = async (app, options) => {
  const collection = collectionName(salesPerMinuteProjection);

  app.get(
    '/v1/stats/sales-per-minute',
    {
      schema: {
        tags: ['stats'],
        summary:
          'Orders, units and revenue per minute of event time; minutes without sales are omitted',
        headers: QueryHeaders,
        querystring: Type.Object({
          from: Type.Optional(
            Type.String({
              format: 'date-time',
              description: 'Inclusive. @default an hour before `to`',
            }),
          ),
          to: Type.Optional(
            Type.String({ format: 'date-time', description: 'Exclusive. @default now' }),
          ),
        }),
        response: {
          200: Type.Object({ from: Type.String(), to: Type.String(), minutes: Type.Array(Minute) }),
          ...problemResponses,
        },
      },
    },
    async (request) => {
      await readYourWrites(options, salesPerMinuteProjection.name, request.headers);
      const { from, to } = window(request.query.from, request.query.to);
      return { from, to, minutes: await totals(options.readStore, collection, from, to) };
    },
  );
};

function window(fromParam: string | undefined, toParam: string | undefined) {
  const toMs = toParam === undefined ? ceilMinute(Date.now()) : Date.parse(toParam);
  const fromMs = fromParam === undefined ? toMs - 60 * MINUTE_MS : Date.parse(fromParam);
  if (!(fromMs < toMs))
    throw new ValidationError('`from` must be before `to`', { from: fromParam, to: toParam });
  if (toMs - fromMs > MAX_RANGE_MS) throw new ValidationError('The range may span at most 7 days');
  return { from: new Date(floorMinute(fromMs)).toISOString(), to: new Date(toMs).toISOString() };
}

/** Each minute has one document per partition; the answer sums them. */
async function totals(store: ReadStore, collection: string, from: string, to: string) {
  const byMinute = new Map<string, MinuteTotals>();
  let cursor: string | undefined;
  do {
    const page = await store.find(collection, {
      where: { minute: { gte: from, lt: to } },
      orderBy: { field: 'minute', direction: 'asc' },
      limit: 1000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const { value } of page.items) {
      const minute = value.minute as string;
      const sum = byMinute.get(minute) ?? { minute, orders: 0, units: 0, revenueCents: 0 };
      sum.orders += Number(value.orders);
      sum.units += Number(value.units);
      sum.revenueCents += Number(value.revenueCents);
      byMinute.set(minute, sum);
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return [...byMinute.values()];
}

function floorMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

function ceilMinute(ms: number): number {
  return Math.ceil(ms / MINUTE_MS) * MINUTE_MS;
}
