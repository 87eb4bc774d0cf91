/**
 * The ceiling: a bare Fastify server with the same body schemas, the same validator settings
 * and answers of the same shape and size as Streamfold's, and no I/O at all. Whatever this
 * machine's Node and Fastify can do in this run, nothing built on them can beat.
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { PlaceOrderBody } from '../../src/commands/order/order.routes.js';
import { CommandResult, Identifier } from '../../src/http/schemas.js';
import { reportReady } from '../lib/children.js';
import { PRICE_CENTS } from '../lib/checkout.js';

// The very schema `POST /v1/orders` validates with, so both sides do the same work.
const OrderResult = Type.Composite([Type.Object({ orderId: Identifier }), CommandResult]);
const ProductResult = Type.Composite([Type.Object({ sku: Identifier }), CommandResult]);
const Restock = Type.Object(
  { quantity: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }) },
  { additionalProperties: false },
);

/** An order view document as `GET /v1/orders/:orderId` serves it, serialised once. */
const ORDER_JSON = JSON.stringify({
  orderId: '0b6e1f7c-8d55-4a51-9d7e-3f1c2b9a4e10',
  customerId: 'customer-42',
  status: 'pending',
  items: [
    { sku: 'sku-001', quantity: 2, unitPriceCents: PRICE_CENTS },
    { sku: 'sku-008', quantity: 1, unitPriceCents: PRICE_CENTS },
  ],
  totalCents: 3 * PRICE_CENTS,
  placedAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  revision: 0,
  timeline: [{ status: 'pending', at: '2025-01-01T00:00:00.000Z' }],
});
const POSITION = '00000000000000000042';

const app = Fastify({
  logger: false,
  ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: true } },
}).withTypeProvider<TypeBoxTypeProvider>();

app.post(
  '/v1/orders',
  { schema: { body: PlaceOrderBody, response: { 202: OrderResult } } },
  async (request, reply) => {
    const orderId = request.body.orderId ?? randomUUID();
    void reply
      .code(202)
      .header('Location', `/v1/orders/${orderId}`)
      .header('Streamfold-Position', POSITION)
      .header('ETag', '"0"');
    return { orderId, revision: 0, position: POSITION };
  },
);

app.post(
  '/v1/products/:sku/restock',
  {
    schema: {
      params: Type.Object({ sku: Identifier }),
      body: Restock,
      response: { 200: ProductResult },
    },
  },
  async (request, reply) => {
    void reply.header('Streamfold-Position', POSITION).header('ETag', '"1"');
    return { sku: request.params.sku, revision: 1, position: POSITION };
  },
);

app.get(
  '/v1/orders/:orderId',
  { schema: { params: Type.Object({ orderId: Identifier }) } },
  async (_request, reply) =>
    reply
      .header('Streamfold-Position', POSITION)
      .type('application/json; charset=utf-8')
      .send(ORDER_JSON),
);

reportReady(await app.listen({ port: 0, host: '127.0.0.1' }));
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
