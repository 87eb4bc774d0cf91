/** A minimal Server-Sent Events client over fetch, for end-to-end tests. */

export type SseEvent = Readonly<{ id: string | undefined; event: string; data: string }>;

export type SseClient = Readonly<{
  status: number;
  contentType: string | null;
  /** The next event (comments are skipped), or a rejection after `timeoutMs`. */
  next(timeoutMs?: number): Promise<SseEvent>;
  /** Comment lines seen so far, such as heartbeats. */
  comments(): number;
  close(): void;
}>;

export async function openSse(
  url: string,
  headers: Record<string, string> = {},
): Promise<SseClient> {
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  });
  const events: SseEvent[] = [];
  const waiters: (() => void)[] = [];
  let comments = 0;
  let ended = false;
  const reading = (async () => {
    if (response.body === null) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const parsed = parse(block);
          if (parsed === 'comment') comments++;
          else if (parsed !== undefined) events.push(parsed);
          waiters.splice(0).forEach((wake) => wake());
        }
      }
    } catch {
      // Aborted by close().
    } finally {
      ended = true;
      waiters.splice(0).forEach((wake) => wake());
    }
  })();
  void reading;
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    async next(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const event = events.shift();
        if (event !== undefined) return event;
        if (ended) throw new Error('the event stream ended');
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    comments: () => comments,
    close: () => abort.abort(),
  };
}

function parse(block: string): SseEvent | 'comment' | undefined {
  let id: string | undefined;
  let event = 'message';
  const data: string[] = [];
  let fields = 0;
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    fields++;
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (fields === 0) return 'comment';
  if (data.length === 0) return undefined; // e.g. a lone `retry:` field
  return { id, event, data: data.join('\n') };
}
