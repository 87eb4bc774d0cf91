/**
 * Projection administration: list projections with their version, progress and lag; rebuild
 * one as a job, follow the job, cancel it.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { NotFoundError } from '../../errors.js';
import { problemResponses } from '../../http/schemas.js';
import type { RebuildManager } from '../rebuild/rebuild-manager.js';
import type { ProjectionOverview } from '../rebuild/overview.js';

const tags = ['admin'];
const Name = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) });
const JobId = Type.Object({ jobId: Type.String({ minLength: 1, maxLength: 100 }) });
const Any = Type.Object({}, { additionalProperties: true });

export type ProjectionAdminOptions = Readonly<{
  manager: RebuildManager;
  overview: () => Promise<readonly ProjectionOverview[]>;
}>;

export const projectionAdminRoutes: FastifyPluginAsyncTypebox<ProjectionAdminOptions> = async (
  app,
  { manager, overview },
) => {
  app.get(
    '/v1/admin/projections',
    {
      schema: {
        tags,
        summary: 'Every projection: version, active generation, position, lag and state',
        response: { 200: Type.Object({ items: Type.Array(Any) }), ...problemResponses },
      },
    },
    async () => ({ items: [...(await overview())] }),
  );

  app.post(
    '/v1/admin/projections/:name/rebuild',
    {
      schema: {
        tags,
        summary: 'Rebuilds a projection from the log beside the live one, then switches to it',
        params: Name,
        response: { 202: Type.Object({ jobId: Type.String() }), ...problemResponses },
      },
    },
    async (request, reply) => {
      const job = await manager.rebuild(request.params.name);
      return reply.code(202).header('location', `/v1/admin/jobs/${job.id}`).send({ jobId: job.id });
    },
  );

  app.get(
    '/v1/admin/jobs/:jobId',
    {
      schema: {
        tags,
        summary: 'A rebuild job: state, events done and total, rate and ETA',
        params: JobId,
        response: { 200: Any, ...problemResponses },
      },
    },
    async (request) => {
      const job = manager.job(request.params.jobId);
      if (job === undefined) throw new NotFoundError(`No job ${request.params.jobId}`);
      return job.status();
    },
  );

  app.delete(
    '/v1/admin/jobs/:jobId',
    {
      schema: {
        tags,
        summary: 'Cancels a rebuild job and drops what it built',
        params: JobId,
        response: { 202: Any, ...problemResponses },
      },
    },
    async (request, reply) => {
      const job = manager.job(request.params.jobId);
      if (job === undefined) throw new NotFoundError(`No job ${request.params.jobId}`);
      job.cancel();
      return reply.code(202).send(job.status());
    },
  );
};
