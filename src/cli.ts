/**
 * `streamfold rebuild <projection>` and `streamfold verify <projection>`, against the stores
 * the environment configures (the same variables as the server).
 *
 * `rebuild` runs the rebuild job in this process. It holds no live projector, so it is meant
 * for when no server runs that projection (maintenance); on a running server use
 * `POST /v1/admin/projections/:name/rebuild`, which switches the server's live projector too.
 */
import { loadConfig } from './config.js';
import { createEventStore, createReadStore } from './main.js';
import { checkoutProjections } from './projections/index.js';
import { createRebuildManager } from './projections/rebuild/rebuild-manager.js';
import { createProjectionRegistry } from './projections/rebuild/registry.js';
import { verifyProjection } from './projections/rebuild/verify.js';
import type { JobStatus } from './projections/rebuild/rebuild-job.js';

const USAGE = 'usage: streamfold rebuild <projection> | streamfold verify <projection>';

async function main(args: readonly string[]): Promise<number> {
  const [command, name] = args;
  const projection = checkoutProjections.find((p) => p.name === name);
  if ((command !== 'rebuild' && command !== 'verify') || projection === undefined) {
    const names = checkoutProjections.map((p) => p.name).join(', ');
    process.stderr.write(`${USAGE}\nprojections: ${names}\n`);
    return 64;
  }
  const config = loadConfig();
  const events = createEventStore(config);
  const store = createReadStore(config);
  try {
    const registry = createProjectionRegistry(store);
    if (command === 'verify') {
      const entry = await registry.ensure(projection);
      const collection = entry.active.collection;
      const partitions = config.partitions;
      const result = await verifyProjection({ events, store, projection, collection, partitions });
      const clean =
        result.different.length + result.missing.length + result.unexpected.length === 0;
      process.stdout.write(
        `${collection}: ${result.documents} documents, expected ${result.expectedHash}, actual ${result.actualHash}\n`,
      );
      for (const id of result.different) process.stdout.write(`  differs    ${id}\n`);
      for (const id of result.missing) process.stdout.write(`  missing    ${id}\n`);
      for (const id of result.unexpected) process.stdout.write(`  unexpected ${id}\n`);
      process.stdout.write(clean ? 'no difference\n' : 'DIFFERENT\n');
      return clean ? 0 : 1;
    }
    const manager = createRebuildManager({
      events,
      store,
      registry,
      projections: checkoutProjections,
      partitions: config.partitions,
      projectors: new Map(),
      // Projector processes follow the registry every second; give them time, then replay the
      // tail they may have applied to the old generation meanwhile.
      followersMs: 2500,
      graceMs: 0,
      logger: { info: () => undefined, error: () => undefined },
    });
    const job = await manager.rebuild(projection.name);
    const timer = setInterval(() => drawBar(job.status()), 200);
    let status: JobStatus;
    try {
      status = await waitFor(job);
    } finally {
      clearInterval(timer);
    }
    drawBar(status);
    process.stderr.write('\n');
    await manager.stop();
    if (status.state !== 'completed')
      process.stderr.write(`rebuild ${status.state}: ${status.error ?? ''}\n`);
    return status.state === 'completed' ? 0 : 1;
  } finally {
    await events.close();
    await store.close();
  }
}

async function waitFor(job: { status(): JobStatus }): Promise<JobStatus> {
  for (;;) {
    const status = job.status();
    if (!['running', 'catching-up', 'switching'].includes(status.state)) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One line on stderr, redrawn in place with \r. */
function drawBar(status: JobStatus): void {
  const total = status.eventsTotal;
  const share = total === undefined || total === 0 ? 0 : Math.min(1, status.eventsDone / total);
  const width = 30;
  const filled = Math.round(share * width);
  const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
  const eta = status.etaSeconds === undefined ? '?' : `${status.etaSeconds}s`;
  process.stderr.write(
    `\r[${bar}] ${(share * 100).toFixed(0)}% ${status.eventsDone}/${total ?? '?'} events, ${status.rate} ev/s, eta ${eta}, ${status.state}   `,
  );
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`streamfold: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
