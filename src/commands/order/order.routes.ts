import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { RuleViolation } from '../../errors.js';
import { commandReply, expectation } from '../../http/command-reply.js';
import { CommandHeaders, CommandResult, Identifier, problemResponses } from '../../http/schemas.js';
import type { CommandHandler } from '../command-handler.js';
import { productDecider } from '../product/product.decider.js';
import { productStreamId } from '../product/product.events.js';
import { orderDecider } from './order.decider.js';
import { orderStreamId } from './order.events.js';

const OrderParams = Type.Object({ orderId: Identifier });
const OrderResult = Type.Composite([Type.Object({ orderId: Identifier }), CommandResult]);
const Reason = Type.String({ minLength: 1, maxLength: 500 });
const tags = ['orders'];

const PlaceOrderBody = Type.Object(
  {
    orderId: Type.Optional(Identifier),
    customerId: Identifier,
    items: Type.Array(
      Type.Object(
        { sku: Identifier, quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 100 },
    ),
  },
  { additionalProperties: false },
);

type Transition = Readonly<{
  path: string;
  summary: string;
  type: 'ConfirmOrder' | 'RejectOrder' | 'CancelOrder' | 'ShipOrder';
  reason: 'none' | 'required' | 'optional';
}>;

const TRANSITIONS: readonly Transition[] = [
  { path: 'confirm', summary: 'Confirm a pending order', type: 'ConfirmOrder', reason: 'none' },
  { path: 'reject', summary: 'Reject a pending order', type: 'RejectOrder', reason: 'required' },
  {
    path: 'cancel',
    summary: 'Cancel an order not yet shipped',
    type: 'CancelOrder',
    reason: 'optional',
  },
  { path: 'ship', summary: 'Ship a confirmed order', type: 'ShipOrder', reason: 'none' },
];

export const orderCommandRoutes: FastifyPluginAsyncTypebox<{ commands: CommandHandler }> = async (
  app,
  { commands },
) => {
  app.post(
    '/v1/orders',
    {
      schema: {
        tags,
        summary: 'Place an order',
        body: PlaceOrderBody,
        response: { 201: OrderResult, ...problemResponses },
      },
    },
    async (request, reply) => {
      const orderId = request.body.orderId ?? randomUUID();
      const items = await priceItems(commands, request.body.items);
      const outcome = await commands.execute(
        orderDecider,
        orderStreamId(orderId),
        { type: 'PlaceOrder', data: { orderId, customerId: request.body.customerId, items } },
        { metadata: { correlationId: request.id } },
      );
      void reply.header('Location', `/v1/orders/${encodeURIComponent(orderId)}`);
      return commandReply(reply, 201, outcome, { orderId });
    },
  );

  for (const transition of TRANSITIONS) {
    const body =
      transition.reason === 'required'
        ? Type.Object({ reason: Reason }, { additionalProperties: false })
        : Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false });
    app.post(
      `/v1/orders/:orderId/${transition.path}`,
      {
        schema: {
          tags,
          summary: transition.summary,
          params: OrderParams,
          headers: CommandHeaders,
          ...(transition.reason === 'none' ? {} : { body }),
          response: { 200: OrderResult, ...problemResponses },
        },
      },
      async (request, reply) => {
        const { orderId } = request.params;
        const reason = (request.body as { reason?: string } | undefined)?.reason;
        const data = reason === undefined ? { orderId } : { orderId, reason };
        const outcome = await commands.execute(
          orderDecider,
          orderStreamId(orderId),
          { type: transition.type, data } as Parameters<typeof orderDecider.decide>[0],
          expectation(request.headers['if-match'], request.id),
        );
        return commandReply(reply, 200, outcome, { orderId });
      },
    );
  }
};

/** Prices come from the products' own streams, so an order is priced as of its placement. */
async function priceItems(
  commands: CommandHandler,
  items: readonly { sku: string; quantity: number }[],
): Promise<{ sku: string; quantity: number; unitPriceCents: number }[]> {
  const skus = [...new Set(items.map((item) => item.sku))];
  const products = await Promise.all(
    skus.map(
      async (sku) => [sku, await commands.load(productDecider, productStreamId(sku))] as const,
    ),
  );
  const prices = new Map<string, number>();
  for (const [sku, product] of products) {
    if (!product.state.registered) {
      throw new RuleViolation('unknown-product', `Product ${sku} is not registered`, { sku });
    }
    prices.set(sku, product.state.priceCents);
  }
  return items.map((item) => ({ ...item, unitPriceCents: prices.get(item.sku) ?? 0 }));
}
