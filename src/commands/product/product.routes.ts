import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { commandReply, expectation } from '../../http/command-reply.js';
import { CommandHeaders, CommandResult, Identifier, problemResponses } from '../../http/schemas.js';
import type { CommandHandler } from '../command-handler.js';
import { productDecider, type ProductCommand } from './product.decider.js';
import { productStreamId } from './product.events.js';

const Sku = Identifier;
const Quantity = Type.Integer({ minimum: 1, maximum: 1_000_000_000 });
const SkuParams = Type.Object({ sku: Sku });
const ProductResult = Type.Composite([Type.Object({ sku: Sku }), CommandResult]);
const tags = ['products'];

/** The stock commands on one product: same route shape, their own body and command. */
const STOCK_ACTIONS = [
  {
    path: 'restock',
    summary: 'Add stock',
    type: 'RestockProduct',
    body: Type.Object({ quantity: Quantity }, { additionalProperties: false }),
  },
  {
    path: 'reserve',
    summary: 'Reserve stock for an order (at most once per order)',
    type: 'ReserveStock',
    body: Type.Object({ orderId: Identifier, quantity: Quantity }, { additionalProperties: false }),
  },
  {
    path: 'release',
    summary: "Release an order's reservation",
    type: 'ReleaseStock',
    body: Type.Object({ orderId: Identifier }, { additionalProperties: false }),
  },
] as const;

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

  for (const action of STOCK_ACTIONS) {
    app.post(
      `/v1/products/:sku/${action.path}`,
      {
        schema: {
          tags,
          summary: action.summary,
          params: SkuParams,
          headers: CommandHeaders,
          body: action.body,
          response: { 200: ProductResult, ...problemResponses },
        },
      },
      async (request, reply) => {
        const { sku } = request.params;
        const body = request.body as Record<string, unknown>;
        const command = { type: action.type, data: { sku, ...body } } as ProductCommand;
        const outcome = await commands.execute(
          productDecider,
          productStreamId(sku),
          command,
          expectation(request.headers['if-match'], request.id),
        );
        return commandReply(reply, 200, outcome, { sku });
      },
    );
  }
};
