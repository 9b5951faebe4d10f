/**
 * A read-only tally of the requests the channel APIs received, per channel,
 * operation and merchant-side number (`out_trade_no`, `out_trade_no/out_refund_no`
 * for refunds, `out_payout_no` for payouts). Tests read it through
 * `GET /sandbox/calls` to prove that the platform asks a channel once per
 * step, or exactly how often it repeats one. Counted after the signature
 * check (a request the sandbox could not attribute to the merchant is not
 * one of its calls), before faults and idempotency (a replay is a call).
 *
 * Bounded: past `KEYS_MAX` distinct keys new keys are only counted in
 * `overflow`, so a benchmark cannot grow the sandbox without limit.
 */
import type { Operation, SandboxChannel } from './faults';

export const CALL_KEYS_MAX = 200_000;

export interface CallCount {
  readonly channel: SandboxChannel;
  readonly operation: Operation;
  readonly key: string;
  readonly count: number;
}

export class CallTally {
  private readonly counts = new Map<
    string,
    { channel: SandboxChannel; operation: Operation; key: string; count: number }
  >();
  private overflowCount = 0;

  record(channel: SandboxChannel, operation: Operation, key: string | undefined): void {
    if (key === undefined || key === '') return;
    const id = `${channel}|${operation}|${key}`;
    const found = this.counts.get(id);
    if (found) {
      found.count += 1;
      return;
    }
    if (this.counts.size >= CALL_KEYS_MAX) {
      this.overflowCount += 1;
      return;
    }
    this.counts.set(id, { channel, operation, key, count: 1 });
  }

  /** The counts, optionally of one channel and/or operation, in first-seen order. */
  list(filter: { channel?: string; operation?: string } = {}): CallCount[] {
    return [...this.counts.values()]
      .filter((c) => filter.channel === undefined || c.channel === filter.channel)
      .filter((c) => filter.operation === undefined || c.operation === filter.operation)
      .map((c) => ({ ...c }));
  }

  get overflow(): number {
    return this.overflowCount;
  }
}
