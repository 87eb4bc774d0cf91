/** The checkout domain's read models, for the projector, rebuilds and the query side. */
import { customerOrdersProjection } from './customer-orders/customer-orders.projection.js';
import { orderViewProjection } from './order-view/order-view.projection.js';
import { productStockProjection } from './product-stock/product-stock.projection.js';
import type { Projection } from './projection.js';
import { salesPerMinuteProjection } from './sales-per-minute/sales-per-minute.projection.js';

export {
  customerOrdersProjection,
  orderViewProjection,
  productStockProjection,
  salesPerMinuteProjection,
};
export type { CustomerOrderDoc } from './customer-orders/customer-orders.projection.js';
export type { OrderTimelineEntry, OrderViewDoc } from './order-view/order-view.projection.js';
export type { ProductStockDoc } from './product-stock/product-stock.projection.js';
export type { SalesPerMinuteDoc } from './sales-per-minute/sales-per-minute.projection.js';
export { minuteOf, salesWindowId } from './sales-per-minute/sales-per-minute.projection.js';

export const checkoutProjections: readonly Projection[] = [
  orderViewProjection,
  customerOrdersProjection,
  productStockProjection,
  salesPerMinuteProjection,
];
