/**
 * The one place that maps error codes to HTTP statuses and writes RFC 9457 problem+json.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, StreamfoldError, type ErrorCode } from '../errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const STATUS: Readonly<Record<ErrorCode, number>> = {
  [ErrorCodes.VALIDATION]: 400,
  [ErrorCodes.NOT_INDEXED]: 400,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.CONFLICT]: 409,
  [ErrorCodes.RULE_VIOLATION]: 422,
  [ErrorCodes.OVERLOADED]: 503,
  [ErrorCodes.NOT_CAUGHT_UP]: 503,
  [ErrorCodes.CLOSED]: 503,
  [ErrorCodes.CONFIG]: 500,
  [ErrorCodes.IDEMPOTENCY_IN_FLIGHT]: 409,
  [ErrorCodes.IDEMPOTENCY_MISMATCH]: 422,
};

const TITLE: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export type Problem = Readonly<{
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: string;
  [extension: string]: unknown;
}>;

export function problemType(code: string): string {
  return `urn:streamfold:problem:${code
    .replace(/^STREAMFOLD_/, '')
    .toLowerCase()
    .replace(/_/g, '-')}`;
}

export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  status: number,
  code: string,
  detail: string,
  extensions: Readonly<Record<string, unknown>> = {},
): FastifyReply {
  // Extensions never override the standard members (RFC 9457 §3.2).
  const problem: Problem = {
    ...extensions,
    type: problemType(code),
    title: TITLE[status] ?? 'Error',
    status,
    detail,
    instance: request.url,
    code,
  };
  return reply.code(status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

/** Fastify error handler: domain/adapter errors by code, schema errors as 400, the rest as 500. */
export function handleError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error instanceof StreamfoldError) {
    const status = STATUS[error.code];
    if (status === 503) void reply.header('Retry-After', '1');
    if (status >= 500 && status !== 503) request.log.error({ err: error }, error.message);
    return sendProblem(reply, request, status, error.code, error.message, error.details ?? {});
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation !== undefined) {
    return sendProblem(reply, request, 400, ErrorCodes.VALIDATION, error.message, {
      errors: fastifyError.validation.map((issue) => ({
        pointer: pointerOf(fastifyError.validationContext, issue.instancePath),
        detail: issue.message ?? 'is invalid',
      })),
    });
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return sendProblem(
      reply,
      request,
      status,
      fastifyError.code ?? 'STREAMFOLD_BAD_REQUEST',
      error.message,
    );
  }
  request.log.error({ err: error }, 'unhandled error');
  return sendProblem(reply, request, 500, 'STREAMFOLD_INTERNAL', 'An unexpected error occurred');
}

function pointerOf(context: string | undefined, instancePath: string): string {
  return `#/${context ?? 'body'}${instancePath}`;
}
