/**
 * What every gateway handler of the sandbox shares, and the operation-level
 * faults (slow, timeout, decline, unknown) applied the same way for every
 * channel.
 */
import type { Logger } from '@paycore/platform';
import type { CallTally } from './calls';
import type { Fault, FaultBook, Operation, SandboxChannel } from './faults';
import type { SandboxKeys } from './keys';
import type { Notifier } from './notifier';
import type { Store } from './store';
import type { Timers } from './timers';

export interface SandboxContext {
  readonly store: Store;
  readonly faults: FaultBook;
  /** Requests per channel, operation and merchant-side number (`GET /sandbox/calls`). */
  readonly calls: CallTally;
  readonly notifier: Notifier;
  readonly keys: SandboxKeys;
  readonly timers: Timers;
  readonly logger: Logger;
  /** The sandbox's own base URL, for download links. */
  readonly baseUrl: () => string;
  /** Unscaled delay after which created orders pay themselves; undefined = wait for `/sandbox/pay`. */
  readonly autoPayAfterMs: number | undefined;
  readonly nowMs: () => number;
}

export interface OperationFaults {
  readonly decline?: Fault;
  readonly unknown?: Fault;
}

const SLOW_DEFAULT_MS = 1_000;
const TIMEOUT_DEFAULT_MS = 30_000;

/**
 * Holds the answer for slow / timeout faults (their `ms` is wall-clock, not
 * scaled), then returns the decline / unknown faults for the handler to act
 * on. The operation itself takes effect after the hold, when the answer is
 * finally written.
 */
export async function operationFaults(
  ctx: SandboxContext,
  channel: SandboxChannel,
  operation: Operation,
  outTradeNo: string | undefined,
): Promise<OperationFaults> {
  const slow = ctx.faults.take('slow', channel, operation, outTradeNo);
  if (slow) await ctx.timers.sleep(slow.ms ?? SLOW_DEFAULT_MS);
  const timeout = ctx.faults.take('timeout', channel, operation, outTradeNo);
  if (timeout) await ctx.timers.sleep(timeout.ms ?? TIMEOUT_DEFAULT_MS);
  const decline = ctx.faults.take('decline', channel, operation, outTradeNo);
  const unknown = ctx.faults.take('unknown', channel, operation, outTradeNo);
  return { ...(decline ? { decline } : {}), ...(unknown ? { unknown } : {}) };
}
