/**
 * Small concurrency and timing helpers for the relay and the consumer loops.
 */

export type Settled<R> =
  { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };

/**
 * Runs `fn` over `items` with at most `concurrencyMax` calls in flight, and
 * starts the calls in item order (the relay relies on that: publishes leave in
 * outbox id order). Never rejects; each result says how its call ended.
 */
export async function mapSettledBounded<T, R>(
  items: readonly T[],
  concurrencyMax: number,
  fn: (item: T) => Promise<R>,
): Promise<Settled<R>[]> {
  const results: Settled<R>[] = new Array<Settled<R>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      const item = items[index] as T;
      try {
        results[index] = { ok: true, value: await fn(item) };
      } catch (error) {
        results[index] = { ok: false, error };
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(concurrencyMax, items.length); i++) workers.push(worker());
  await Promise.all(workers);
  return results;
}

/** Exponential backoff with a cap and jitter in [50%, 100%] of the step. */
export function backoffDelayMs(
  consecutiveFailures: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const stepMs = Math.min(capMs, baseMs * 2 ** Math.min(consecutiveFailures, 20));
  return Math.max(1, Math.floor(stepMs / 2 + (random() * stepMs) / 2));
}

/** A sleep that stop() can cut short, so shutdown never waits out a backoff. */
export class Sleeper {
  private wake: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const wake = (): void => {
        clearTimeout(timer);
        done();
      };
      function done(): void {
        resolve();
      }
      this.wake = wake;
    });
  }

  interrupt(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

export function assertIntegerInRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}
