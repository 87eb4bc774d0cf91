/**
 * Builds the HTTP API from its dependencies, without listening, so tests can `inject`.
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type onRequestHookHandler,
} from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { CommandHandler } from '../commands/command-handler.js';
import { productCommandRoutes } from '../commands/product/product.routes.js';
import { orderCommandRoutes } from '../commands/order/order.routes.js';
import type { ReadStore } from '../projections/read-store.js';
import type { ProjectionProgress } from '../queries/consistency.js';
import type { DocumentReader } from '../queries/document-reader.js';
import { orderQueryRoutes } from '../queries/orders/orders.query.js';
import { productQueryRoutes } from '../queries/products/products.query.js';
import { salesQueryRoutes } from '../queries/stats/sales.query.js';
import type { ChangeFeed } from '../queries/change-feed.js';
import { liveRoutes } from '../queries/live/live.routes.js';
import { OverloadedError } from '../errors.js';
import { healthRoutes, type Readiness } from './health.routes.js';
import { handleError, sendProblem } from './problem.js';
import { deadLetterRoutes } from '../commands/admin/dead-letters.routes.js';
import type { DeadLetterStore } from '../commands/dead-letters.js';
import { registerIdempotency } from './idempotency.js';
import { prependRouteHook, routeServes } from './route-hooks.js';
import type { IdempotencyStore } from '../commands/idempotency-store.js';
import {
  projectionAdminRoutes,
  type ProjectionAdminOptions,
} from '../projections/admin/projections.routes.js';

export type AppDeps = Readonly<{
  commands: CommandHandler;
  documents: DocumentReader;
  readStore: ReadStore;
  progress: ProjectionProgress;
  readiness: Readiness;
  /** Live document streams (SSE); without it the live routes are not served. */
  changes?: ChangeFeed;
  /** Workflow dead letters, for the admin endpoints; without it they are not served. */
  deadLetters?: DeadLetterStore;
  /** Remembers `Idempotency-Key`s; without it the header is ignored. */
  idempotency?: IdempotencyStore;
  /** Projection rebuilds and their jobs, for the admin endpoints; without it they are not served. */
  projectionAdmin?: ProjectionAdminOptions;
}>;

export type AppOptions = Readonly<{
  /** @default 2000 */
  readYourWritesTimeoutMs?: number;
  /** @default 5000 */
  maxInFlightCommands?: number;
  /** How long an answered `Idempotency-Key` is remembered. @default 86_400_000 (24 h) */
  idempotencyTtlMs?: number;
  /** A pino logger; none, or one at level `silent`, means no request logging at all. */
  logger?: FastifyBaseLogger;
}>;

export type App = FastifyInstance;

export async function buildApp(deps: AppDeps, options: AppOptions = {}): Promise<App> {
  // A silent logger still costs a child logger and response listeners per request; without
  // one Fastify skips both.
  const logger = options.logger?.level === 'silent' ? undefined : options.logger;
  const app = Fastify({
    ...(logger === undefined ? { logger: false } : { loggerInstance: logger }),
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: true } },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      request,
      404,
      'STREAMFOLD_NOT_FOUND',
      `No route ${request.method} ${request.url}`,
    ),
  );
  limitCommandsInFlight(app, options.maxInFlightCommands ?? 5000);
  if (deps.idempotency !== undefined) {
    registerIdempotency(app, {
      store: deps.idempotency,
      ...(options.idempotencyTtlMs === undefined ? {} : { ttlMs: options.idempotencyTtlMs }),
    });
  }

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Streamfold',
        version: '1',
        description:
          'Commands append events; queries read projections. Errors are RFC 9457 problem+json.',
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const queryOptions = {
    documents: deps.documents,
    readStore: deps.readStore,
    progress: deps.progress,
    timeoutMs: options.readYourWritesTimeoutMs ?? 2000,
  };
  await app.register(healthRoutes, { readiness: deps.readiness });
  await app.register(productCommandRoutes, { commands: deps.commands });
  await app.register(orderCommandRoutes, { commands: deps.commands });
  if (deps.deadLetters !== undefined) {
    await app.register(deadLetterRoutes, { deadLetters: deps.deadLetters });
  }
  if (deps.projectionAdmin !== undefined) {
    await app.register(projectionAdminRoutes, deps.projectionAdmin);
  }
  await app.register(productQueryRoutes, queryOptions);
  await app.register(orderQueryRoutes, queryOptions);
  await app.register(salesQueryRoutes, queryOptions);
  if (deps.changes !== undefined) {
    await app.register(liveRoutes, { documents: deps.documents, changes: deps.changes });
  }
  return app;
}

/**
 * Sheds load before it queues without bound: over the limit, commands get 503 at once. Only
 * POST routes carry the hook, and it is synchronous: queries never pay for it.
 */
function limitCommandsInFlight(app: FastifyInstance, max: number): void {
  let inFlight = 0;
  const limit: onRequestHookHandler = (request, reply, done) => {
    if (request.method !== 'POST') return done();
    if (inFlight >= max) {
      return done(new OverloadedError(`More than ${max} commands in flight; retry shortly`));
    }
    inFlight++;
    reply.raw.once('close', () => inFlight--);
    done();
  };
  app.addHook('onRoute', (route) => {
    if (routeServes(route, 'POST')) prependRouteHook(route, 'onRequest', limit);
  });
}
