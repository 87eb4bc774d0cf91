/** A notification webhook for tests: records what it receives and can be told to fail. */
import { createServer, type Server } from 'node:http';

export type WebhookMode =
  | { kind: 'ok' }
  /** Answer 503 to the first `times` deliveries of each notification id. */
  | { kind: 'flaky'; times: number }
  /** Answer 503 to everything. */
  | { kind: 'down' };

export type WebhookReceiver = Readonly<{
  url: string;
  /** Accepted deliveries, in arrival order (ids repeat if a notification arrives twice). */
  accepted: string[];
  /** Every delivery attempt, accepted or not. */
  attempts: string[];
  setMode(mode: WebhookMode): void;
  close(): Promise<void>;
}>;

export async function startWebhookReceiver(
  mode: WebhookMode = { kind: 'ok' },
): Promise<WebhookReceiver> {
  let current = mode;
  const accepted: string[] = [];
  const attempts: string[] = [];
  const failures = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const id = String((JSON.parse(body) as { id?: unknown }).id);
      attempts.push(id);
      const failed = failures.get(id) ?? 0;
      const fail = current.kind === 'down' || (current.kind === 'flaky' && failed < current.times);
      if (fail) failures.set(id, failed + 1);
      else accepted.push(id);
      response.writeHead(fail ? 503 : 204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/notifications`,
    accepted,
    attempts,
    setMode: (next) => (current = next),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
