/**
 * `Idempotency-Key` on command POSTs (draft-ietf-httpapi-idempotency-key-header): a retried
 * command is answered from the first attempt's stored response instead of being decided again.
 *
 * A key is global to the API, not per route: its first request's fingerprint (method, route,
 * path parameters, query and canonical body) stays with it, so the same key on another route
 * or with another body is a 422 mismatch, as the draft asks for a key reused with a different
 * payload. Without the header a request is handled exactly as before.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Type, type TObject } from '@sinclair/typebox';
import type { IdempotencyStore, StoredResponse } from '../commands/idempotency-store.js';
import { ErrorCodes, StreamfoldError, ValidationError } from '../errors.js';
import { prependRouteHook, routeServes } from './route-hooks.js';

export type IdempotencyOptions = Readonly<{
  store: IdempotencyStore;
  /** How long an answered key is remembered after its response. @default 86_400_000 (24 h) */
  ttlMs?: number;
}>;

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotency-replayed';
const DEFAULT_TTL_MS = 86_400_000;

/** 1–255 visible ASCII characters (the draft's key is an sf-string; this is what we accept). */
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/** Headers that belong to a command's answer; everything else is per-connection or per-send. */
const REPLAYED_HEADERS = ['content-type', 'location', 'etag', 'streamfold-position'] as const;

const IdempotencyKeyHeader = Type.String({
  minLength: 1,
  maxLength: 255,
  description:
    'Makes the command safe to retry: the same key with the same request returns the first ' +
    'response (with Idempotency-Replayed: true) and appends nothing; another request with the ' +
    'key gets 422; a retry while the first is still running gets 409.',
});

type Claim = Readonly<{ key: string; token: string }>;

/**
 * Adds the behaviour to every POST under /v1/ (except /v1/admin/) registered after this call,
 * and documents the header on those routes. Call it before registering the command routes.
 * The hooks are added to those routes only, so queries never run them.
 */
export function registerIdempotency(app: FastifyInstance, options: IdempotencyOptions): void {
  const { store } = options;
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  const claims = new WeakMap<FastifyRequest, Claim>();

  // preValidation: the body is parsed but not yet coerced, and a schema violation still ends
  // in onSend, so even a 400 is answered once and replayed.
  const claim = async (request: FastifyRequest, reply: FastifyReply) => {
    const key = keyOf(request);
    if (key === undefined) return;
    const result = await store.claim(key, fingerprint(request), { ttlMs });
    switch (result.kind) {
      case 'claimed':
        claims.set(request, { key, token: result.token });
        return;
      case 'completed':
        return replay(reply, result.response);
      case 'in-flight':
        throw new StreamfoldError(
          ErrorCodes.IDEMPOTENCY_IN_FLIGHT,
          'A request with this Idempotency-Key is still being handled; retry once it has answered',
        );
      case 'mismatch':
        throw new StreamfoldError(
          ErrorCodes.IDEMPOTENCY_MISMATCH,
          'This Idempotency-Key was used for a different request (method, path or body)',
        );
    }
  };

  const remember = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const claimed = claims.get(request);
    if (claimed === undefined) return payload;
    claims.delete(request);
    try {
      await settle(store, claimed, reply, payload);
    } catch (error) {
      // The answer itself is fine; only its memory failed. The claim's lease frees the key.
      request.log.error({ err: error }, 'could not record the idempotent response');
    }
    return payload;
  };

  app.addHook('onRoute', (route) => {
    if (!routeServes(route, 'POST') || !applies('POST', route.url)) return;
    documentHeader(route);
    prependRouteHook(route, 'preValidation', claim);
    prependRouteHook(route, 'onSend', remember);
  });
}

/** Keeps the answer of a handled request, or frees the key after a server error to allow a retry. */
async function settle(
  store: IdempotencyStore,
  claim: Claim,
  reply: FastifyReply,
  payload: unknown,
): Promise<void> {
  const body = payload === undefined || payload === null ? '' : payload;
  // Command answers are serialised JSON; a stream or buffer cannot be kept byte for byte here,
  // so such a request stays retryable rather than being replayed wrongly.
  if (reply.statusCode >= 500 || typeof body !== 'string') {
    await store.release(claim.key, claim.token);
    return;
  }
  const headers: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = reply.getHeader(name);
    if (value !== undefined)
      headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  await store.complete(claim.key, claim.token, { status: reply.statusCode, headers, body });
}

function replay(reply: FastifyReply, response: StoredResponse): FastifyReply {
  return reply
    .code(response.status)
    .headers(response.headers)
    .header(REPLAYED_HEADER, 'true')
    .send(response.body);
}

function applies(method: string, url: string): boolean {
  return method === 'POST' && url.startsWith('/v1/') && !url.startsWith('/v1/admin/');
}

function keyOf(request: FastifyRequest): string | undefined {
  const url = request.routeOptions.url;
  if (url === undefined || !applies(request.method, url)) return undefined;
  const raw = request.headers[IDEMPOTENCY_KEY_HEADER];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !KEY_PATTERN.test(raw)) {
    const detail = 'Idempotency-Key must be 1 to 255 printable ASCII characters';
    throw new ValidationError(detail, { header: 'Idempotency-Key' });
  }
  return raw;
}

/** What makes two requests "the same": method, route, its parameters, query and body. */
export function fingerprint(request: FastifyRequest): string {
  const { method, params, query, body } = request;
  const identity = canonicalJson({ params, query, body });
  return createHash('sha256')
    .update(`${method} ${request.routeOptions.url ?? request.url}\n${identity}`)
    .digest('hex');
}

/** JSON with object keys sorted at every depth, so key order never changes a fingerprint. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${canonicalJson(item)}`).join(',')}}`;
}

/** Adds the optional header to the route's OpenAPI schema, copying rather than mutating it. */
function documentHeader(route: RouteOptions): void {
  const schema = route.schema ?? {};
  const headers = schema.headers as TObject | undefined;
  const properties = {
    ...headers?.properties,
    [IDEMPOTENCY_KEY_HEADER]: Type.Optional(IdempotencyKeyHeader),
  };
  route.schema = {
    ...schema,
    headers: headers === undefined ? Type.Object(properties) : { ...headers, properties },
  };
}
