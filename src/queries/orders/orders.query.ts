import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { orderStreamId } from '../../commands/order/order.events.js';
import { customerOrdersProjection } from '../../projections/customer-orders/customer-orders.projection.js';
import { orderViewProjection } from '../../projections/order-view/order-view.projection.js';
import { collectionName } from '../../projections/projector.js';
import { Identifier, problemResponses, QueryHeaders } from '../../http/schemas.js';
import {
  readYourWrites,
  sendOneDocument,
  type DocumentQuery,
  type QueryOptions,
} from '../query-options.js';

const tags = ['orders'];
const AnyDocument = Type.Object({}, { additionalProperties: true });

export const orderQueryRoutes: FastifyPluginAsyncTypebox<QueryOptions> = async (app, options) => {
  const customerOrders = collectionName(customerOrdersProjection);
  const order: DocumentQuery = {
    projection: orderViewProjection.name,
    collection: collectionName(orderViewProjection),
    streamIdOf: orderStreamId,
    notFound: (orderId) => `Order ${orderId} not found`,
  };

  app.get(
    '/v1/orders/:orderId',
    {
      schema: {
        tags,
        summary: 'An order: status, items, total and its status timeline',
        params: Type.Object({ orderId: Identifier }),
        headers: QueryHeaders,
        response: { 200: AnyDocument, ...problemResponses },
      },
    },
    (request, reply) =>
      sendOneDocument(options, order, request.params.orderId, request.headers, reply),
  );

  app.get(
    '/v1/customers/:customerId/orders',
    {
      schema: {
        tags,
        summary: "A customer's orders, newest first",
        params: Type.Object({ customerId: Identifier }),
        headers: QueryHeaders,
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 200, default: 20 }),
          cursor: Type.Optional(Type.String({ maxLength: 1000 })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(AnyDocument),
            nextCursor: Type.Optional(Type.String()),
          }),
          ...problemResponses,
        },
      },
    },
    async (request) => {
      await readYourWrites(options, customerOrdersProjection.name, request.headers);
      const { limit, cursor } = request.query;
      const page = await options.readStore.find(customerOrders, {
        where: { customerId: request.params.customerId },
        orderBy: { field: 'placedAt', direction: 'desc' },
        limit,
        ...(cursor === undefined ? {} : { cursor }),
      });
      return {
        items: page.items.map((item) => item.value),
        ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
      };
    },
  );
};
