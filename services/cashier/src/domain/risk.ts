/**
 * Risk limits (风控限额): per transaction, daily cumulative per merchant and
 * per payer, and a velocity limit on payments per payer per minute. Pure:
 * the use case reads the usage (locked) and counts the payment in the
 * transaction that starts it; its day is China's natural day (@paycore/calendar).
 */
import { CashierError } from './errors';
import type { RiskLimits } from './model';

export interface RiskUsage {
  /** Started today (China time) and not failed, minor units. */
  readonly merchantDailyMinor: bigint;
  readonly payerDailyMinor: bigint;
  /** Payments the payer started in the current minute. */
  readonly payerPaymentsThisMinute: number;
}

function exceeded(
  limit: string,
  limitMinor: bigint | number,
  usedMinor: bigint | number,
  message: string,
): CashierError {
  return new CashierError('RISK_LIMIT_EXCEEDED', message, {
    metadata: { limit, limit_minor: limitMinor.toString(), used_minor: usedMinor.toString() },
  });
}

/** Undefined when the payment may go ahead; otherwise the refusal naming the limit. */
export function checkRisk(
  limits: RiskLimits,
  usage: RiskUsage,
  amountMinor: bigint,
): CashierError | undefined {
  if (limits.perTransactionMaxMinor > 0n && amountMinor > limits.perTransactionMaxMinor) {
    return exceeded(
      'PER_TRANSACTION',
      limits.perTransactionMaxMinor,
      amountMinor,
      `amount ${amountMinor} is over the per-transaction limit ${limits.perTransactionMaxMinor}`,
    );
  }
  if (
    limits.merchantDailyMaxMinor > 0n &&
    usage.merchantDailyMinor + amountMinor > limits.merchantDailyMaxMinor
  ) {
    return exceeded(
      'MERCHANT_DAILY',
      limits.merchantDailyMaxMinor,
      usage.merchantDailyMinor,
      `the merchant's daily limit ${limits.merchantDailyMaxMinor} would be passed`,
    );
  }
  if (limits.payerDailyMaxMinor > 0n && usage.payerDailyMinor + amountMinor > limits.payerDailyMaxMinor) {
    return exceeded(
      'PAYER_DAILY',
      limits.payerDailyMaxMinor,
      usage.payerDailyMinor,
      `the payer's daily limit ${limits.payerDailyMaxMinor} would be passed`,
    );
  }
  if (
    limits.payerPaymentsPerMinuteMax > 0 &&
    usage.payerPaymentsThisMinute + 1 > limits.payerPaymentsPerMinuteMax
  ) {
    return exceeded(
      'PAYER_VELOCITY',
      limits.payerPaymentsPerMinuteMax,
      usage.payerPaymentsThisMinute,
      `the payer started ${usage.payerPaymentsThisMinute} payments this minute (limit ${limits.payerPaymentsPerMinuteMax})`,
    );
  }
  return undefined;
}

/** The minute bucket of the velocity counter. */
export function minuteBucket(atMs: number): string {
  return new Date(atMs).toISOString().slice(0, 16);
}
