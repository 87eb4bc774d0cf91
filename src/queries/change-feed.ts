/**
 * The ChangeFeed port: tells API processes, as it happens, which read-model documents changed
 * and to what, so a client can watch a document instead of polling it. Projectors publish after
 * their bulk write; any API process can serve any watcher. Adapters: `memory/` (in-process),
 * `nats/` (NATS core subjects).
 *
 * A feed is a live signal, not a log: a watcher that connects (or reconnects) reads the
 * document's current version first, then follows the feed; a notice lost in transit is made up
 * by the next one, since each carries the whole document.
 */
import type { Position } from '../streams/event-store.js';

export type DocumentChange = Readonly<{
  /** Physical collection, for example `order_view_v1`. */
  collection: string;
  id: string;
  /** The log position of the last event applied to the document. */
  position: Position;
  /** The document as JSON text, or null when it was deleted. */
  body: string | null;
}>;

export type SubscribeOptions = Readonly<{
  /** Ends the subscription; the iterator then returns normally. */
  signal: AbortSignal;
}>;

/** The changes of one document; it is registered with the feed as soon as it is created. */
export type Subscription = AsyncIterable<DocumentChange> &
  Readonly<{
    /**
     * Resolves once every change published from then on, by any process, reaches this
     * subscription. A watcher reads the document's current version only after this, so that no
     * change can fall between that read and the feed.
     */
    ready: Promise<void>;
  }>;

export interface ChangeFeed {
  /** Publishes the changes of one committed batch. Resolves once handed to the transport. */
  publish(changes: readonly DocumentChange[]): Promise<void>;

  /**
   * The changes of one document, in position order, from the moment of subscribing. A slow
   * consumer does not make the feed buffer without bound: while it lags, intermediate versions
   * are dropped and it receives the latest one.
   */
  subscribe(collection: string, id: string, options: SubscribeOptions): Subscription;

  close(): Promise<void>;
}
