/**
 * A circuit breaker per channel number. Outcomes of channel calls are counted
 * in a sliding window of time; when at least `minimumCalls` were made in the
 * window and the failure rate reaches `failureRateThreshold`, the breaker
 * opens and routing skips the channel. After `openMs` it half-opens: a
 * bounded number of probe calls go through; one success closes it, one
 * failure opens it again. The clock is injected so tests drive time.
 *
 * A "failure" is a channel that did not answer usefully (timeout, system
 * error, unreadable or unverifiable answer) — not a business refusal such as
 * a declined card, which says the channel is healthy.
 */
import assert from 'node:assert';

export type BreakerState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

export interface BreakerOptions {
  readonly windowMs: number;
  readonly minimumCalls: number;
  /** In (0, 1]. */
  readonly failureRateThreshold: number;
  readonly openMs: number;
  readonly halfOpenProbesMax: number;
  readonly nowMs: () => number;
}

/** Outcomes remembered per channel number; older ones fall out of the window anyway. */
const OUTCOMES_MAX = 1_000;

export class CircuitBreaker {
  private state: BreakerState = 'CLOSED';
  private openedAtMs = 0;
  private probesInFlight = 0;
  private outcomes: { atMs: number; ok: boolean }[] = [];

  constructor(private readonly options: BreakerOptions) {
    assert(options.failureRateThreshold > 0 && options.failureRateThreshold <= 1);
    assert(options.minimumCalls >= 1 && options.halfOpenProbesMax >= 1);
  }

  /** The state now (moves OPEN → HALF_OPEN when the open period is over). */
  current(): BreakerState {
    if (this.state === 'OPEN' && this.options.nowMs() - this.openedAtMs >= this.options.openMs) {
      this.state = 'HALF_OPEN';
      this.probesInFlight = 0;
    }
    return this.state;
  }

  /** Whether a call may go out now; in HALF_OPEN it takes one probe slot. */
  tryAcquire(): boolean {
    const state = this.current();
    if (state === 'CLOSED') return true;
    if (state === 'OPEN') return false;
    if (this.probesInFlight >= this.options.halfOpenProbesMax) return false;
    this.probesInFlight += 1;
    return true;
  }

  /** Whether routing may choose the channel (does not take a probe slot). */
  allowsRouting(): boolean {
    const state = this.current();
    return (
      state === 'CLOSED' || (state === 'HALF_OPEN' && this.probesInFlight < this.options.halfOpenProbesMax)
    );
  }

  record(ok: boolean): void {
    const now = this.options.nowMs();
    const state = this.current();
    if (state === 'HALF_OPEN') {
      this.probesInFlight = Math.max(0, this.probesInFlight - 1);
      if (ok) this.close();
      else this.open(now);
      return;
    }
    if (state === 'OPEN') return;
    this.outcomes.push({ atMs: now, ok });
    if (this.outcomes.length > OUTCOMES_MAX) this.outcomes.shift();
    this.outcomes = this.outcomes.filter((outcome) => now - outcome.atMs < this.options.windowMs);
    const failures = this.outcomes.filter((outcome) => !outcome.ok).length;
    if (
      this.outcomes.length >= this.options.minimumCalls &&
      failures / this.outcomes.length >= this.options.failureRateThreshold
    ) {
      this.open(now);
    }
  }

  private open(now: number): void {
    this.state = 'OPEN';
    this.openedAtMs = now;
    this.outcomes = [];
  }

  private close(): void {
    this.state = 'CLOSED';
    this.outcomes = [];
    this.probesInFlight = 0;
  }
}

/** One breaker per channel number, created on first use with shared options. */
export class BreakerBoard {
  private readonly breakers = new Map<string, CircuitBreaker>();
  constructor(private readonly options: BreakerOptions) {}

  of(channelNo: string): CircuitBreaker {
    let breaker = this.breakers.get(channelNo);
    if (breaker === undefined) {
      breaker = new CircuitBreaker(this.options);
      this.breakers.set(channelNo, breaker);
    }
    return breaker;
  }

  /** The state of every breaker created so far, by channel number. */
  states(): Map<string, BreakerState> {
    return new Map([...this.breakers].map(([channelNo, breaker]) => [channelNo, breaker.current()]));
  }

  openChannels(): Set<string> {
    const open = new Set<string>();
    for (const [channelNo, breaker] of this.breakers) if (!breaker.allowsRouting()) open.add(channelNo);
    return open;
  }
}
