/**
 * Protobuf ↔ domain for paycore.settlement.v1: enums both ways, batches,
 * fee rules, profiles, and the statement CSV. Shape checks only; business
 * validation is in the domain.
 */
import { stringify } from 'csv-stringify/sync';
import { formatMoney } from '@paycore/money';
import {
  BatchState,
  CycleKind,
  DepositState,
  FeeBearer,
  FeeKind,
  ShareKind,
  TierBasis,
  type Batch as BatchPb,
  type ChannelDay as ChannelDayPb,
  type FeeRule as FeeRulePb,
  type SettlementProfile as ProfilePb,
  type ShareReceiver as ReceiverPb,
  type StatementLine as LinePb,
} from '@paycore/proto/paycore/settlement/v1/settlement_service';
import type { BatchStateName } from '../../domain/batch';
import type { CycleKindName } from '../../domain/cycles';
import type { DepositStateName } from '../../domain/deposit';
import type { FeeBearerName, FeeKindName, FeeRuleVersion, TierBasisName } from '../../domain/fees';
import type { Receiver } from '../../domain/sharing';
import { invalidField } from '../../domain/errors';
import type { FeeRuleInput } from '../../application/settings';
import type { BatchRecord, ChannelDayRecord, Profile, StatementLineRecord } from '../../application/ports';

function lookup<A extends string, B>(pairs: readonly (readonly [A, B])[], field: string) {
  return {
    toPb: (a: A): B => {
      const found = pairs.find(([x]) => x === a);
      if (found === undefined) throw new Error(`${field}: no protobuf value for ${a}`);
      return found[1];
    },
    fromPb: (b: B): A => {
      const found = pairs.find(([, y]) => y === b);
      if (found === undefined) throw invalidField(field, 'is required (a declared value)');
      return found[0];
    },
  };
}

export const BATCH_STATES = lookup<BatchStateName, BatchState>(
  [
    ['CREATED', BatchState.BATCH_STATE_CREATED],
    ['POSTED', BatchState.BATCH_STATE_POSTED],
    ['PAYING', BatchState.BATCH_STATE_PAYING],
    ['PAID', BatchState.BATCH_STATE_PAID],
    ['CARRIED', BatchState.BATCH_STATE_CARRIED],
    ['PAYOUT_FAILED', BatchState.BATCH_STATE_PAYOUT_FAILED],
    ['EXCEPTION', BatchState.BATCH_STATE_EXCEPTION],
  ],
  'state',
);
const DEPOSIT_STATES = lookup<DepositStateName, DepositState>(
  [
    ['CONFIRMED', DepositState.DEPOSIT_STATE_CONFIRMED],
    ['IN_TRANSIT', DepositState.DEPOSIT_STATE_IN_TRANSIT],
    ['DEPOSITED', DepositState.DEPOSIT_STATE_DEPOSITED],
    ['UNMAPPED', DepositState.DEPOSIT_STATE_UNMAPPED],
  ],
  'deposit_state',
);

export function channelDayToPb(d: ChannelDayRecord, feeIncomeMinor: bigint): ChannelDayPb {
  return {
    channelNo: d.channelNo,
    billDate: d.billDate,
    runId: d.runId,
    currency: d.currency,
    netSettlementMinor: d.netSettlementMinor,
    channelFeeMinor: d.channelFeeMinor,
    feeIncomeMinor,
    marginMinor: feeIncomeMinor - d.channelFeeMinor,
    confirmedItems: d.confirmedItems,
    differenceCount: d.differenceCount,
    depositState: DEPOSIT_STATES.toPb(d.state),
    depositSubject: d.depositSubject ?? '',
    transitSubject: d.transitSubject ?? '',
  };
}

const FEE_KINDS = lookup<FeeKindName, FeeKind>(
  [
    ['PERCENTAGE', FeeKind.FEE_KIND_PERCENTAGE],
    ['FIXED', FeeKind.FEE_KIND_FIXED],
    ['PERCENTAGE_PLUS_FIXED', FeeKind.FEE_KIND_PERCENTAGE_PLUS_FIXED],
    ['GREATER_OF', FeeKind.FEE_KIND_GREATER_OF],
  ],
  'rule.kind',
);
const TIER_BASES = lookup<TierBasisName, TierBasis>(
  [
    ['NONE', TierBasis.TIER_BASIS_UNSPECIFIED],
    ['AMOUNT', TierBasis.TIER_BASIS_AMOUNT],
    ['MONTH_VOLUME', TierBasis.TIER_BASIS_MONTH_VOLUME],
  ],
  'rule.tier_basis',
);
const BEARERS = lookup<FeeBearerName, FeeBearer>(
  [
    ['MERCHANT', FeeBearer.FEE_BEARER_MERCHANT],
    ['PAYER', FeeBearer.FEE_BEARER_PAYER],
  ],
  'rule.bearer',
);
const CYCLES = lookup<CycleKindName, CycleKind>(
  [
    ['T_PLUS_N', CycleKind.CYCLE_KIND_T_PLUS_N],
    ['D0', CycleKind.CYCLE_KIND_D0],
    ['WEEKLY', CycleKind.CYCLE_KIND_WEEKLY],
    ['MONTHLY', CycleKind.CYCLE_KIND_MONTHLY],
    ['MANUAL', CycleKind.CYCLE_KIND_MANUAL],
  ],
  'profile.cycle',
);
const SHARE_KINDS = lookup<Receiver['kind'], ShareKind>(
  [
    ['RATIO', ShareKind.SHARE_KIND_RATIO],
    ['FIXED', ShareKind.SHARE_KIND_FIXED],
  ],
  'receivers.kind',
);

export function batchToPb(b: BatchRecord): BatchPb {
  return {
    batchId: b.batchId,
    merchantId: b.merchantId,
    settlementDate: b.settlementDate,
    state: BATCH_STATES.toPb(b.state),
    itemCount: b.itemCount,
    grossMinor: b.grossMinor,
    refundsMinor: b.refundsMinor,
    feesMinor: b.feesMinor,
    sharesMinor: b.sharesMinor,
    carriedInMinor: b.carriedInMinor,
    payoutMinor: b.payoutMinor,
    carriedOutMinor: b.carriedOutMinor,
    currency: b.currency,
    payoutTxnId: b.payoutTxnId ?? '',
    payoutAttempts: b.payoutAttempts,
    createdAt: b.createdAt,
  };
}

export function feeRuleFromPb(rule: FeeRulePb | undefined): FeeRuleInput {
  if (rule === undefined) throw invalidField('rule', 'is required');
  return {
    merchantId: rule.merchantId,
    product: rule.product,
    payChannel: rule.payChannel,
    effectiveFrom: rule.effectiveFrom,
    kind: FEE_KINDS.fromPb(rule.kind),
    rate: rule.rate === '' ? '0' : rule.rate,
    fixedMinor: rule.fixedMinor,
    minFeeMinor: rule.minFeeMinor,
    maxFeeMinor: rule.maxFeeMinor,
    tierBasis: TIER_BASES.fromPb(rule.tierBasis),
    tiers: rule.tiers.map((t) => ({
      fromMinor: t.fromMinor,
      rate: t.rate === '' ? '0' : t.rate,
      fixedMinor: t.fixedMinor,
    })),
    rounding: (rule.rounding === '' ? 'ROUND_HALF_UP' : rule.rounding) as FeeRuleInput['rounding'],
    bearer: BEARERS.fromPb(rule.bearer),
    refundReturnsFee: rule.refundReturnsFee,
  };
}

export function feeRuleToPb(v: FeeRuleVersion): FeeRulePb {
  return {
    ruleId: v.ruleId,
    merchantId: v.merchantId,
    product: v.product,
    payChannel: v.payChannel,
    effectiveFrom: v.effectiveFrom,
    effectiveTo: v.effectiveTo ?? '',
    kind: FEE_KINDS.toPb(v.kind),
    rate: v.rate,
    fixedMinor: v.fixedMinor,
    minFeeMinor: v.minFeeMinor,
    maxFeeMinor: v.maxFeeMinor,
    tierBasis: TIER_BASES.toPb(v.tierBasis),
    tiers: v.tiers.map((t) => ({ ...t })),
    rounding: v.rounding,
    bearer: BEARERS.toPb(v.bearer),
    refundReturnsFee: v.refundReturnsFee,
  };
}

export function profileFromPb(p: ProfilePb | undefined): Profile {
  if (p === undefined) throw invalidField('profile', 'is required');
  return {
    merchantId: p.merchantId,
    kind: CYCLES.fromPb(p.cycle),
    offsetDays: p.offsetDays,
    anchorDay: p.anchorDay,
    minimumPayoutMinor: p.minimumPayoutMinor,
    holdUnconfirmed: p.holdUnconfirmed,
    d0HoldRate: p.d0HoldRate === '' ? '0' : p.d0HoldRate,
    autoShare: p.autoShare,
    bankAccountNo: p.bankAccountNo,
    bankAccountName: p.bankAccountName,
    bankCode: p.bankCode,
  };
}

export function profileToPb(p: Profile): ProfilePb {
  return {
    merchantId: p.merchantId,
    cycle: CYCLES.toPb(p.kind),
    offsetDays: p.offsetDays,
    anchorDay: p.anchorDay,
    minimumPayoutMinor: p.minimumPayoutMinor,
    holdUnconfirmed: p.holdUnconfirmed,
    d0HoldRate: p.d0HoldRate,
    autoShare: p.autoShare,
    bankAccountNo: p.bankAccountNo,
    bankAccountName: p.bankAccountName,
    bankCode: p.bankCode,
  };
}

export function receiversFromPb(receivers: readonly ReceiverPb[]): Receiver[] {
  return receivers.map((r) => ({
    receiverId: r.receiverId,
    kind: SHARE_KINDS.fromPb(r.kind),
    ratio: r.ratio === '' ? '0' : r.ratio,
    fixedMinor: r.fixedMinor,
  }));
}

export function lineToPb(l: StatementLineRecord): LinePb {
  return { ...l };
}

const yuan = (minor: bigint, currency: string) => formatMoney({ amountMinor: minor, currency });

/** The statement as a merchant's finance team loads it: one row per item, amounts in major units. */
export function statementCsv(batch: BatchRecord, lines: readonly StatementLineRecord[]): string {
  const header = [
    'type',
    'merchant_order_no',
    'order_id',
    'gross',
    'fee',
    'refunds',
    'shares',
    'net',
    'batch_no',
    'booking_date',
    'settlement_date',
    'currency',
  ];
  const rows = lines.map((l) => [
    l.type,
    l.merchantOrderNo,
    l.orderId,
    yuan(l.type === 'PAYMENT' ? l.grossMinor : 0n, batch.currency),
    yuan(l.feeMinor, batch.currency),
    yuan(l.type === 'REFUND' ? l.grossMinor : 0n, batch.currency),
    yuan(l.sharesMinor, batch.currency),
    yuan(l.netMinor, batch.currency),
    batch.batchId,
    l.bookingDate,
    batch.settlementDate,
    batch.currency,
  ]);
  return stringify([header, ...rows]);
}
