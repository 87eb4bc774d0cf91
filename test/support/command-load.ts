/**
 * A steady, bounded stream of HTTP commands for fault tests: products registered, restocked,
 * reserved and released, and orders placed, one command after another at a modest rate, while
 * the test breaks something. Counts answers by status, and network failures apart.
 */
import { post } from './http.js';

export type LoadResult = Readonly<{
  sent: number;
  byStatus: Readonly<Record<number, number>>;
  /** Requests that got no HTTP answer at all. */
  failed: number;
  /** Answers of 500 and above. */
  serverErrors: number;
}>;

export type Load = Readonly<{
  /** How many commands have been answered so far. */
  answered(): number;
  /** Resolves once `count` more commands have been answered. */
  answeredMore(count: number): Promise<void>;
  stop(): Promise<LoadResult>;
}>;

export type LoadOptions = Readonly<{
  /** Pause between commands. @default 10 */
  pauseMs?: number;
  /** Upper bound on commands, so a stuck test cannot loop for ever. @default 20_000 */
  maxCommands?: number;
  /** Tells products and orders of several loads apart. @default 'load' */
  prefix?: string;
}>;

export function startLoad(url: string, options: LoadOptions = {}): Load {
  const { pauseMs = 10, maxCommands = 20_000, prefix = 'load' } = options;
  const byStatus: Record<number, number> = {};
  let sent = 0;
  let failed = 0;
  let answered = 0;
  let stopping = false;
  const waiters = new Set<() => void>();
  const skus: string[] = [];

  async function one(n: number): Promise<void> {
    const [path, body] = nextCommand(n, prefix, skus);
    try {
      const response = await post(url, path, body);
      byStatus[response.status] = (byStatus[response.status] ?? 0) + 1;
      if (response.status === 201 && path === '/v1/products')
        skus.push((body as { sku: string }).sku);
    } catch {
      failed++;
    }
    answered++;
    for (const waiter of [...waiters]) waiter();
  }

  const loop = (async () => {
    while (!stopping && sent < maxCommands) {
      await one(sent++);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  })();

  return {
    answered: () => answered,
    answeredMore(count) {
      const target = answered + count;
      return new Promise((resolve) => {
        const check = (): void => {
          if (answered < target && !(sent >= maxCommands)) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
    async stop() {
      stopping = true;
      await loop;
      const serverErrors = Object.entries(byStatus)
        .filter(([status]) => Number(status) >= 500)
        .reduce((sum, [, count]) => sum + count, 0);
      return { sent, byStatus, failed, serverErrors };
    },
  };
}

/** Every tenth command registers a product; the rest move its stock or order it. */
function nextCommand(n: number, prefix: string, skus: readonly string[]): [string, unknown] {
  if (n % 10 === 0 || skus.length === 0) {
    const sku = `${prefix}-${n}`;
    return [
      '/v1/products',
      { sku, name: `Product ${n}`, priceCents: 100 + n, initialStock: 1_000 },
    ];
  }
  const sku = skus[(n * 7) % skus.length] as string;
  switch (n % 4) {
    case 0:
      return [`/v1/products/${sku}/restock`, { quantity: 1 + (n % 5) }];
    case 1:
      return [`/v1/products/${sku}/reserve`, { orderId: `${prefix}-o${n}`, quantity: 1 + (n % 3) }];
    case 2: {
      // The reservation the previous command made, when the product list has not grown since.
      const reservedSku = skus[((n - 1) * 7) % skus.length] as string;
      return [`/v1/products/${reservedSku}/release`, { orderId: `${prefix}-o${n - 1}` }];
    }
    default:
      return ['/v1/orders', { customerId: `c${n % 7}`, items: [{ sku, quantity: 1 + (n % 4) }] }];
  }
}
