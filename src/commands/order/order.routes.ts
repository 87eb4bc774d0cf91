import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { commandReply, expectation } from '../../http/command-reply.js';
import { CommandHeaders, CommandResult, Identifier, problemResponses } from '../../http/schemas.js';
import type { CommandHandler } from '../command-handler.js';
import { orderDecider } from './order.decider.js';
import { orderStreamId } from './order.events.js';

const OrderParams = Type.Object({ orderId: Identifier });
const OrderResult = Type.Composite([Type.Object({ orderId: Identifier }), CommandResult]);
const Reason = Type.String({ minLength: 1, maxLength: 500 });
const tags = ['orders'];

export const PlaceOrderBody = Type.Object(
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
    promoCode: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,40}$' })),
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
        summary: 'Place an order; it is reserved, priced and settled after the response',
        body: PlaceOrderBody,
        response: { 202: OrderResult, ...problemResponses },
      },
    },
    // Only the append happens on the request path: stock, prices and discounts are settled by
    // the order-processing workflow, and the client follows the order at its Location.
    async (request, reply) => {
      const { customerId, items, promoCode } = request.body;
      const orderId = request.body.orderId ?? randomUUID();
      const data = { orderId, customerId, items };
      const outcome = await commands.execute(
        orderDecider,
        orderStreamId(orderId),
        { type: 'PlaceOrder', data: promoCode === undefined ? data : { ...data, promoCode } },
        { metadata: { correlationId: request.id } },
      );
      void reply.header('Location', `/v1/orders/${encodeURIComponent(orderId)}`);
      return commandReply(reply, 202, outcome, { orderId });
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
