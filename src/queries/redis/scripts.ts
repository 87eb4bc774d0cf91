/**
 * The Lua scripts that make the Cache port's compare-position-and-set and
 * invalidate-with-marker atomic inside Redis, so the stale-set race cannot happen between API
 * processes either: a check in the client followed by a write would leave a gap in which a
 * projector's invalidation could slip.
 *
 * Per cache key there are two Redis keys: the entry (a hash of value `v` and position `p`,
 * with the entry's TTL) and the invalidation marker (a string, the highest position the key
 * was invalidated at, with its own, longer TTL). They share a hash tag, so they live in one
 * slot of a Redis Cluster, as a script's keys must.
 */
import { createHash } from 'node:crypto';

/**
 * Positions compare as strings, byte by byte (see `streams/position.ts`). Lua's `<` on strings
 * uses strcoll, which under a server locale other than C would not be byte order, so the
 * scripts compare explicitly.
 */
const BEFORE = `
local function before(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
`;

/**
 * KEYS: entry, marker. ARGV: value, position, ttl ms. Returns 1 when stored, 0 when refused
 * because the entry holds a newer position or the key was invalidated after this position.
 */
const SET = `${BEFORE}
local current = redis.call('HGET', KEYS[1], 'p')
if current and before(ARGV[2], current) then return 0 end
local marker = redis.call('GET', KEYS[2])
if marker and before(ARGV[2], marker) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'p', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/**
 * KEYS: entry and marker of each cache key, in pairs. ARGV: position, marker ttl ms. Drops the
 * entries and raises each marker to the position; a late, older invalidation never lowers it.
 */
const INVALIDATE = `${BEFORE}
for i = 1, #KEYS, 2 do
  redis.call('DEL', KEYS[i])
  local marker = redis.call('GET', KEYS[i + 1])
  if marker and not before(marker, ARGV[1]) then
    redis.call('PEXPIRE', KEYS[i + 1], ARGV[2])
  else
    redis.call('SET', KEYS[i + 1], ARGV[1], 'PX', ARGV[2])
  end
end
return #KEYS / 2
`;

export type Script = Readonly<{ source: string; sha1: string }>;

function script(source: string): Script {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

export const setIfNotStale = script(SET);
export const invalidateWithMarker = script(INVALIDATE);
