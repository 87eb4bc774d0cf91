import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

export type ReadinessReport = Readonly<{
  ready: boolean;
  checks: Readonly<Record<string, string>>;
}>;
export type Readiness = () => ReadinessReport;

const Report = Type.Object({
  status: Type.String(),
  checks: Type.Record(Type.String(), Type.String()),
});

/** Liveness says the process serves HTTP; readiness says it should be sent traffic. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ readiness: Readiness }> = async (
  app,
  opts,
) => {
  app.get(
    '/healthz',
    { schema: { tags: ['health'], response: { 200: Type.Object({ status: Type.String() }) } } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    { schema: { tags: ['health'], response: { 200: Report, 503: Report } } },
    async (_request, reply) => {
      const report = opts.readiness();
      return reply
        .code(report.ready ? 200 : 503)
        .send({ status: report.ready ? 'ready' : 'not ready', checks: report.checks });
    },
  );
};
