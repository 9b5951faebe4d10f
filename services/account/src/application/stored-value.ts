/**
 * Stored-value use cases: purchase, consumption (one-shot and two-phase),
 * refund, freeze, reactivation, and the expiry and timeout jobs.
 *
 * Each mutating use case is one transaction of the platform's unit of work:
 * claim the request id first, decide in the domain, write through the
 * repositories (state changes through the domain transition tables), post
 * through account's posting in the same transaction, remember the answer.
 * Two-phase steps remember a reference ({ consumptionId }) and a replay reads
 * the consumption's current state. Locks: the consumption row, then lots in
 * lot id order, then (inside account's posting) account rows in id order.
 */
import { randomUUID } from 'node:crypto';
import { canonicalRequestHash, type IdempotentRequest } from '@paycore/platform';
import { isKnownCurrency } from '@paycore/money';
import { addDays } from '@paycore/calendar';
import {
  decideCancel,
  decideConfirm,
  decideStart,
  isTimedOut,
  type ConsumptionState,
} from '../domain/consumptions';
import {
  createLot,
  expireLot,
  freezeUnits,
  movePortion,
  planConsumption,
  planRefund,
  reactivateLot,
  releaseTarget,
  unfreezeUnits,
  type Bucket,
  type Draw,
  type Lot,
  type LotCategory,
  type Portion,
  type RecordedDraw,
} from '../domain/lots';
import { InvalidFieldError } from '../domain/errors';
import {
  ConsumptionNotFoundError,
  ContractIdInUseError,
  ContractNotFoundError,
  LotNotFoundError,
  RefundExceedsConsumptionError,
} from '../domain/stored-value-errors';
import type {
  ConsumptionRecordFull,
  ContractRecord,
  LotPage,
  MonthConsumption,
  MovementRecord,
  MovementView,
  StoredValueStore,
  StoredValueTx,
} from './stored-value-ports';

/** Subjects of the stored-value postings (chart in domain/chart.ts). */
export const SUBJECT_UNEARNED_REVENUE = '240101';
export const SUBJECT_STORED_VALUE_REVENUE = '605102';
export const SUBJECT_BREAKAGE = '605103';

export const TRY_TIMEOUT_MS_DEFAULT = 15 * 60_000;
export const TRY_TIMEOUT_MS_MIN = 1_000;
export const TRY_TIMEOUT_MS_MAX = 24 * 3_600_000;
export const LOTS_PAGE_SIZE_DEFAULT = 50;
export const LOTS_PAGE_SIZE_MAX = 500;
export const STATEMENT_MOVEMENTS_MAX = 1_000;
export const JOB_BATCH_MAX = 500;

const ID_PATTERN = /^[\x21-\x7e]{1,64}$/;
const CONSUMPTION_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;
const ASSET_PATTERN = /^[A-Z][A-Z0-9_]{2,11}$/;
const TYPE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const INT64_MAX = 9_223_372_036_854_775_807n;
const PERIOD_PATTERN = /^\d{4}-(0[1-9]|1[0-2])$/;

export interface BizCodeValidator {
  validate(code: string, field?: string): unknown;
}

export interface StoredValueOptions {
  readonly store: StoredValueStore;
  readonly catalogue: BizCodeValidator;
  /** The clock every decision reads (tests move it). */
  readonly now: () => Date;
}

export interface PurchaseCommand {
  readonly requestId: string;
  readonly bizCode: string;
  readonly contractId: string;
  readonly ownerId: string;
  readonly asset: string;
  readonly quantity: bigint;
  readonly paidMinor: bigint;
  readonly currency: string;
  readonly promotionalQuantity: bigint;
  /** Empty for coins. */
  readonly consumptionType: string;
  readonly effectiveAt: Date | undefined;
  readonly expiresAt: Date | undefined;
  readonly fundingAccountId: string;
}

export interface PurchaseResult {
  readonly contract: ContractRecord;
  readonly lots: readonly Lot[];
}

export interface ConsumeCommand {
  readonly requestId: string;
  readonly bizCode: string;
  readonly consumptionId: string;
  readonly ownerId: string;
  readonly asset: string;
  readonly consumptionType: string;
  readonly quantity: bigint;
}

export interface TryConsumeCommand extends ConsumeCommand {
  /** 0 for the default. */
  readonly timeoutMs: number;
}

export interface ConsumptionStep {
  readonly requestId: string;
  readonly bizCode: string;
  readonly consumptionId: string;
}

export interface RefundCommand extends ConsumptionStep {
  readonly quantity: bigint;
}

export interface RefundResult {
  readonly consumption: ConsumptionRecordFull;
  readonly movements: readonly MovementRecord[];
}

export interface LotQuantityCommand {
  readonly requestId: string;
  readonly bizCode: string;
  readonly lotId: string;
  readonly quantity: bigint;
  readonly reason: string;
}

export interface ReactivateCommand {
  readonly requestId: string;
  readonly bizCode: string;
  readonly lotId: string;
  readonly expiresAt: Date | undefined;
  readonly operator: string;
  readonly reason: string;
}

export interface ContractStatement {
  readonly contract: ContractRecord;
  readonly lots: readonly Lot[];
  readonly movements: readonly MovementView[];
  readonly truncated: boolean;
}

function invalid(field: string, description: string): InvalidFieldError {
  return new InvalidFieldError(`${field}: ${description}`, { field });
}

function checkPattern(value: string, pattern: RegExp, field: string, description: string): void {
  if (!pattern.test(value)) throw invalid(field, description);
}

function checkQuantity(quantity: bigint, field: string, allowZero = false): void {
  if (quantity < (allowZero ? 0n : 1n) || quantity > INT64_MAX) {
    throw invalid(field, allowZero ? 'must be between 0 and 2^63-1' : 'must be between 1 and 2^63-1');
  }
}

function movement(
  lot: Lot,
  kind: MovementRecord['kind'],
  from: Bucket | '',
  to: Bucket,
  part: Portion,
  extra: { consumptionId?: string; transferId?: string; requestId: string },
): MovementRecord {
  return {
    lotId: lot.lotId,
    contractId: lot.contractId,
    kind,
    fromBucket: from,
    toBucket: to,
    part,
    consumptionId: extra.consumptionId ?? null,
    transferId: extra.transferId ?? null,
    requestId: extra.requestId,
  };
}

/**
 * A purchase as its idempotency claim compares it, keyed by the proto's field
 * paths, so that a reused id names the field the caller sent
 * (`paid.amount_minor`, `expire_time`), not a TypeScript name.
 */
function purchasePayload(command: PurchaseCommand): Record<string, unknown> {
  // Every other field of the command enters the payload under its own (proto) name.
  const { requestId: _requestId, bizCode, paidMinor, currency, effectiveAt, expiresAt, ...rest } = command;
  return {
    ...rest,
    bizContext: { code: bizCode },
    paid: { amountMinor: paidMinor, currency },
    effectiveTime: effectiveAt,
    expireTime: expiresAt,
  };
}

function lotNotFound(lotId: string): LotNotFoundError {
  return new LotNotFoundError(`no lot ${lotId.slice(0, 64)}`, { field: 'lot_id' });
}

export class StoredValueService {
  constructor(private readonly options: StoredValueOptions) {}

  private now(): Date {
    return this.options.now();
  }

  private checkBizCode(code: string): void {
    this.options.catalogue.validate(code, 'biz_context.code');
  }

  // eslint-disable-next-line max-lines-per-function -- validation, contract, lots, posting and movements of one purchase read in order
  async purchase(command: PurchaseCommand): Promise<PurchaseResult> {
    this.checkBizCode(command.bizCode);
    checkPattern(command.contractId, ID_PATTERN, 'contract_id', '1 to 64 printable ASCII characters');
    checkPattern(command.ownerId, ID_PATTERN, 'owner_id', '1 to 64 printable ASCII characters');
    checkPattern(command.asset, ASSET_PATTERN, 'asset', '3 to 12 upper-case letters, digits or _');
    if (command.consumptionType !== '')
      checkPattern(command.consumptionType, TYPE_PATTERN, 'consumption_type', '1 to 64 of A-Z a-z 0-9 _ . -');
    checkQuantity(command.quantity, 'quantity');
    checkQuantity(command.paidMinor, 'paid.amount_minor', true);
    checkQuantity(command.promotionalQuantity, 'promotional_quantity', true);
    if (!isKnownCurrency(command.currency)) throw invalid('paid.currency', 'not a known currency');
    if (command.expiresAt === undefined) throw invalid('expire_time', 'required');
    if (command.paidMinor > 0n && command.fundingAccountId === '')
      throw invalid('funding_account_id', 'required when paid > 0');
    const request: IdempotentRequest = {
      requestId: command.requestId,
      operation: 'account.stored_value.Purchase',
      payload: purchasePayload(command),
    };
    return this.options.store.transaction('account.sv_purchase', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<PurchaseResult>(request);
      if (claim.kind === 'replay') return claim.response;
      const effectiveAt = command.effectiveAt ?? this.now();
      const expiresAt = command.expiresAt ?? effectiveAt;
      if (expiresAt.getTime() <= effectiveAt.getTime())
        throw invalid('expire_time', 'must be after the effective time');
      const transferId = await this.postPurchase(tx, command);
      const contract = {
        contractId: command.contractId,
        ownerId: command.ownerId,
        asset: command.asset,
        currency: command.currency,
        paidMinor: command.paidMinor,
        fundingAccountId: command.fundingAccountId === '' ? null : command.fundingAccountId,
        purchaseTransferId: transferId,
        bizCode: command.bizCode,
      };
      if (!(await tx.lots.insertContract(contract))) {
        throw new ContractIdInUseError(`contract ${command.contractId} exists`, { field: 'contract_id' });
      }
      const base = {
        contractId: command.contractId,
        ownerId: command.ownerId,
        asset: command.asset,
        currency: command.currency,
        consumptionType: command.consumptionType === '' ? null : command.consumptionType,
        effectiveAt,
        expiresAt,
        createdSeq: 0n,
      };
      const parts: { category: LotCategory; quantity: bigint; paidMinor: bigint }[] = [
        { category: 'PAID', quantity: command.quantity, paidMinor: command.paidMinor },
      ];
      if (command.promotionalQuantity > 0n)
        parts.push({ category: 'PROMOTIONAL', quantity: command.promotionalQuantity, paidMinor: 0n });
      const lots = await tx.lots.insertLots(
        parts.map((p) => createLot({ ...base, ...p, lotId: randomUUID() })),
      );
      await tx.lots.recordMovements(
        lots.map((lot) =>
          movement(lot, 'PURCHASE', '', 'available', lot.available, {
            requestId: command.requestId,
            ...(transferId === null || lot.category !== 'PAID' ? {} : { transferId }),
          }),
        ),
      );
      const stored = await tx.lots.findContract(command.contractId);
      if (stored === undefined)
        throw new ContractNotFoundError('contract vanished', { field: 'contract_id' });
      const result: PurchaseResult = { contract: stored, lots };
      await tx.remember(request, result);
      return result;
    });
  }

  /** Dr the funding account / Cr unearned revenue for the paid amount; none when nothing was paid. */
  private async postPurchase(tx: StoredValueTx, command: PurchaseCommand): Promise<string | null> {
    if (command.paidMinor === 0n) return null;
    const unearned = await tx.postings.internalAccount(SUBJECT_UNEARNED_REVENUE, command.currency);
    const amount = { amountMinor: command.paidMinor, currency: command.currency };
    return tx.postings.post({
      requestId: `sv-purchase:${command.requestId}`,
      bizCode: command.bizCode,
      memo: `stored-value purchase ${command.contractId}`,
      legs: [
        { accountId: command.fundingAccountId, side: 'DEBIT', ...amount },
        { accountId: unearned, side: 'CREDIT', ...amount },
      ],
    });
  }

  private checkConsume(command: ConsumeCommand): void {
    this.checkBizCode(command.bizCode);
    checkPattern(
      command.consumptionId,
      CONSUMPTION_ID_PATTERN,
      'consumption_id',
      '1 to 128 printable ASCII characters',
    );
    checkPattern(command.ownerId, ID_PATTERN, 'owner_id', '1 to 64 printable ASCII characters');
    checkPattern(command.asset, ASSET_PATTERN, 'asset', '3 to 12 upper-case letters, digits or _');
    checkPattern(command.consumptionType, TYPE_PATTERN, 'consumption_type', '1 to 64 of A-Z a-z 0-9 _ . -');
    checkQuantity(command.quantity, 'quantity');
  }

  /** One-shot consumption: draws and consumes in one step. */
  async consume(command: ConsumeCommand): Promise<ConsumptionRecordFull> {
    this.checkConsume(command);
    return this.start(command, 'consumed', null, 'account.stored_value.Consume');
  }

  /** First phase: holds the units until confirm, cancel or timeout. */
  async tryConsume(command: TryConsumeCommand): Promise<ConsumptionRecordFull> {
    this.checkConsume(command);
    const timeoutMs = command.timeoutMs === 0 ? TRY_TIMEOUT_MS_DEFAULT : command.timeoutMs;
    if (!Number.isInteger(timeoutMs) || timeoutMs < TRY_TIMEOUT_MS_MIN || timeoutMs > TRY_TIMEOUT_MS_MAX)
      throw invalid('timeout', `must be between ${TRY_TIMEOUT_MS_MIN} ms and ${TRY_TIMEOUT_MS_MAX} ms`);
    return this.start(command, 'held', timeoutMs, 'account.stored_value.TryConsume');
  }

  private start(
    command: ConsumeCommand,
    to: 'held' | 'consumed',
    timeoutMs: number | null,
    operation: string,
  ): Promise<ConsumptionRecordFull> {
    const shape = {
      ownerId: command.ownerId,
      asset: command.asset,
      consumptionType: command.consumptionType,
      quantity: command.quantity,
      twoPhase: to === 'held',
    };
    const shapeHash = canonicalRequestHash('account.stored_value.consumption', shape);
    const request: IdempotentRequest = {
      requestId: command.requestId,
      operation,
      // Keyed by the proto's field names, so a reused id names the field the caller sent.
      payload: {
        ...shape,
        consumptionId: command.consumptionId,
        bizContext: { code: command.bizCode },
        timeout: timeoutMs,
      },
    };
    return this.options.store.transaction('account.sv_consume', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ consumptionId: string }>(request);
      if (claim.kind === 'replay') return this.current(tx, claim.response.consumptionId);
      const existing = await tx.consumptions.find(command.consumptionId, true);
      if (decideStart(existing, shapeHash).kind === 'replay' && existing !== undefined) {
        await tx.remember(request, { consumptionId: command.consumptionId });
        return existing;
      }
      const now = this.now();
      const usable = await tx.lots.lockUsable(command.ownerId, command.asset);
      const draws = planConsumption(usable, { ...command, now });
      const byId = new Map(usable.map((lot) => [lot.lotId, lot]));
      const movements = draws.map((draw) => {
        const lot = byId.get(draw.lotId);
        if (lot === undefined) throw new Error(`drawn lot ${draw.lotId} was not locked`);
        const moved = movePortion(lot, 'available', to, draw);
        byId.set(lot.lotId, moved);
        return { lot: moved, draw };
      });
      await tx.lots.saveBuckets(movements.map(({ lot }) => lot));
      const record = this.newConsumption(
        command,
        draws,
        to === 'held' ? 'TRIED' : 'CONFIRMED',
        shapeHash,
        byId,
        timeoutMs,
        now,
      );
      await tx.consumptions.insert(record, command.bizCode);
      await tx.lots.recordMovements(
        movements.map(({ lot, draw }) =>
          movement(lot, to === 'held' ? 'TRY' : 'CONSUME', 'available', to, draw, {
            consumptionId: command.consumptionId,
            requestId: command.requestId,
          }),
        ),
      );
      await tx.remember(request, { consumptionId: command.consumptionId });
      return record;
    });
  }

  private newConsumption(
    command: ConsumeCommand,
    draws: readonly Draw[],
    state: ConsumptionState,
    shapeHash: string,
    lots: ReadonlyMap<string, Lot>,
    timeoutMs: number | null,
    now: Date,
  ): ConsumptionRecordFull {
    const first = draws[0];
    const currency = first === undefined ? '' : (lots.get(first.lotId)?.currency ?? '');
    return {
      consumptionId: command.consumptionId,
      state,
      ownerId: command.ownerId,
      asset: command.asset,
      consumptionType: command.consumptionType,
      quantity: command.quantity,
      valueMinor: draws.reduce((sum, d) => sum + d.valueMinor, 0n),
      currency,
      shapeHash,
      expiresAt: timeoutMs === null ? null : new Date(now.getTime() + timeoutMs),
      draws: draws.map((d) => ({ ...d, refunded: { quantity: 0n, valueMinor: 0n } })),
    };
  }

  private async current(tx: StoredValueTx, consumptionId: string): Promise<ConsumptionRecordFull> {
    const found = await tx.consumptions.find(consumptionId, false);
    if (found === undefined)
      throw new ConsumptionNotFoundError('no such consumption', { field: 'consumption_id' });
    return found;
  }

  private checkStep(step: ConsumptionStep): void {
    this.checkBizCode(step.bizCode);
    checkPattern(
      step.consumptionId,
      CONSUMPTION_ID_PATTERN,
      'consumption_id',
      '1 to 128 printable ASCII characters',
    );
  }

  async confirmConsume(step: ConsumptionStep): Promise<ConsumptionRecordFull> {
    this.checkStep(step);
    const request = this.stepRequest(step, 'account.stored_value.ConfirmConsume');
    return this.options.store.transaction('account.sv_confirm', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ consumptionId: string }>(request);
      if (claim.kind === 'replay') return this.current(tx, claim.response.consumptionId);
      const existing = await tx.consumptions.find(step.consumptionId, true);
      if (decideConfirm(existing, this.now()).kind === 'confirm' && existing !== undefined) {
        await this.resolveHeld(tx, existing, 'CONFIRMED', step);
      }
      await tx.remember(request, { consumptionId: step.consumptionId });
      return this.current(tx, step.consumptionId);
    });
  }

  async cancelConsume(step: ConsumptionStep): Promise<ConsumptionRecordFull> {
    this.checkStep(step);
    const request = this.stepRequest(step, 'account.stored_value.CancelConsume');
    return this.options.store.transaction('account.sv_cancel', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ consumptionId: string }>(request);
      if (claim.kind === 'replay') return this.current(tx, claim.response.consumptionId);
      const existing = await tx.consumptions.find(step.consumptionId, true);
      const decision = decideCancel(existing);
      if (decision.kind === 'cancel_empty') {
        // Empty rollback: remembered, so that a late try of this id is refused.
        await tx.consumptions.insert(
          {
            consumptionId: step.consumptionId,
            state: 'CANCELLED_EMPTY',
            ownerId: '',
            asset: '',
            consumptionType: '',
            quantity: 0n,
            valueMinor: 0n,
            currency: '',
            shapeHash: '',
            expiresAt: null,
            draws: [],
          },
          step.bizCode,
        );
      } else if (decision.kind === 'cancel' && existing !== undefined) {
        await this.resolveHeld(tx, existing, 'CANCELLED', step);
      }
      await tx.remember(request, { consumptionId: step.consumptionId });
      return this.current(tx, step.consumptionId);
    });
  }

  private stepRequest(step: ConsumptionStep, operation: string): IdempotentRequest {
    return {
      requestId: step.requestId,
      operation,
      payload: { consumptionId: step.consumptionId, bizContext: { code: step.bizCode } },
    };
  }

  /** Ends a hold: consumed on confirm; released on cancel or timeout (to expired for a lot that expired). */
  private async resolveHeld(
    tx: StoredValueTx,
    consumption: ConsumptionRecordFull,
    to: 'CONFIRMED' | 'CANCELLED' | 'EXPIRED',
    step: { requestId: string; bizCode: string },
  ): Promise<void> {
    const requestId = step.requestId;
    if (!(await tx.consumptions.moveTo(consumption.consumptionId, to))) {
      throw new Error(`consumption ${consumption.consumptionId} left TRIED under its row lock`);
    }
    const lots = await tx.lots.lockLots(consumption.draws.map((d) => d.lotId));
    const movements: MovementRecord[] = [];
    for (const draw of consumption.draws) {
      const lot = lots.get(draw.lotId);
      if (lot === undefined) throw new Error(`lot ${draw.lotId} of a draw is missing`);
      const target: Bucket = to === 'CONFIRMED' ? 'consumed' : releaseTarget(lot);
      const moved = movePortion(lot, 'held', target, draw);
      lots.set(lot.lotId, moved);
      const kind = to === 'CONFIRMED' ? 'CONFIRM' : to === 'CANCELLED' ? 'CANCEL' : 'TIMEOUT';
      const transferId = await this.breakageOnRelease(
        tx,
        moved,
        target,
        draw.valueMinor,
        `${requestId}:${lot.lotId}`,
        step.bizCode,
      );
      movements.push(
        movement(moved, kind, 'held', target, draw, {
          consumptionId: consumption.consumptionId,
          requestId,
          ...(transferId === null ? {} : { transferId }),
        }),
      );
    }
    await tx.lots.saveBuckets([...lots.values()]);
    await tx.lots.recordMovements(movements);
  }

  async refundConsumption(command: RefundCommand): Promise<RefundResult> {
    this.checkStep(command);
    checkQuantity(command.quantity, 'quantity');
    const request: IdempotentRequest = {
      requestId: command.requestId,
      operation: 'account.stored_value.RefundConsumption',
      payload: {
        consumptionId: command.consumptionId,
        bizContext: { code: command.bizCode },
        quantity: command.quantity,
      },
    };
    return this.options.store.transaction('account.sv_refund', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<RefundResult>(request);
      if (claim.kind === 'replay') return claim.response;
      const consumption = await tx.consumptions.find(command.consumptionId, true);
      if (consumption === undefined)
        throw new ConsumptionNotFoundError('no such consumption', { field: 'consumption_id' });
      if (consumption.state !== 'CONFIRMED') {
        throw new RefundExceedsConsumptionError(
          `consumption ${command.consumptionId} is ${consumption.state}`,
          {
            field: 'consumption_id',
            metadata: { state: consumption.state },
          },
        );
      }
      const lots = await tx.lots.lockLots(consumption.draws.map((d) => d.lotId));
      const draws: RecordedDraw[] = [...consumption.draws];
      const movements: MovementRecord[] = [];
      for (const { index, part } of planRefund(lots, draws, command.quantity)) {
        const draw = draws[index];
        if (draw === undefined) throw new Error('refund part of a missing draw');
        const lot = lots.get(draw.lotId);
        if (lot === undefined) throw new Error(`lot ${draw.lotId} of a draw is missing`);
        const target = releaseTarget(lot);
        const moved = movePortion(lot, 'consumed', target, part);
        lots.set(lot.lotId, moved);
        draws[index] = {
          ...draw,
          refunded: {
            quantity: draw.refunded.quantity + part.quantity,
            valueMinor: draw.refunded.valueMinor + part.valueMinor,
          },
        };
        const transferId = await this.breakageOnRelease(
          tx,
          moved,
          target,
          part.valueMinor,
          `sv-refund:${command.requestId}:${lot.lotId}`,
          command.bizCode,
        );
        movements.push(
          movement(moved, 'REFUND', 'consumed', target, part, {
            consumptionId: command.consumptionId,
            requestId: command.requestId,
            ...(transferId === null ? {} : { transferId }),
          }),
        );
      }
      await tx.lots.saveBuckets([...lots.values()]);
      await tx.consumptions.saveRefunds(command.consumptionId, draws);
      await tx.lots.recordMovements(movements);
      const result: RefundResult = { consumption: await this.current(tx, command.consumptionId), movements };
      await tx.remember(request, result);
      return result;
    });
  }

  async freezeLot(command: LotQuantityCommand): Promise<Lot> {
    return this.changeQuantity(command, 'account.stored_value.FreezeLot', 'FREEZE');
  }

  async unfreezeLot(command: LotQuantityCommand): Promise<Lot> {
    return this.changeQuantity(command, 'account.stored_value.UnfreezeLot', 'UNFREEZE');
  }

  private async changeQuantity(
    command: LotQuantityCommand,
    operation: string,
    kind: 'FREEZE' | 'UNFREEZE',
  ): Promise<Lot> {
    this.checkBizCode(command.bizCode);
    checkQuantity(command.quantity, 'quantity');
    if (command.reason.length > 256) throw invalid('reason', 'at most 256 characters');
    const request: IdempotentRequest = {
      requestId: command.requestId,
      operation,
      payload: {
        lotId: command.lotId,
        bizContext: { code: command.bizCode },
        quantity: command.quantity,
        reason: command.reason,
      },
    };
    return this.options.store.transaction('account.sv_freeze', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<Lot>(request);
      if (claim.kind === 'replay') return claim.response;
      const lot = (await tx.lots.lockLots([command.lotId])).get(command.lotId);
      if (lot === undefined) throw lotNotFound(command.lotId);
      const target = kind === 'FREEZE' ? 'frozen' : releaseTarget(lot);
      const moved =
        kind === 'FREEZE' ? freezeUnits(lot, command.quantity) : unfreezeUnits(lot, command.quantity);
      await tx.lots.saveBuckets([moved.lot]);
      const transferId = await this.breakageOnRelease(
        tx,
        moved.lot,
        target,
        moved.part.valueMinor,
        `sv-unfreeze:${command.requestId}`,
        command.bizCode,
      );
      await tx.lots.recordMovements([
        movement(moved.lot, kind, kind === 'FREEZE' ? 'available' : 'frozen', target, moved.part, {
          requestId: command.requestId,
          ...(transferId === null ? {} : { transferId }),
        }),
      ]);
      await tx.remember(request, moved.lot);
      return moved.lot;
    });
  }

  /** Operator action, audited: reverses a lot's expiry and its breakage posting. */
  async reactivate(command: ReactivateCommand): Promise<Lot> {
    this.checkBizCode(command.bizCode);
    checkPattern(command.operator, ID_PATTERN, 'operator', '1 to 64 printable ASCII characters');
    if (command.reason.length < 1 || command.reason.length > 256)
      throw invalid('reason', '1 to 256 characters');
    if (command.expiresAt === undefined) throw invalid('expire_time', 'required');
    const expiresAt = command.expiresAt;
    const request: IdempotentRequest = {
      requestId: command.requestId,
      operation: 'account.stored_value.Reactivate',
      payload: {
        bizContext: { code: command.bizCode },
        lotId: command.lotId,
        expireTime: expiresAt,
        operator: command.operator,
        reason: command.reason,
      },
    };
    return this.options.store.transaction('account.sv_reactivate', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<Lot>(request);
      if (claim.kind === 'replay') return claim.response;
      if (expiresAt.getTime() <= this.now().getTime()) throw invalid('expire_time', 'must be in the future');
      const lot = (await tx.lots.lockLots([command.lotId])).get(command.lotId);
      if (lot === undefined) throw lotNotFound(command.lotId);
      const moved = reactivateLot(lot, expiresAt);
      const transferId = await this.postBreakage(
        tx,
        moved.lot,
        moved.part.valueMinor,
        'reverse',
        `sv-reactivate:${command.requestId}`,
        command.bizCode,
      );
      await tx.lots.moveState(moved.lot, 'ACTIVE');
      await tx.lots.recordMovements([
        movement(moved.lot, 'REACTIVATE', 'expired', 'available', moved.part, {
          requestId: command.requestId,
          ...(transferId === null ? {} : { transferId }),
        }),
      ]);
      await tx.lots.audit({
        action: 'REACTIVATE',
        lotId: command.lotId,
        operator: command.operator,
        reason: command.reason,
        requestId: command.requestId,
        detail: {
          quantity: moved.part.quantity.toString(),
          value_minor: moved.part.valueMinor.toString(),
          expires_at: expiresAt.toISOString(),
        },
      });
      await tx.remember(request, moved.lot);
      return moved.lot;
    });
  }

  /**
   * Units released (cancel, timeout, refund, unfreeze) into an expired lot
   * become breakage then, so their value is posted like the expiry's.
   */

  private async breakageOnRelease(
    tx: StoredValueTx,
    lot: Lot,
    target: Bucket,
    valueMinor: bigint,
    postingId: string,
    bizCode: string,
  ): Promise<string | null> {
    if (target !== 'expired') return null;
    return this.postBreakage(tx, lot, valueMinor, 'recognise', `sv-expired:${postingId}`, bizCode);
  }

  /** Dr unearned revenue / Cr breakage income (or the reverse); none for a zero value. */

  private async postBreakage(
    tx: StoredValueTx,
    lot: Lot,
    valueMinor: bigint,
    direction: 'recognise' | 'reverse',
    requestId: string,
    bizCode: string,
  ): Promise<string | null> {
    if (valueMinor === 0n) return null;
    const unearned = await tx.postings.internalAccount(SUBJECT_UNEARNED_REVENUE, lot.currency);
    const breakage = await tx.postings.internalAccount(SUBJECT_BREAKAGE, lot.currency);
    const [debit, credit] = direction === 'recognise' ? [unearned, breakage] : [breakage, unearned];
    return tx.postings.post({
      requestId,
      bizCode,
      memo: `stored-value ${direction === 'recognise' ? 'expiry' : 'reactivation'} of lot ${lot.lotId}`,
      legs: [
        { accountId: debit, side: 'DEBIT', amountMinor: valueMinor, currency: lot.currency },
        { accountId: credit, side: 'CREDIT', amountMinor: valueMinor, currency: lot.currency },
      ],
    });
  }

  /**
   * The expiry job: each lot past its expiry moves its available units to
   * expired, posted as breakage. One transaction per lot, so a failure
   * leaves the others done; the lot's own state guards a second run.
   */
  async expireDue(bizCode: string, limit = JOB_BATCH_MAX): Promise<number> {
    const now = this.now();
    const due = await this.options.store.transaction('account.sv_expiry_scan', 'READ COMMITTED', (tx) =>
      tx.lots.dueForExpiry(now, Math.min(limit, JOB_BATCH_MAX)),
    );
    let expired = 0;
    for (const lotId of due) {
      const done = await this.options.store.transaction('account.sv_expire', 'READ COMMITTED', async (tx) => {
        const lot = (await tx.lots.lockLots([lotId])).get(lotId);
        if (lot === undefined || lot.state !== 'ACTIVE' || lot.expiresAt.getTime() > now.getTime())
          return false;
        const moved = expireLot(lot);
        // The posting's request id names the lot and its expiry, so a rerun cannot post twice.
        const postingId = `sv-expire:${lot.lotId}:${lot.expiresAt.toISOString()}`;
        const transferId = await this.postBreakage(
          tx,
          moved.lot,
          moved.part.valueMinor,
          'recognise',
          postingId,
          bizCode,
        );
        if (!(await tx.lots.moveState(moved.lot, 'EXPIRED'))) return false;
        await tx.lots.recordMovements([
          movement(moved.lot, 'EXPIRE', 'available', 'expired', moved.part, {
            requestId: postingId,
            ...(transferId === null ? {} : { transferId }),
          }),
        ]);
        return true;
      });
      if (done) expired++;
    }
    return expired;
  }

  /**
   * Monthly revenue recognition for `period` (YYYY-MM, by accounting date):
   * per contract, the month's net consumed value is posted Dr unearned
   * revenue / Cr stored-value revenue (reversed when refunds outweigh
   * consumptions). Runs only once the month is over (the current accounting
   * date is in a later month); one transaction per contract, its
   * (contract, month) row guarding a rerun. Returns the contracts recognised.
   */
  async recogniseRevenue(period: string, bizCode: string, limit = JOB_BATCH_MAX): Promise<number> {
    if (!PERIOD_PATTERN.test(period)) throw invalid('period', 'YYYY-MM');
    const first = `${period}-01`;
    const next = addDays(first, 31).slice(0, 7) + '-01';
    const last = addDays(next, -1);
    const due = await this.options.store.transaction(
      'account.sv_recognition_scan',
      'READ COMMITTED',
      async (tx) => {
        if ((await tx.recognitions.accountingDate()) < next) return [];
        return tx.recognitions.unrecognised(first, last, Math.min(limit, JOB_BATCH_MAX));
      },
    );
    let recognised = 0;
    for (const month of due) {
      const done = await this.options.store.transaction(
        'account.sv_recognise',
        'READ COMMITTED',
        async (tx) => {
          const transferId = await this.postRecognition(tx, month, period, bizCode);
          return tx.recognitions.insert({ ...month, period, transferId });
        },
      );
      if (done) recognised++;
    }
    return recognised;
  }

  private async postRecognition(
    tx: StoredValueTx,
    month: MonthConsumption,
    period: string,
    bizCode: string,
  ): Promise<string | null> {
    if (month.valueMinor === 0n) return null;
    const unearned = await tx.postings.internalAccount(SUBJECT_UNEARNED_REVENUE, month.currency);
    const revenue = await tx.postings.internalAccount(SUBJECT_STORED_VALUE_REVENUE, month.currency);
    const [debit, credit] = month.valueMinor > 0n ? [unearned, revenue] : [revenue, unearned];
    const amountMinor = month.valueMinor > 0n ? month.valueMinor : -month.valueMinor;
    // The posting id names the contract and month, so a rerun racing this one cannot post twice.
    return tx.postings.post({
      requestId: `sv-recognise:${month.contractId}:${period}`,
      bizCode,
      memo: `stored-value revenue ${period} of contract ${month.contractId}`,
      legs: [
        { accountId: debit, side: 'DEBIT', amountMinor, currency: month.currency },
        { accountId: credit, side: 'CREDIT', amountMinor, currency: month.currency },
      ],
    });
  }

  /** The accounting date postings get now. */
  accountingDate(): Promise<string> {
    return this.options.store.transaction('account.sv_accounting_date', 'READ COMMITTED', (tx) =>
      tx.recognitions.accountingDate(),
    );
  }

  /** The timeout job: TRIED consumptions past their timeout are released like a cancel. */
  async releaseTimedOut(bizCode: string, limit = JOB_BATCH_MAX): Promise<number> {
    const now = this.now();
    const due = await this.options.store.transaction('account.sv_timeout_scan', 'READ COMMITTED', (tx) =>
      tx.consumptions.timedOut(now, Math.min(limit, JOB_BATCH_MAX)),
    );
    let released = 0;
    for (const consumptionId of due) {
      const done = await this.options.store.transaction(
        'account.sv_timeout',
        'READ COMMITTED',
        async (tx) => {
          const consumption = await tx.consumptions.find(consumptionId, true);
          if (consumption === undefined || !isTimedOut(consumption, now)) return false;
          await this.resolveHeld(tx, consumption, 'EXPIRED', {
            requestId: `sv-timeout:${consumptionId}`,
            bizCode,
          });
          return true;
        },
      );
      if (done) released++;
    }
    return released;
  }

  async listLots(query: {
    ownerId: string;
    asset: string;
    includeSpent: boolean;
    pageSize: number;
    pageToken: string;
  }): Promise<LotPage & { nextPageToken: string }> {
    checkPattern(query.ownerId, ID_PATTERN, 'owner_id', '1 to 64 printable ASCII characters');
    checkPattern(query.asset, ASSET_PATTERN, 'asset', '3 to 12 upper-case letters, digits or _');
    if (query.pageSize < 0) throw invalid('page.page_size', 'must not be negative');
    const limit =
      query.pageSize === 0 ? LOTS_PAGE_SIZE_DEFAULT : Math.min(query.pageSize, LOTS_PAGE_SIZE_MAX);
    const offset = query.pageToken === '' ? 0 : Number(query.pageToken);
    if (!Number.isSafeInteger(offset) || offset < 0 || !/^\d{0,12}$/.test(query.pageToken)) {
      throw new InvalidFieldError('page token is not one this RPC issued', { field: 'page.page_token' });
    }
    return this.options.store.transaction('account.sv_list_lots', 'REPEATABLE READ', async (tx) => {
      const page = await tx.lots.listLots({
        ownerId: query.ownerId,
        asset: query.asset,
        includeSpent: query.includeSpent,
        offset,
        limit: limit + 1,
      });
      const lots = page.lots.slice(0, limit);
      return { ...page, lots, nextPageToken: page.lots.length > limit ? String(offset + limit) : '' };
    });
  }

  async getContractStatement(contractId: string): Promise<ContractStatement> {
    checkPattern(contractId, ID_PATTERN, 'contract_id', '1 to 64 printable ASCII characters');
    return this.options.store.transaction('account.sv_statement', 'REPEATABLE READ', async (tx) => {
      const contract = await tx.lots.findContract(contractId);
      if (contract === undefined)
        throw new ContractNotFoundError(`no contract ${contractId}`, { field: 'contract_id' });
      const lots = await tx.lots.lotsOfContract(contractId);
      const movements = await tx.lots.movementsOfContract(contractId, STATEMENT_MOVEMENTS_MAX + 1);
      return {
        contract,
        lots,
        movements: movements.slice(0, STATEMENT_MOVEMENTS_MAX),
        truncated: movements.length > STATEMENT_MOVEMENTS_MAX,
      };
    });
  }
}

/**
 * Runs the expiry and timeout jobs every `tickMs`, one run at a time (a run
 * that overlaps its tick is not doubled). Each run is bounded by JOB_BATCH_MAX
 * per job; what is left waits for the next tick.
 */
export class StoredValueJobs {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** The last month and day this process finished (a restart checks again, harmlessly). */
  private recognisedPeriod = '';
  private reconciledDate = '';

  constructor(
    private readonly service: StoredValueService,
    private readonly options: {
      tickMs: number;
      bizCode: string;
      /** Day of the month (by accounting date) from which the previous month is recognised. */
      recognitionDay: number;
      /** The current accounting date. */
      accountingDate: () => Promise<string>;
      /** Reconciles one accounting date (once; a rerun does nothing). */
      reconcile: (accountingDate: string) => Promise<number>;
      onError: (error: unknown) => void;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.running !== undefined) return;
      this.running = this.runOnce()
        .then(() => undefined)
        .catch(this.options.onError)
        .finally(() => {
          this.running = undefined;
        });
    }, this.options.tickMs);
    this.timer.unref();
  }

  async runOnce(): Promise<{ expired: number; released: number; recognised: number }> {
    const released = await this.service.releaseTimedOut(this.options.bizCode);
    const expired = await this.service.expireDue(this.options.bizCode);
    const today = await this.options.accountingDate();
    let recognised = 0;
    const previous = addDays(`${today.slice(0, 7)}-01`, -1).slice(0, 7);
    // A closed month gets no new movements (accounting dates only advance),
    // so once a run leaves nothing behind the month is done for this process.
    if (Number(today.slice(8, 10)) >= this.options.recognitionDay && this.recognisedPeriod !== previous) {
      recognised = await this.service.recogniseRevenue(previous, this.options.bizCode);
      if (recognised < JOB_BATCH_MAX) this.recognisedPeriod = previous;
    }
    // Yesterday's reconciliation, once all of yesterday's movements are in.
    const yesterday = addDays(today, -1);
    if (this.reconciledDate !== yesterday) {
      await this.options.reconcile(yesterday);
      this.reconciledDate = yesterday;
    }
    return { expired, released, recognised };
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
