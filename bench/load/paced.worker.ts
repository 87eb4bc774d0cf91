/**
 * Open-loop load at a fixed rate, in its own process. Request i is due at start + i / rate and
 * its latency is measured from that intended time, not from when it went out, so a stalled
 * server is charged for every request it held up (no coordinated omission).
 *
 * In freshness mode each order placed is then read back with `Streamfold-Min-Position` set to
 * the position the command answered: the query waits, event-driven, until the order view has
 * passed that position. The time from the command's response to that query's response is an
 * upper bound of the read model's lag: it includes one query round trip.
 */
import http from 'node:http';
import { childArg, reportResult } from '../lib/children.js';
import { createRecorder, round, type Recorder } from '../lib/histogram.js';
import type { Latency } from '../lib/types.js';

export type PacedArg = Readonly<{
  url: string;
  /** Requests per second. */
  rate: number;
  seconds: number;
  warmupSeconds: number;
  method: 'GET' | 'POST';
  paths: readonly string[];
  body?: string;
  freshness?: boolean;
  /** How long to wait for the last requests once all are sent. @default 10 */
  drainSeconds?: number;
}>;

export type PacedResult = Readonly<{
  latency: Latency;
  /** Requests per second actually completed. */
  achievedRate: number;
  non2xx: number;
  errors: number;
  /**
   * Requests still unanswered when the drain ended; each is recorded with the time it had waited
   * by then, a lower bound of its latency, so an overloaded server cannot hide them.
   */
  unfinished: number;
  freshness?: Latency;
  /** Freshness queries that gave up (503 after the server's read-your-writes timeout). */
  notFresh?: number;
}>;

type Response = Readonly<{ status: number; body: string }>;

const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

function send(url: URL, method: string, path: string, body?: string, headers = {}) {
  return new Promise<Response>((resolve, reject) => {
    const request = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

type Tally = { non2xx: number; errors: number; notFresh: number; done: number; unfinished: number };
type Slot = { readonly intended: number; settled: boolean };
type Recorders = Readonly<{ latency: Recorder; freshness: Recorder }> | undefined;

async function one(arg: PacedArg, url: URL, i: number, slot: Slot, rec: Recorders, tally: Tally) {
  const path = arg.paths[i % arg.paths.length] ?? '/';
  try {
    const response = await send(url, arg.method, path, arg.body);
    if (slot.settled) return;
    slot.settled = true;
    const answered = performance.now();
    rec?.latency.record(answered - slot.intended);
    tally.done++;
    if (response.status < 200 || response.status >= 300) return void tally.non2xx++;
    if (arg.freshness !== true) return;
    const { orderId, position } = JSON.parse(response.body) as {
      orderId: string;
      position: string;
    };
    const read = await send(url, 'GET', `/v1/orders/${orderId}`, undefined, {
      'streamfold-min-position': position,
    });
    if (read.status !== 200) return void tally.notFresh++;
    rec?.freshness.record(performance.now() - answered);
  } catch {
    if (!slot.settled) tally.errors++;
    slot.settled = true;
  }
}

/** Sends at the rate for `seconds`, then waits for the stragglers. */
async function pace(arg: PacedArg, seconds: number, rec: Recorders, tally: Tally) {
  const url = new URL(arg.url);
  const total = Math.round(arg.rate * seconds);
  const start = performance.now();
  const inFlight = new Map<Promise<void>, Slot>();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * arg.rate) / 1000) + 1);
    for (; sent < due; sent++) {
      const slot: Slot = { intended: start + (sent * 1000) / arg.rate, settled: false };
      const pending = one(arg, url, sent, slot, rec, tally);
      inFlight.set(pending, slot);
      void pending.finally(() => inFlight.delete(pending));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  let timer: NodeJS.Timeout | undefined;
  const drained = new Promise(
    (resolve) => (timer = setTimeout(resolve, (arg.drainSeconds ?? 10) * 1000)),
  );
  await Promise.race([Promise.all(inFlight.keys()), drained]);
  clearTimeout(timer);
  const now = performance.now();
  for (const slot of inFlight.values()) {
    if (slot.settled) continue;
    slot.settled = true;
    rec?.latency.record(now - slot.intended);
    tally.unfinished++;
  }
  return (now - start) / 1000;
}

const fresh = (): Tally => ({ non2xx: 0, errors: 0, notFresh: 0, done: 0, unfinished: 0 });

async function main(arg: PacedArg): Promise<PacedResult> {
  if (arg.warmupSeconds > 0) {
    await pace(arg, arg.warmupSeconds, undefined, fresh());
  }
  const rec = { latency: createRecorder(), freshness: createRecorder() };
  const tally = fresh();
  const elapsed = await pace(arg, arg.seconds, rec, tally);
  const result = {
    latency: rec.latency.summary(),
    achievedRate: round(tally.done / elapsed, 1),
    non2xx: tally.non2xx,
    errors: tally.errors,
    unfinished: tally.unfinished,
    ...(arg.freshness === true
      ? { freshness: rec.freshness.summary(), notFresh: tally.notFresh }
      : {}),
  };
  // Requests left over from an overloaded run must not keep this process alive.
  agent.destroy();
  return result;
}

reportResult(await main(childArg<PacedArg>()));
process.exit(0);
