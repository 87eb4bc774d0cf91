/**
 * The stable stream-to-partition mapping (FNV-1a, 32 bit). Relay, replay and every process
 * must agree on it, so it never changes for a given partition count.
 */
export function partitionOf(streamId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < streamId.length; i++) {
    hash ^= streamId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}
