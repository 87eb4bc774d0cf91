/**
 * Pricing an order, as pure functions: line totals, a volume discount, then a promo code.
 *
 * Every amount is a whole number of cents and every discount rounds down, so the customer is
 * never charged a fraction and the shop never gives away more than the rule says. The volume
 * discount applies first and the promo to what remains, so discounts never stack on the same
 * cents twice, and the total never goes below zero.
 */
import { ConfigError, RuleViolation } from '../../errors.js';
import { assertNonNegativeInteger, assertPositiveInteger } from '../checkout.rules.js';
import type { Discount, OrderItem, PricedLine, Pricing } from './order.events.js';

/** A whole percentage, 1 to 100, off what remains after the volume discount. */
export type PercentOffPromo = Readonly<{ percentOff: number }>;

/** A fixed amount off, for orders whose subtotal (before any discount) reaches a minimum. */
export type AmountOffPromo = Readonly<{
  amountOffCents: number;
  /** @default 0 (any order) */
  minSubtotalCents?: number;
}>;

export type Promo = PercentOffPromo | AmountOffPromo;

/** Promo codes by their exact (case-sensitive) code. */
export type PromoCatalog = Readonly<Record<string, Promo>>;

export const DEFAULT_PROMOS: PromoCatalog = Object.freeze({
  WELCOME10: Object.freeze({ percentOff: 10 }),
  FIVEOFF: Object.freeze({ amountOffCents: 500, minSubtotalCents: 2000 }),
});

/** Volume tiers, largest first: the first one the order reaches applies, and only that one. */
const VOLUME_TIERS: readonly Readonly<{ minUnits: number; percentOff: number }>[] = [
  { minUnits: 50, percentOff: 10 },
  { minUnits: 10, percentOff: 5 },
];

export const VOLUME_DISCOUNT_CODE = 'VOLUME';

export type LineToPrice = Readonly<{ sku: string; quantity: number; unitPriceCents: number }>;

/**
 * Prices the lines (unit prices as reserved) with the volume discount and the promo code.
 * An unknown or ineligible promo code gives no discount and is not an error: the order still
 * goes through, and the pricing simply lists no discount for it.
 */
export function priceOrder(
  lines: readonly LineToPrice[],
  promoCode: string | undefined,
  catalog: PromoCatalog = DEFAULT_PROMOS,
): Pricing {
  const priced = lines.map(pricedLine);
  const subtotalCents = safeSum(priced.map((line) => line.lineTotalCents));
  const units = priced.reduce((sum, line) => sum + line.quantity, 0);
  const discounts: Discount[] = [];
  let remaining = subtotalCents;
  for (const rule of [volumeDiscount(units), promoDiscount(promoCode, catalog)]) {
    if (rule === undefined) continue;
    const amountCents = Math.min(rule.amountOf(remaining, subtotalCents), remaining);
    // A discount that takes nothing off (a tiny order, a zero subtotal) is not listed.
    if (amountCents <= 0) continue;
    discounts.push({ code: rule.code, description: rule.description, amountCents });
    remaining -= amountCents;
  }
  return {
    lines: priced,
    subtotalCents,
    discounts,
    discountCents: subtotalCents - remaining,
    totalCents: remaining,
  };
}

type Rule = Readonly<{
  code: string;
  description: string;
  /** The discount on `remaining` cents, given the order's undiscounted subtotal. */
  amountOf: (remaining: number, subtotalCents: number) => number;
}>;

function pricedLine({ sku, quantity, unitPriceCents }: LineToPrice): PricedLine {
  assertPositiveInteger(quantity, 'invalid-quantity', 'quantity');
  assertNonNegativeInteger(unitPriceCents, 'invalid-price', 'unitPriceCents');
  const lineTotalCents = safeSum([quantity * unitPriceCents]);
  return { sku, quantity, unitPriceCents, lineTotalCents };
}

/** Beyond 2^53 cents, arithmetic silently loses precision: refuse rather than misprice. */
function safeSum(amounts: readonly number[]): number {
  const total = amounts.reduce((sum, amount) => sum + amount, 0);
  if (!Number.isSafeInteger(total)) {
    throw new RuleViolation('total-too-large', 'The order total is too large to represent', {
      totalCents: total,
    });
  }
  return total;
}

function volumeDiscount(units: number): Rule | undefined {
  const tier = VOLUME_TIERS.find((candidate) => units >= candidate.minUnits);
  if (tier === undefined) return undefined;
  return {
    code: VOLUME_DISCOUNT_CODE,
    description: `${tier.percentOff}% off orders of ${tier.minUnits} units or more`,
    amountOf: (remaining) => percentOf(remaining, tier.percentOff),
  };
}

function promoDiscount(code: string | undefined, catalog: PromoCatalog): Rule | undefined {
  // An own-key lookup, so that a code such as 'toString' finds nothing.
  const promo = code !== undefined && Object.hasOwn(catalog, code) ? catalog[code] : undefined;
  if (code === undefined || promo === undefined) return undefined;
  assertValidPromo(code, promo);
  if ('percentOff' in promo) {
    return {
      code,
      description: `${promo.percentOff}% off`,
      amountOf: (remaining) => percentOf(remaining, promo.percentOff),
    };
  }
  const minimum = promo.minSubtotalCents ?? 0;
  return {
    code,
    description:
      minimum > 0
        ? `${promo.amountOffCents} cents off orders of at least ${minimum} cents`
        : `${promo.amountOffCents} cents off`,
    amountOf: (_remaining, subtotalCents) => (subtotalCents >= minimum ? promo.amountOffCents : 0),
  };
}

/** Rounded down; computed in BigInt so that large amounts stay exact. */
function percentOf(amountCents: number, percent: number): number {
  return Number((BigInt(amountCents) * BigInt(percent)) / 100n);
}

/** A malformed catalog is a deployment mistake, not the customer's: it fails loudly. */
function assertValidPromo(code: string, promo: Promo): void {
  const valid =
    'percentOff' in promo
      ? Number.isInteger(promo.percentOff) && promo.percentOff >= 1 && promo.percentOff <= 100
      : Number.isSafeInteger(promo.amountOffCents) &&
        promo.amountOffCents > 0 &&
        Number.isSafeInteger(promo.minSubtotalCents ?? 0);
  if (!valid) {
    throw new ConfigError(
      `Promo ${code} must take a whole percentage (1 to 100) or a positive whole number of cents off`,
      { code },
    );
  }
}

/**
 * For the decider: the pricing, copied down to its known fields, when it prices exactly the
 * order's lines and its amounts add up; otherwise RuleViolation('invalid-pricing'). A
 * confirmation can come from anywhere (a workflow, an operator, a script), and a total that
 * does not match its lines must never reach the log.
 */
export function checkedPricing(pricing: Pricing, items: readonly OrderItem[]): Pricing {
  const problem = pricingProblem(pricing, items);
  if (problem !== undefined) {
    throw new RuleViolation('invalid-pricing', `The pricing does not add up: ${problem}`, {
      problem,
    });
  }
  const { subtotalCents, discountCents, totalCents } = pricing;
  return {
    lines: pricing.lines.map(({ sku, quantity, unitPriceCents, lineTotalCents }) => ({
      sku,
      quantity,
      unitPriceCents,
      lineTotalCents,
    })),
    subtotalCents,
    discounts: pricing.discounts.map(({ code, description, amountCents }) => ({
      code,
      description,
      amountCents,
    })),
    discountCents,
    totalCents,
  };
}

function pricingProblem(pricing: Pricing, items: readonly OrderItem[]): string | undefined {
  const amounts = [
    pricing.subtotalCents,
    pricing.discountCents,
    pricing.totalCents,
    ...pricing.lines.flatMap((line) => [line.unitPriceCents, line.lineTotalCents]),
    ...pricing.discounts.map((discount) => discount.amountCents),
  ];
  if (!amounts.every((amount) => Number.isSafeInteger(amount) && amount >= 0)) {
    return 'every amount must be a non-negative whole number of cents';
  }
  const ordered = new Map(items.map((item) => [item.sku, item.quantity]));
  const linesMatch =
    pricing.lines.length === items.length &&
    new Set(pricing.lines.map((line) => line.sku)).size === items.length &&
    pricing.lines.every((line) => ordered.get(line.sku) === line.quantity);
  if (!linesMatch) return "the lines are not the order's skus and quantities";
  const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
  const consistent =
    pricing.lines.every((line) => line.lineTotalCents === line.quantity * line.unitPriceCents) &&
    pricing.subtotalCents === sum(pricing.lines.map((line) => line.lineTotalCents)) &&
    pricing.discountCents === sum(pricing.discounts.map((discount) => discount.amountCents)) &&
    pricing.totalCents === pricing.subtotalCents - pricing.discountCents;
  return consistent ? undefined : 'the totals are inconsistent with the lines and discounts';
}
