import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { commandReply, expectation } from '../../http/command-reply.js';
import { CommandHeaders, CommandResult, Identifier, problemResponses } from '../../http/schemas.js';
import type { CommandHandler } from '../command-handler.js';
import { productDecider } from './product.decider.js';
import { productStreamId } from './product.events.js';

const Sku = Identifier;
const Quantity = Type.Integer({ minimum: 1, maximum: 1_000_000_000 });
const SkuParams = Type.Object({ sku: Sku });
const ProductResult = Type.Composite([Type.Object({ sku: Sku }), CommandResult]);
const tags = ['products'];

export const productCommandRoutes: FastifyPluginAsyncTypebox<{ commands: CommandHandler }> = async (
  app,
  { commands },
) => {
  app.post(
    '/v1/products',
    {
      schema: {
        tags,
        summary: 'Register a product',
        body: Type.Object(
          {
            sku: Sku,
            name: Type.String({ minLength: 1, maxLength: 200 }),
            priceCents: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
            initialStock: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
          },
          { additionalProperties: false },
        ),
        response: { 201: ProductResult, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { sku } = request.body;
      const outcome = await commands.execute(
        productDecider,
        productStreamId(sku),
        { type: 'RegisterProduct', data: request.body },
        { metadata: { correlationId: request.id } },
      );
      void reply.header('Location', `/v1/products/${encodeURIComponent(sku)}`);
      return commandReply(reply, 201, outcome, { sku });
    },
  );

  app.post(
    '/v1/products/:sku/restock',
    {
      schema: {
        tags,
        summary: 'Add stock',
        params: SkuParams,
        headers: CommandHeaders,
        body: Type.Object({ quantity: Quantity }, { additionalProperties: false }),
        response: { 200: ProductResult, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { sku } = request.params;
      const outcome = await commands.execute(
        productDecider,
        productStreamId(sku),
        { type: 'RestockProduct', data: { sku, quantity: request.body.quantity } },
        expectation(request.headers['if-match'], request.id),
      );
      return commandReply(reply, 200, outcome, { sku });
    },
  );

  app.post(
    '/v1/products/:sku/reserve',
    {
      schema: {
        tags,
        summary: 'Reserve stock for an order (at most once per order)',
        params: SkuParams,
        headers: CommandHeaders,
        body: Type.Object(
          { orderId: Identifier, quantity: Quantity },
          { additionalProperties: false },
        ),
        response: { 200: ProductResult, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { sku } = request.params;
      const outcome = await commands.execute(
        productDecider,
        productStreamId(sku),
        { type: 'ReserveStock', data: { sku, ...request.body } },
        expectation(request.headers['if-match'], request.id),
      );
      return commandReply(reply, 200, outcome, { sku });
    },
  );

  app.post(
    '/v1/products/:sku/release',
    {
      schema: {
        tags,
        summary: "Release an order's reservation",
        params: SkuParams,
        headers: CommandHeaders,
        body: Type.Object({ orderId: Identifier }, { additionalProperties: false }),
        response: { 200: ProductResult, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { sku } = request.params;
      const outcome = await commands.execute(
        productDecider,
        productStreamId(sku),
        { type: 'ReleaseStock', data: { sku, orderId: request.body.orderId } },
        expectation(request.headers['if-match'], request.id),
      );
      return commandReply(reply, 200, outcome, { sku });
    },
  );
};
