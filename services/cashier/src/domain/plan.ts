/**
 * The combined-payment plan (组合支付): which parts a payment may have. Pure.
 *
 * Rules: 1 to PAYMENT_PARTS_MAX parts, each strictly positive, summing
 * exactly to the order amount; at most one part per internal kind and at most
 * one channel part (DESIGN.md §5); every part's pay channel must be allowed by
 * the order's flow in the catalogue; a top-up is exactly one channel part
 * (paying a top-up from the balance it tops up would be circular).
 */
import { CashierError, invalidField } from './errors';
import {
  INTERNAL_PAY_CHANNELS,
  PAYMENT_PARTS_MAX,
  type OrderKind,
  type PlannedPart,
  type RequestedPart,
} from './model';

const PAY_CHANNEL_PATTERN = /^[0-9]{4}$/;
/** As account's StoredValueService: an asset code and a consumption type. */
const ASSET_PATTERN = /^[A-Z][A-Z0-9_]{2,11}$/;
const CONSUMPTION_TYPE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** A lot spend is only for a STORED_VALUE part, and then complete and well formed. */
function checkStoredValue(part: RequestedPart, field: string): void {
  const spend = part.storedValue;
  if (spend === undefined) return;
  if (part.kind !== 'STORED_VALUE') throw invalidField(`${field}.asset`, 'is only for a STORED_VALUE part');
  if (!ASSET_PATTERN.test(spend.asset))
    throw invalidField(`${field}.asset`, 'must be 3 to 12 of A-Z 0-9 _, starting with a letter');
  if (spend.quantity <= 0n) throw invalidField(`${field}.quantity`, 'must be positive with an asset');
  if (!CONSUMPTION_TYPE_PATTERN.test(spend.consumptionType))
    throw invalidField(`${field}.consumption_type`, 'must be 1 to 64 of A-Z a-z 0-9 _ . - with an asset');
}

export interface PlanInput {
  readonly orderKind: OrderKind;
  readonly orderAmountMinor: bigint;
  readonly parts: readonly RequestedPart[];
  /** Pay channels the order's flow allows (catalogue). */
  readonly allowedPayChannels: readonly string[];
  /** True for balance / coupon / stored value codes (catalogue). */
  readonly isInternalPayChannel: (payChannel: string) => boolean;
}

// eslint-disable-next-line max-lines-per-function -- the combined-payment plan checks each part kind in one readable pass
export function planPayment(input: PlanInput): PlannedPart[] {
  const { parts } = input;
  if (parts.length === 0) throw invalidField('parts', 'at least one part is required');
  if (parts.length > PAYMENT_PARTS_MAX) throw invalidField('parts', `at most ${PAYMENT_PARTS_MAX} parts`);
  const seenInternal = new Set<string>();
  let channelParts = 0;
  let total = 0n;
  const planned: PlannedPart[] = [];
  for (const [index, part] of parts.entries()) {
    const field = `parts[${index}]`;
    if (part.amountMinor <= 0n) {
      throw new CashierError('AMOUNT_OUT_OF_RANGE', `${field}.amount must be positive`, {
        field: `${field}.amount`,
      });
    }
    total += part.amountMinor;
    checkStoredValue(part, field);
    let payChannel: string;
    if (part.kind === 'CHANNEL') {
      channelParts += 1;
      payChannel = part.payChannel ?? '';
      if (!PAY_CHANNEL_PATTERN.test(payChannel)) {
        throw invalidField(`${field}.pay_channel`, 'must be 4 digits for a channel part');
      }
      if (input.isInternalPayChannel(payChannel)) {
        throw new CashierError(
          'UNKNOWN_PAY_CHANNEL',
          `pay channel ${payChannel} is internal; use a BALANCE, COUPON or STORED_VALUE part`,
          { field: `${field}.pay_channel` },
        );
      }
    } else {
      if (seenInternal.has(part.kind)) throw invalidField(`${field}.kind`, `at most one ${part.kind} part`);
      seenInternal.add(part.kind);
      payChannel = INTERNAL_PAY_CHANNELS[part.kind];
      if (part.kind === 'COUPON' && (part.couponId ?? '') === '') {
        throw invalidField(`${field}.coupon_id`, 'is required for a coupon part');
      }
    }
    if (!input.allowedPayChannels.includes(payChannel)) {
      throw new CashierError(
        'UNKNOWN_PAY_CHANNEL',
        `pay channel ${payChannel} is not offered for this order's product and biz mode`,
        { field: `${field}.pay_channel` },
      );
    }
    planned.push({
      index,
      kind: part.kind,
      amountMinor: part.amountMinor,
      payChannel,
      couponId: part.kind === 'COUPON' ? part.couponId : undefined,
      storedValue: part.storedValue,
    });
  }
  if (channelParts > 1) {
    throw new CashierError('TOO_MANY_CHANNEL_PARTS', 'a payment has at most one channel part', {
      field: 'parts',
    });
  }
  if (input.orderKind === 'TOP_UP' && (channelParts !== 1 || parts.length !== 1)) {
    throw invalidField('parts', 'a top-up is paid by exactly one channel part');
  }
  if (total !== input.orderAmountMinor) {
    throw new CashierError(
      'PARTS_DO_NOT_SUM',
      `parts sum to ${total} but the order amount is ${input.orderAmountMinor}`,
      {
        field: 'parts',
        metadata: { parts_minor: total.toString(), order_minor: input.orderAmountMinor.toString() },
      },
    );
  }
  return planned;
}
