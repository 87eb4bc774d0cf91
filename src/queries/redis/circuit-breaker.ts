/**
 * A small circuit breaker. A Redis that is down refuses connections at once, but one that hangs
 * (paused, overloaded, a black-holed network) would cost every request a full command timeout;
 * after a few failures in a row the breaker answers "unavailable" at once instead, and lets a
 * single trial call through after a cool-down to find out whether Redis is back.
 */
import { ConfigError } from '../../errors.js';

export type CircuitBreakerOptions = Readonly<{
  /** Consecutive failures that open the circuit. @default 3 */
  failureThreshold?: number;
  /** How long the circuit stays open before one trial call is let through. @default 1000 */
  cooldownMs?: number;
}>;

export type CircuitState = 'closed' | 'open' | 'half-open';

export type CircuitBreaker = Readonly<{
  /** Runs `action` unless the circuit is open; then rejects at once with `rejectWith()`. */
  run<T>(action: () => Promise<T>): Promise<T>;
  state(): CircuitState;
}>;

export function createCircuitBreaker(
  options: CircuitBreakerOptions,
  rejectWith: () => Error,
): CircuitBreaker {
  const { failureThreshold = 3, cooldownMs = 1000 } = options;
  if (!Number.isSafeInteger(failureThreshold) || failureThreshold < 1) {
    throw new ConfigError('failureThreshold must be a positive integer', { failureThreshold });
  }
  if (!Number.isSafeInteger(cooldownMs) || cooldownMs < 0) {
    throw new ConfigError('cooldownMs must be a whole number of milliseconds', { cooldownMs });
  }
  let failures = 0;
  let openUntil = 0;
  let trialInFlight = false;

  function state(): CircuitState {
    if (failures < failureThreshold) return 'closed';
    return performance.now() < openUntil || trialInFlight ? 'open' : 'half-open';
  }

  return {
    state,
    async run(action) {
      const current = state();
      if (current === 'open') throw rejectWith();
      const trial = current === 'half-open';
      if (trial) trialInFlight = true;
      try {
        const result = await action();
        failures = 0;
        return result;
      } catch (error) {
        failures++;
        if (failures >= failureThreshold) openUntil = performance.now() + cooldownMs;
        throw error;
      } finally {
        if (trial) trialInFlight = false;
      }
    },
  };
}
