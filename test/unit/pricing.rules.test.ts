import { describe, expect, it } from 'vitest';
import type { PromoCatalog } from '../../src/commands/order/pricing.rules.js';
import { DEFAULT_PROMOS, priceOrder } from '../../src/commands/order/pricing.rules.js';
import { ConfigError, RuleViolation } from '../../src/errors.js';

const line = (sku: string, quantity: number, unitPriceCents: number) => ({
  sku,
  quantity,
  unitPriceCents,
});

/** One line of `units` units at `unitPriceCents`, the simplest order of a given size. */
const units = (quantity: number, unitPriceCents = 1000) => [line('MUG', quantity, unitPriceCents)];

describe('priceOrder: lines and subtotal', () => {
  it('prices each line as quantity × unit price and sums them, with no discount', () => {
    expect(priceOrder([line('KETTLE', 2, 2500), line('MUG', 3, 800)], undefined)).toStrictEqual({
      lines: [
        { sku: 'KETTLE', quantity: 2, unitPriceCents: 2500, lineTotalCents: 5000 },
        { sku: 'MUG', quantity: 3, unitPriceCents: 800, lineTotalCents: 2400 },
      ],
      subtotalCents: 7400,
      discounts: [],
      discountCents: 0,
      totalCents: 7400,
    });
  });

  it('prices free items at zero and lists no discount that takes nothing off', () => {
    const pricing = priceOrder(units(60, 0), 'WELCOME10');
    expect(pricing).toMatchObject({ subtotalCents: 0, discounts: [], totalCents: 0 });
  });

  it('copies only the known fields of each line, such as those of a StockReserved event', () => {
    const reservation = { ...line('MUG', 1, 800), orderId: 'o-1' };
    const pricing = priceOrder([reservation], undefined);
    expect(pricing.lines).toStrictEqual([
      { sku: 'MUG', quantity: 1, unitPriceCents: 800, lineTotalCents: 800 },
    ]);
  });

  it('refuses a total beyond exact integer arithmetic', () => {
    expect(() => priceOrder(units(1_000_000, Number.MAX_SAFE_INTEGER), undefined)).toThrow(
      expect.objectContaining({ rule: 'total-too-large' }),
    );
    const nearLimit = Math.floor(Number.MAX_SAFE_INTEGER / 2) + 1;
    expect(() => priceOrder([line('A', 1, nearLimit), line('B', 1, nearLimit)], undefined)).toThrow(
      RuleViolation,
    );
  });

  it.each([
    ['quantity', line('MUG', 0, 800), 'invalid-quantity'],
    ['unit price', line('MUG', 1, -1), 'invalid-price'],
    ['fractional unit price', line('MUG', 1, 0.5), 'invalid-price'],
  ])('refuses a bad %s', (_field, bad, rule) => {
    expect(() => priceOrder([bad], undefined)).toThrow(expect.objectContaining({ rule }));
  });
});

describe('priceOrder: volume discount', () => {
  it.each([
    [9, 0],
    [10, 500],
    [49, 2450],
    [50, 5000],
    [500, 50_000],
  ])('takes the right tier off %i units at 10.00 each (%i cents)', (quantity, amountCents) => {
    const pricing = priceOrder(units(quantity), undefined);
    expect(pricing.discountCents).toBe(amountCents);
    expect(pricing.totalCents).toBe(quantity * 1000 - amountCents);
    if (amountCents > 0) {
      expect(pricing.discounts).toStrictEqual([
        { code: 'VOLUME', description: expect.any(String) as string, amountCents },
      ]);
    } else {
      expect(pricing.discounts).toStrictEqual([]);
    }
  });

  it('counts units across lines, not lines', () => {
    const pricing = priceOrder([line('A', 4, 100), line('B', 6, 100)], undefined);
    expect(pricing.discounts).toMatchObject([{ code: 'VOLUME', amountCents: 50 }]);
  });

  it('applies only the highest tier reached', () => {
    expect(priceOrder(units(50), undefined).discounts).toHaveLength(1);
  });

  it('rounds down to whole cents', () => {
    // 5% of 10 × 199 = 99.5 cents → 99; 10% of 50 × 33 = 165 exactly.
    expect(priceOrder(units(10, 199), undefined).discountCents).toBe(99);
    expect(priceOrder(units(10, 1), undefined)).toMatchObject({ discountCents: 0, totalCents: 10 });
  });

  it('stays exact and consistent on large amounts', () => {
    // 10 × this is a safe integer, 5 × that is not; the discount must still be exact.
    const big = 2 ** 49 + 7;
    const pricing = priceOrder(units(10, big), undefined);
    expect(pricing.discountCents).toBe(Number((BigInt(big) * 10n * 5n) / 100n));
    expect(pricing.totalCents + pricing.discountCents).toBe(pricing.subtotalCents);
  });
});

describe('priceOrder: promo codes', () => {
  it('takes a percentage off with WELCOME10', () => {
    expect(priceOrder(units(2), 'WELCOME10')).toMatchObject({
      subtotalCents: 2000,
      discounts: [{ code: 'WELCOME10', description: '10% off', amountCents: 200 }],
      discountCents: 200,
      totalCents: 1800,
    });
  });

  it('takes a fixed amount off with FIVEOFF from its minimum subtotal on', () => {
    expect(priceOrder(units(2), 'FIVEOFF')).toMatchObject({
      discounts: [{ code: 'FIVEOFF', amountCents: 500 }],
      totalCents: 1500,
    });
  });

  it('gives nothing for FIVEOFF below its minimum subtotal, without failing', () => {
    expect(priceOrder(units(1, 1999), 'FIVEOFF')).toMatchObject({
      discounts: [],
      discountCents: 0,
      totalCents: 1999,
    });
  });

  it.each(['NOPE', 'welcome10', 'toString', '__proto__', 'constructor'])(
    'gives nothing for the unknown code %s, without failing',
    (code) => {
      expect(priceOrder(units(2), code)).toMatchObject({ discounts: [], totalCents: 2000 });
    },
  );

  it('rounds a percentage down to whole cents', () => {
    // 10% of 3 × 333 = 99.9 cents → 99.
    expect(priceOrder(units(3, 333), 'WELCOME10').discountCents).toBe(99);
  });

  it('rounds down exactly where floating point would round up', () => {
    // 33% of 7,554,632,311,767,206 is …177.98; float arithmetic gives …178.
    const pricing = priceOrder(units(1, 7_554_632_311_767_206), 'ODD', { ODD: { percentOff: 33 } });
    expect(pricing.discountCents).toBe(2_493_028_662_883_177);
  });

  it('never takes the total below zero', () => {
    const catalog: PromoCatalog = { BIG: { amountOffCents: 10_000 } };
    expect(priceOrder(units(1, 300), 'BIG', catalog)).toMatchObject({
      discounts: [{ code: 'BIG', amountCents: 300 }],
      discountCents: 300,
      totalCents: 0,
    });
    expect(priceOrder(units(1, 300), 'ALL', { ALL: { percentOff: 100 } }).totalCents).toBe(0);
  });

  it('uses the catalog it is given instead of the defaults', () => {
    const catalog: PromoCatalog = { HALF: { percentOff: 50 } };
    expect(priceOrder(units(2), 'HALF', catalog).totalCents).toBe(1000);
    expect(priceOrder(units(2), 'WELCOME10', catalog).discounts).toStrictEqual([]);
  });

  it.each([
    ['a fractional percentage', { percentOff: 12.5 }],
    ['a percentage over 100', { percentOff: 150 }],
    ['no percentage', { percentOff: 0 }],
    ['a fractional amount', { amountOffCents: 0.5 }],
    ['a negative amount', { amountOffCents: -100 }],
  ])('fails loudly on a catalog entry with %s', (_case, promo) => {
    expect(() => priceOrder(units(2), 'BAD', { BAD: promo })).toThrow(ConfigError);
  });

  it('ships the two documented defaults', () => {
    expect(DEFAULT_PROMOS).toStrictEqual({
      WELCOME10: { percentOff: 10 },
      FIVEOFF: { amountOffCents: 500, minSubtotalCents: 2000 },
    });
    expect(Object.isFrozen(DEFAULT_PROMOS)).toBe(true);
  });
});

describe('priceOrder: stacking', () => {
  it('applies the volume discount first and the promo percentage to the remainder', () => {
    // 20 × 10.00 = 200.00; VOLUME 5% → 10.00 off, 190.00 left; WELCOME10 10% of that → 19.00.
    expect(priceOrder(units(20), 'WELCOME10')).toMatchObject({
      subtotalCents: 20_000,
      discounts: [
        { code: 'VOLUME', amountCents: 1000 },
        { code: 'WELCOME10', amountCents: 1900 },
      ],
      discountCents: 2900,
      totalCents: 17_100,
    });
  });

  it('judges a promo minimum on the subtotal before any discount', () => {
    // 10 × 2.00 = 20.00 reaches FIVEOFF's 20.00 minimum, although VOLUME leaves 19.00.
    expect(priceOrder(units(10, 200), 'FIVEOFF')).toMatchObject({
      discounts: [
        { code: 'VOLUME', amountCents: 100 },
        { code: 'FIVEOFF', amountCents: 500 },
      ],
      totalCents: 1400,
    });
  });

  it('caps the promo at what the volume discount left', () => {
    const catalog: PromoCatalog = { BIG: { amountOffCents: 1_000_000 } };
    expect(priceOrder(units(50, 100), 'BIG', catalog)).toMatchObject({
      discounts: [
        { code: 'VOLUME', amountCents: 500 },
        { code: 'BIG', amountCents: 4500 },
      ],
      discountCents: 5000,
      totalCents: 0,
    });
  });

  it('always satisfies total = subtotal − Σ discounts, every amount a whole number', () => {
    for (const quantity of [1, 9, 10, 11, 49, 50, 51, 333]) {
      for (const code of [undefined, 'WELCOME10', 'FIVEOFF', 'NOPE']) {
        const pricing = priceOrder(units(quantity, 37), code);
        const sum = pricing.discounts.reduce((total, d) => total + d.amountCents, 0);
        expect(pricing.discountCents).toBe(sum);
        expect(pricing.totalCents).toBe(pricing.subtotalCents - sum);
        expect(pricing.totalCents).toBeGreaterThanOrEqual(0);
        for (const d of pricing.discounts) expect(Number.isInteger(d.amountCents)).toBe(true);
      }
    }
  });
});
