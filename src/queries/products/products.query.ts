import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { productStreamId } from '../../commands/product/product.events.js';
import { productStockProjection } from '../../projections/product-stock/product-stock.projection.js';
import { collectionName } from '../../projections/projector.js';
import { Identifier, problemResponses, QueryHeaders } from '../../http/schemas.js';
import {
  readYourWrites,
  sendOneDocument,
  type DocumentQuery,
  type QueryOptions,
} from '../query-options.js';

const tags = ['products'];
const AnyDocument = Type.Object({}, { additionalProperties: true });

export const productQueryRoutes: FastifyPluginAsyncTypebox<QueryOptions> = async (app, options) => {
  const productStock = collectionName(productStockProjection);
  const product: DocumentQuery = {
    projection: productStockProjection.name,
    collection: productStock,
    streamIdOf: productStreamId,
    notFound: (sku) => `Product ${sku} not found`,
  };

  app.get(
    '/v1/products/:sku',
    {
      schema: {
        tags,
        summary: 'A product with its available and reserved stock',
        params: Type.Object({ sku: Identifier }),
        headers: QueryHeaders,
        response: { 200: AnyDocument, ...problemResponses },
      },
    },
    (request, reply) =>
      sendOneDocument(options, product, request.params.sku, request.headers, reply),
  );

  app.get(
    '/v1/products',
    {
      schema: {
        tags,
        summary: 'Products by sku',
        headers: QueryHeaders,
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
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
      await readYourWrites(options, productStockProjection.name, request.headers);
      const { limit, cursor } = request.query;
      const page = await options.readStore.find(productStock, {
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
