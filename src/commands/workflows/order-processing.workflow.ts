/**
 * Order processing, after the order was acknowledged: reserve stock on every product, price the
 * order (volume discount, promo code), then confirm it — or reject it with a reason and release
 * whatever was reserved — and leave a notification in the outbox.
 *
 * Every command carries ids derived from the OrderPlaced event, and every step is decided
 * against current state, so redelivery and restarts neither double-reserve nor double-notify.
 */
import { ErrorCodes, RuleViolation, StreamfoldError } from '../../errors.js';
import type { JsonObject, RecordedEvent } from '../../streams/event-store.js';
import { notificationDecider, notificationStreamId } from '../notification/notification.decider.js';
import { orderDecider, type OrderState } from '../order/order.decider.js';
import { orderStreamId, type OrderPlaced } from '../order/order.events.js';
import { priceOrder } from '../order/pricing.rules.js';
import { productDecider } from '../product/product.decider.js';
import { productStreamId } from '../product/product.events.js';
import type { Workflow, WorkflowContext } from '../workflow.js';

type Placed = OrderPlaced['data'];

export const orderProcessingWorkflow: Workflow = {
  name: 'order-processing',
  version: 1,
  handles: ['OrderPlaced', 'OrderCancelled'],
  async handle(event: RecordedEvent, context: WorkflowContext) {
    if (event.type === 'OrderCancelled') return releaseCancelled(event, context);
    const placed = event.data as Placed;
    const stream = orderStreamId(placed.orderId);
    const order = (await context.commands.load(orderDecider, stream)).state;
    if (order.status === 'pending') {
      await context.execute(
        orderDecider,
        stream,
        { type: 'StartReservation', data: { orderId: placed.orderId } },
        'start',
      );
    } else if (order.status !== 'reserving') {
      return settled(order, placed, context);
    }
    const shortage = await reserveAll(placed, context);
    if (shortage !== undefined) return reject(placed, shortage, context);

    const pricing = priceOrder(await priceLines(placed, context), placed.promoCode);
    try {
      await context.execute(
        orderDecider,
        stream,
        { type: 'ConfirmOrder', data: { orderId: placed.orderId, pricing } },
        'confirm',
      );
    } catch (error) {
      // Cancelled (or settled by an operator) while we reserved: give the stock back.
      if (!(error instanceof RuleViolation)) throw error;
      return releaseAll(placed, context);
    }
    await notify(placed, 'order-confirmed', { totalCents: pricing.totalCents }, context);
  },
};

/** A cancelled order gives back its stock, whether it was reserving or confirmed. */
async function releaseCancelled(event: RecordedEvent, context: WorkflowContext): Promise<void> {
  const { orderId } = event.data as { orderId: string };
  const order = (await context.commands.load(orderDecider, orderStreamId(orderId))).state;
  if (order.status === 'absent') return;
  await releaseAll({ orderId, customerId: order.customerId, items: order.items }, context);
}

/** Redelivered after the order settled: make sure its effects are complete, nothing more. */
async function settled(order: OrderState, placed: Placed, context: WorkflowContext): Promise<void> {
  if (order.status === 'confirmed') {
    const totalCents =
      'pricing' in order && order.pricing !== undefined ? order.pricing.totalCents : null;
    await notify(placed, 'order-confirmed', { totalCents }, context);
  } else if (order.status === 'rejected') {
    await releaseAll(placed, context);
    await notify(
      placed,
      'order-rejected',
      { reason: 'reason' in order ? String(order.reason) : null },
      context,
    );
  } else if (order.status === 'cancelled') {
    await releaseAll(placed, context);
  }
}

/** Reserves every line; the first line that cannot be reserved names the shortage. */
async function reserveAll(placed: Placed, context: WorkflowContext): Promise<string | undefined> {
  const items = [...placed.items].sort((a, b) => (a.sku < b.sku ? -1 : 1));
  for (const { sku, quantity } of items) {
    try {
      await context.execute(
        productDecider,
        productStreamId(sku),
        { type: 'ReserveStock', data: { sku, orderId: placed.orderId, quantity } },
        `reserve:${sku}`,
      );
    } catch (error) {
      if (error instanceof RuleViolation && error.rule === 'insufficient-stock')
        return `insufficient stock for ${sku}`;
      if (error instanceof StreamfoldError && error.code === ErrorCodes.NOT_FOUND)
        return `unknown product ${sku}`;
      throw error;
    }
  }
  return undefined;
}

async function releaseAll(placed: Placed, context: WorkflowContext): Promise<void> {
  for (const { sku } of placed.items) {
    try {
      await context.execute(
        productDecider,
        productStreamId(sku),
        { type: 'ReleaseStock', data: { sku, orderId: placed.orderId } },
        `release:${sku}`,
      );
    } catch (error) {
      if (!(error instanceof StreamfoldError && error.code === ErrorCodes.NOT_FOUND)) throw error;
    }
  }
}

async function reject(placed: Placed, reason: string, context: WorkflowContext): Promise<void> {
  await releaseAll(placed, context);
  try {
    await context.execute(
      orderDecider,
      orderStreamId(placed.orderId),
      { type: 'RejectOrder', data: { orderId: placed.orderId, reason } },
      'reject',
    );
  } catch (error) {
    if (!(error instanceof RuleViolation)) throw error;
    return; // cancelled meanwhile: nothing to tell
  }
  await notify(placed, 'order-rejected', { reason }, context);
}

async function priceLines(placed: Placed, context: WorkflowContext) {
  return Promise.all(
    placed.items.map(async ({ sku, quantity }) => {
      const product = await context.commands.load(productDecider, productStreamId(sku));
      return { sku, quantity, unitPriceCents: product.state.priceCents };
    }),
  );
}

async function notify(
  placed: Placed,
  kind: string,
  data: JsonObject,
  context: WorkflowContext,
): Promise<void> {
  await context.execute(
    notificationDecider,
    notificationStreamId(placed.orderId),
    {
      type: 'RequestNotification',
      data: {
        notificationId: `${placed.orderId}:${kind}`,
        kind,
        recipient: placed.customerId,
        data: { orderId: placed.orderId, ...data },
      },
    },
    `notify:${kind}`,
  );
}
