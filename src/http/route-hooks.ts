/**
 * Hooks that only some routes need are added to those routes alone, from an `onRoute` hook,
 * rather than with `app.addHook`: an application-wide hook runs on every request, and each hook
 * on the query path (the hottest one) costs measurable throughput even when it returns at once.
 */
import type { HTTPMethods, RouteOptions } from 'fastify';

type HookName = 'onRequest' | 'preValidation' | 'onSend';
type HookOf<N extends HookName> =
  NonNullable<RouteOptions[N]> extends infer H ? (H extends readonly (infer E)[] ? E : H) : never;

/**
 * Runs `hook` before the route's own hooks of that name, where an application-wide hook
 * would have run.
 */
export function prependRouteHook<N extends HookName>(
  route: RouteOptions,
  name: N,
  hook: HookOf<N>,
): void {
  const own = route[name] as HookOf<N> | readonly HookOf<N>[] | undefined;
  const hooks = own === undefined ? [] : Array.isArray(own) ? own : [own];
  (route as Record<N, unknown>)[name] = [hook, ...(hooks as readonly HookOf<N>[])];
}

/** Whether the route answers `method` (routes may list several methods). */
export function routeServes(route: RouteOptions, method: HTTPMethods): boolean {
  return Array.isArray(route.method) ? route.method.includes(method) : route.method === method;
}
