/**
 * Merchants' and operators' settlement settings as idempotent use cases:
 * fee rule versions, the settlement profile, profit-sharing receivers and
 * the merchant-triggered split. Each is one unit of work that claims its
 * request id first; a refusal (validation, unknown merchant) throws before
 * anything is written, so the transaction rolls back and nothing changes.
 */
import {
  validateNextVersion,
  validateScope,
  validateTerms,
  type FeeRuleTerms,
  type FeeRuleVersion,
} from '../domain/fees';
import { OFFSET_DAYS_MAX } from '../domain/cycles';
import { validateReceivers, type Receiver, type Share } from '../domain/sharing';
import { invalidField, SettlementError } from '../domain/errors';
import type { Clearing } from './clearing';
import type { IdempotentRequest, Profile, SettlementStore, SettlementTx } from './ports';

export interface FeeRuleInput extends FeeRuleTerms {
  readonly merchantId: string;
  readonly product: string;
  readonly payChannel: string;
  readonly effectiveFrom: string;
}

export interface SplitResult {
  readonly baseMinor: bigint;
  readonly shares: readonly Share[];
}

const D0_HOLD_RATE = /^(0|1)(\.\d{1,6})?$/;
const BANK_FIELD = /^[\x20-\x7e\u4e00-\u9fff]{0,64}$/;

async function requireMerchant(tx: SettlementTx, merchantId: string): Promise<void> {
  if (!(await tx.merchantExists(merchantId))) {
    throw new SettlementError('MERCHANT_NOT_FOUND', `merchant ${merchantId} is not registered`, {
      field: 'merchant_id',
    });
  }
}

export function validateProfile(p: Profile): void {
  if (p.kind === 'T_PLUS_N' && (p.offsetDays < 0 || p.offsetDays > OFFSET_DAYS_MAX)) {
    throw invalidField('profile.offset_days', `0 to ${OFFSET_DAYS_MAX} for T+N`);
  }
  if (p.kind === 'WEEKLY' && (p.anchorDay < 1 || p.anchorDay > 7)) {
    throw invalidField('profile.anchor_day', '1 (Monday) to 7 for a weekly cycle');
  }
  if (p.kind === 'MONTHLY' && (p.anchorDay < 1 || p.anchorDay > 31)) {
    throw invalidField('profile.anchor_day', '1 to 31 for a monthly cycle');
  }
  if (p.minimumPayoutMinor < 0n) throw invalidField('profile.minimum_payout_minor', 'must not be negative');
  if (!D0_HOLD_RATE.test(p.d0HoldRate) || Number(p.d0HoldRate) > 1) {
    throw invalidField('profile.d0_hold_rate', 'a plain decimal in [0, 1]');
  }
  for (const [field, value] of [
    ['profile.bank_account_no', p.bankAccountNo],
    ['profile.bank_account_name', p.bankAccountName],
    ['profile.bank_code', p.bankCode],
  ] as const) {
    if (!BANK_FIELD.test(value)) throw invalidField(field, 'at most 64 printable characters');
  }
}

export class Settings {
  constructor(
    private readonly store: SettlementStore,
    private readonly clearing: Clearing,
  ) {}

  putFeeRule(requestId: string, input: FeeRuleInput): Promise<FeeRuleVersion> {
    const request: IdempotentRequest = { requestId, operation: 'settlement.PutFeeRule', payload: input };
    validateScope(input.product, input.payChannel, input.effectiveFrom);
    validateTerms(input);
    return this.store.transaction('settlement.put_fee_rule', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<FeeRuleVersion>(request);
      if (claim.kind === 'replay') return claim.response;
      await requireMerchant(tx, input.merchantId);
      const scope = await tx.feeRules(input.merchantId, input.product, input.payChannel);
      validateNextVersion(
        scope.filter((v) => v.product === input.product && v.payChannel === input.payChannel),
        input.effectiveFrom,
      );
      const { merchantId, product, payChannel, effectiveFrom, ...terms } = input;
      const rule = await tx.insertFeeRule(merchantId, product, payChannel, effectiveFrom, terms);
      await tx.remember(request, rule);
      return rule;
    });
  }

  setProfile(requestId: string, profile: Profile): Promise<Profile> {
    const request: IdempotentRequest = {
      requestId,
      operation: 'settlement.SetSettlementProfile',
      payload: profile,
    };
    validateProfile(profile);
    return this.store.transaction('settlement.set_profile', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<Profile>(request);
      if (claim.kind === 'replay') return claim.response;
      await requireMerchant(tx, profile.merchantId);
      await tx.saveProfile(profile);
      await tx.remember(request, profile);
      return profile;
    });
  }

  setReceivers(requestId: string, merchantId: string, receivers: readonly Receiver[]): Promise<bigint> {
    const request: IdempotentRequest = {
      requestId,
      operation: 'settlement.SetShareReceivers',
      payload: { merchantId, receivers },
    };
    validateReceivers(merchantId, receivers);
    return this.store.transaction('settlement.set_receivers', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ version: bigint }>(request);
      if (claim.kind === 'replay') return claim.response.version;
      await requireMerchant(tx, merchantId);
      const version = await tx.saveReceivers(merchantId, receivers);
      await tx.remember(request, { version });
      return version;
    });
  }

  splitPayment(requestId: string, merchantId: string, paymentId: string): Promise<SplitResult> {
    const request: IdempotentRequest = {
      requestId,
      operation: 'settlement.SplitPayment',
      payload: { merchantId, paymentId },
    };
    return this.store.transaction('settlement.split_payment', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<SplitResult>(request);
      if (claim.kind === 'replay') return claim.response;
      const made = await this.clearing.splitPayment(tx, merchantId, paymentId);
      const result = { baseMinor: made.baseMinor, shares: made.shares };
      await tx.remember(request, result);
      return result;
    });
  }
}
