/**
 * Fee rules (手续费规则): what a merchant pays per payment, and what a refund
 * gives back. Pure. Amounts are bigint minor units; rates are decimal strings
 * that only @paycore/money's computeFee multiplies, always with the rule's
 * own rounding mode.
 *
 * A rule has versions per (merchant, product, pay channel), each effective
 * from a date until the day before the next version: the history is a chain
 * with no overlap and no gap (validateNextVersion).
 */
import assert from 'node:assert/strict';
import { allocate, assertValidRate, computeFee, isRoundingMode, type RoundingMode } from '@paycore/money';
import { invalidField, SettlementError } from './errors';

export type FeeKindName = 'PERCENTAGE' | 'FIXED' | 'PERCENTAGE_PLUS_FIXED' | 'GREATER_OF';
export type TierBasisName = 'NONE' | 'AMOUNT' | 'MONTH_VOLUME';
export type FeeBearerName = 'MERCHANT' | 'PAYER';

export interface FeeTier {
  /** Lower bound (inclusive) of the tier basis, minor units. */
  readonly fromMinor: bigint;
  readonly rate: string;
  readonly fixedMinor: bigint;
}

export interface FeeRuleTerms {
  readonly kind: FeeKindName;
  readonly rate: string;
  readonly fixedMinor: bigint;
  /** 0 = none. */
  readonly minFeeMinor: bigint;
  /** 0 = none. */
  readonly maxFeeMinor: bigint;
  readonly tierBasis: TierBasisName;
  /** Ascending by fromMinor, the first from 0; replace rate and fixed. */
  readonly tiers: readonly FeeTier[];
  readonly rounding: RoundingMode;
  readonly bearer: FeeBearerName;
  readonly refundReturnsFee: boolean;
}

export interface FeeRuleVersion extends FeeRuleTerms {
  readonly ruleId: string;
  readonly merchantId: string;
  /** 6 digits or "*". */
  readonly product: string;
  /** 4 digits or "*". */
  readonly payChannel: string;
  readonly effectiveFrom: string;
  /** null while newest. */
  readonly effectiveTo: string | null;
}

export const TIERS_MAX = 20;
const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const PRODUCT_PATTERN = /^(\d{6}|\*)$/;
const PAY_CHANNEL_PATTERN = /^(\d{4}|\*)$/;

function checkRate(rate: string, field: string): void {
  if (rate.startsWith('-'))
    throw new SettlementError('NEGATIVE_RATE', `${field} ${rate} is negative`, { field });
  try {
    assertValidRate(rate);
  } catch {
    throw invalidField(field, `"${rate.slice(0, 24)}" must be a plain decimal in [0, 1]`);
  }
}

function checkAmount(value: bigint, field: string): void {
  if (value < 0n) throw new SettlementError('NEGATIVE_RATE', `${field} ${value} is negative`, { field });
}

export function isValidDate(value: string): boolean {
  if (!DATE_PATTERN.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === value;
}

/** Refuses terms that computeFee could not apply, naming the field. */
export function validateTerms(terms: FeeRuleTerms): void {
  if (!isRoundingMode(terms.rounding)) throw invalidField('rule.rounding', 'unknown rounding mode');
  checkRate(terms.rate, 'rule.rate');
  checkAmount(terms.fixedMinor, 'rule.fixed_minor');
  checkAmount(terms.minFeeMinor, 'rule.min_fee_minor');
  checkAmount(terms.maxFeeMinor, 'rule.max_fee_minor');
  if (terms.maxFeeMinor > 0n && terms.minFeeMinor > terms.maxFeeMinor) {
    throw invalidField('rule.min_fee_minor', 'exceeds max_fee_minor');
  }
  if (terms.tierBasis === 'NONE') {
    if (terms.tiers.length > 0) throw invalidField('rule.tiers', 'tiers need a tier basis');
    return;
  }
  if (terms.tiers.length === 0 || terms.tiers.length > TIERS_MAX) {
    throw invalidField('rule.tiers', `1 to ${TIERS_MAX} tiers with a tier basis`);
  }
  terms.tiers.forEach((tier, index) => {
    checkRate(tier.rate, `rule.tiers[${index}].rate`);
    checkAmount(tier.fixedMinor, `rule.tiers[${index}].fixed_minor`);
    checkAmount(tier.fromMinor, `rule.tiers[${index}].from_minor`);
    const previous = terms.tiers[index - 1];
    if (index === 0 && tier.fromMinor !== 0n) throw invalidField('rule.tiers[0].from_minor', 'must be 0');
    if (previous !== undefined && tier.fromMinor <= previous.fromMinor) {
      throw invalidField(`rule.tiers[${index}].from_minor`, 'tiers must ascend');
    }
  });
}

export function validateScope(product: string, payChannel: string, effectiveFrom: string): void {
  if (!PRODUCT_PATTERN.test(product)) throw invalidField('rule.product', 'six digits or "*"');
  if (!PAY_CHANNEL_PATTERN.test(payChannel)) throw invalidField('rule.pay_channel', 'four digits or "*"');
  if (!isValidDate(effectiveFrom)) throw invalidField('rule.effective_from', 'YYYY-MM-DD');
}

/**
 * A new version must start strictly after the newest existing one (else it
 * would overlap history), and the newest must be open-ended (else days
 * between its end and the new start would have no rule).
 */
export function validateNextVersion(existing: readonly FeeRuleVersion[], effectiveFrom: string): void {
  const newest = existing.reduce<FeeRuleVersion | undefined>(
    (acc, v) => (acc === undefined || v.effectiveFrom > acc.effectiveFrom ? v : acc),
    undefined,
  );
  if (newest === undefined) return;
  if (effectiveFrom <= newest.effectiveFrom) {
    throw new SettlementError(
      'FEE_RULE_OVERLAP',
      `a version effective from ${newest.effectiveFrom} exists; a new one must start after it`,
      { field: 'rule.effective_from', metadata: { existing_from: newest.effectiveFrom } },
    );
  }
  if (newest.effectiveTo !== null && newest.effectiveTo < dayBefore(effectiveFrom)) {
    throw new SettlementError('FEE_RULE_GAP', `no rule from ${newest.effectiveTo} to ${effectiveFrom}`, {
      field: 'rule.effective_from',
    });
  }
}

export function dayBefore(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

/** The version in force on `date` for (product, payChannel): exact scope beats "*". */
export function ruleInForce(
  versions: readonly FeeRuleVersion[],
  product: string,
  payChannel: string,
  date: string,
): FeeRuleVersion | undefined {
  const score = (v: FeeRuleVersion): number =>
    (v.product === product ? 2 : v.product === '*' ? 0 : -9) +
    (v.payChannel === payChannel ? 1 : v.payChannel === '*' ? 0 : -9);
  let best: FeeRuleVersion | undefined;
  for (const v of versions) {
    if (score(v) < 0 || v.effectiveFrom > date || (v.effectiveTo !== null && v.effectiveTo < date)) continue;
    if (best === undefined || score(v) > score(best)) best = v;
  }
  return best;
}

/** The tier for a basis value: the last whose lower bound it reaches. */
export function tierFor(tiers: readonly FeeTier[], basisMinor: bigint): FeeTier | undefined {
  let chosen: FeeTier | undefined;
  for (const tier of tiers) if (basisMinor >= tier.fromMinor) chosen = tier;
  return chosen;
}

/**
 * The fee on a base amount (>= 0), before bearer handling:
 * kind applied to the tier's (or rule's) rate and fixed part, then clamped to
 * [min, max] (0 = no bound). `monthVolumeMinor` is the merchant's volume of
 * the month before this payment (only MONTH_VOLUME tiers read it).
 */
export function feeOn(terms: FeeRuleTerms, amountMinor: bigint, monthVolumeMinor: bigint): bigint {
  assert.ok(amountMinor >= 0n, 'fee base must not be negative');
  if (amountMinor === 0n) return 0n;
  const basis = terms.tierBasis === 'AMOUNT' ? amountMinor : monthVolumeMinor;
  const tier = terms.tierBasis === 'NONE' ? undefined : tierFor(terms.tiers, basis);
  const rate = tier?.rate ?? terms.rate;
  const fixed = tier?.fixedMinor ?? terms.fixedMinor;
  const percentage = computeFee(amountMinor, rate, terms.rounding);
  let fee: bigint;
  switch (terms.kind) {
    case 'PERCENTAGE':
      fee = percentage;
      break;
    case 'FIXED':
      fee = fixed;
      break;
    case 'PERCENTAGE_PLUS_FIXED':
      fee = percentage + fixed;
      break;
    case 'GREATER_OF':
      fee = percentage > fixed ? percentage : fixed;
      break;
  }
  if (terms.minFeeMinor > 0n && fee < terms.minFeeMinor) fee = terms.minFeeMinor;
  if (terms.maxFeeMinor > 0n && fee > terms.maxFeeMinor) fee = terms.maxFeeMinor;
  // A fee never takes more than the payment itself.
  return fee > amountMinor ? amountMinor : fee;
}

export interface PaymentFee {
  /** What the fee is charged on. */
  readonly principalMinor: bigint;
  readonly feeMinor: bigint;
}

/** Bisection steps bound: 64 halvings cover every int64 amount. */
const BISECTION_STEPS_MAX = 64;

/**
 * The fee of a paid amount. MERCHANT: fee on the amount, deducted from it.
 * PAYER (charged on top): the amount is principal + fee(principal); the
 * principal is the largest P with P + fee(P) <= amount (fee is
 * non-decreasing in P), and the fee is amount − P, so a rounding gap never
 * leaves a cent unaccounted for.
 */
export function paymentFee(terms: FeeRuleTerms, amountMinor: bigint, monthVolumeMinor: bigint): PaymentFee {
  if (terms.bearer === 'MERCHANT') {
    return { principalMinor: amountMinor, feeMinor: feeOn(terms, amountMinor, monthVolumeMinor) };
  }
  let low = 0n;
  let high = amountMinor;
  for (let step = 0; step < BISECTION_STEPS_MAX && low < high; step++) {
    const middle = (low + high + 1n) / 2n;
    if (middle + feeOn(terms, middle, monthVolumeMinor) <= amountMinor) low = middle;
    else high = middle - 1n;
  }
  assert.ok(low === high, 'bisection converges within its bound');
  return { principalMinor: low, feeMinor: amountMinor - low };
}

/**
 * The fee a refund returns: the cumulative share of the original fee for
 * what has been refunded so far, minus what earlier refunds returned, each
 * cumulative share split with the one allocation function. So partial
 * refunds never return more than the fee, and a full refund returns exactly
 * the whole fee. Zero when the rule keeps the fee.
 */
export function refundFee(
  returnsFee: boolean,
  paidMinor: bigint,
  feeMinor: bigint,
  refundedBeforeMinor: bigint,
  refundMinor: bigint,
): bigint {
  if (!returnsFee || feeMinor === 0n || refundMinor === 0n) return 0n;
  assert.ok(refundedBeforeMinor + refundMinor <= paidMinor, 'refunds never exceed the payment');
  const cumulative = (refunded: bigint): bigint =>
    refunded === 0n ? 0n : (allocate(feeMinor, [refunded, paidMinor - refunded])[0] ?? 0n);
  return cumulative(refundedBeforeMinor + refundMinor) - cumulative(refundedBeforeMinor);
}
