/**
 * The cashier's use cases. Each validates its request, records what it is
 * about to do, and leaves the money movement to the Drivers (drivers.ts),
 * which also finish flows after a crash. Handlers (adapters/grpc) stay thin.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { runWithBizCode, type Catalogue } from '@paycore/context';
import {
  merchantEscrow,
  merchantSettlement,
  payerBalance,
  payerStoredValue,
  topUpTarget,
} from '../domain/accounts';
import {
  orderBizCode,
  topUpBizCode,
  withAction,
  withdrawBizCode,
  ACTION_REFUND,
  internalPartCode,
  STORED_VALUE_PRODUCT,
  WALLET_PRODUCT,
} from '../domain/codes';
import { CashierError, invalidField } from '../domain/errors';
import {
  CURRENCY,
  NO_RISK_LIMITS,
  type BizModeName,
  type RequestedPart,
  type RiskLimits,
  type TopUpTargetName,
} from '../domain/model';
import { planPayment } from '../domain/plan';
import { allocateRefundAlongPath } from '../domain/refund';
import { checkRisk } from '../domain/risk';
import type { PgCashierStore } from '../adapters/pg/store';
import type { AccountDirectory } from './accounts';
import type { Drivers } from './drivers';
import { requestHash } from './hash';
import type { AccountPort, ChannelPort } from './ports';
import type {
  CouponRecord,
  ExceptionRecord,
  MerchantRecord,
  OrderRecord,
  PaymentRecord,
  RefundRecord,
  WithdrawalRecord,
} from './records';

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;
const NOTIFY_KEY_PATTERN = /^[\x21-\x7e]{16,128}$/;
const PRODUCT_PATTERN = /^[0-9]{6}$/;
const SUBJECT_FORBIDDEN = /[,`\r\n]/;
const ORDER_TTL_MAX_MS = 7 * 24 * 3_600_000;
const COUPON_TTL_DEFAULT_MS = 30 * 24 * 3_600_000;
const EXCEPTIONS_PAGE_MAX = 500;
/** The context code accounts are opened under (merchant settlement transfer flow). */
const ACCOUNT_OPENING_CODE = '10050101050000000000';

export interface CashierOptions {
  readonly orderTtlMs: number;
  readonly nowMs: () => number;
}

export interface OrderView {
  readonly order: OrderRecord;
  readonly payments: readonly PaymentRecord[];
  readonly refunds: readonly RefundRecord[];
}

function requireId(field: string, value: string): void {
  if (!ID_PATTERN.test(value)) throw invalidField(field, 'must be 1 to 64 characters of [A-Za-z0-9_-]');
}
function requireRequestId(value: string): void {
  if (!REQUEST_ID_PATTERN.test(value))
    throw invalidField('request_id', 'must be 1 to 128 printable ASCII characters');
}
function requireAmount(field: string, amountMinor: bigint | undefined, currency: string | undefined): bigint {
  if (amountMinor === undefined) throw invalidField(field, 'is required');
  if (currency !== CURRENCY) {
    throw new CashierError('UNSUPPORTED_CURRENCY', `${field}: only ${CURRENCY} is accepted`, {
      field: `${field}.currency`,
    });
  }
  if (amountMinor <= 0n || amountMinor > 9_000_000_000_000_000n) {
    throw new CashierError('AMOUNT_OUT_OF_RANGE', `${field} must be positive`, {
      field: `${field}.amount_minor`,
    });
  }
  return amountMinor;
}
function requireSubject(subject: string): void {
  if (subject.length < 1 || subject.length > 128 || SUBJECT_FORBIDDEN.test(subject)) {
    throw invalidField('subject', 'must be 1 to 128 characters without commas, backticks or line breaks');
  }
}

export class Cashier {
  constructor(
    private readonly store: PgCashierStore,
    private readonly accounts: AccountDirectory,
    private readonly account: AccountPort,
    private readonly channel: ChannelPort,
    private readonly drivers: Drivers,
    private readonly catalogue: Catalogue,
    private readonly logger: Logger,
    private readonly options: CashierOptions,
  ) {}

  // --------------------------------------------------------------- merchants

  async registerMerchant(input: {
    requestId: string;
    merchantId: string;
    name: string;
    notifyKey: string;
    limits: RiskLimits;
  }): Promise<MerchantRecord> {
    requireRequestId(input.requestId);
    requireId('merchant_id', input.merchantId);
    if (input.name.length < 1 || input.name.length > 128)
      throw invalidField('name', 'must be 1 to 128 characters');
    if (!NOTIFY_KEY_PATTERN.test(input.notifyKey)) {
      throw invalidField('notify_key', 'must be 16 to 128 printable ASCII characters');
    }
    const limits = input.limits;
    if (
      limits.perTransactionMaxMinor < 0n ||
      limits.merchantDailyMaxMinor < 0n ||
      limits.payerDailyMaxMinor < 0n ||
      limits.payerPaymentsPerMinuteMax < 0
    ) {
      throw invalidField('risk_limits', 'limits are 0 (none) or positive');
    }
    const hash = requestHash({ m: input.merchantId, n: input.name, k: input.notifyKey, l: limits });
    await this.store.idempotent('RegisterMerchant', input.requestId, hash);
    const existing = await this.store.merchant(input.merchantId);
    if (existing) return this.sameMerchant(existing, hash);
    const settlementAccountId = await this.accounts.resolve(
      merchantSettlement(input.merchantId),
      ACCOUNT_OPENING_CODE,
    );
    const escrowAccountId = await this.accounts.resolve(
      merchantEscrow(input.merchantId),
      ACCOUNT_OPENING_CODE,
    );
    const { merchant, created } = await this.store.insertMerchant({
      merchantId: input.merchantId,
      name: input.name,
      notifyKey: input.notifyKey,
      limits,
      settlementAccountId,
      escrowAccountId,
    });
    await this.store.remember('RegisterMerchant', input.requestId, hash, merchant.merchantId);
    return created ? merchant : this.sameMerchant(merchant, hash);
  }

  private sameMerchant(existing: MerchantRecord, hash: string): MerchantRecord {
    const same =
      requestHash({ m: existing.merchantId, n: existing.name, k: existing.notifyKey, l: existing.limits }) ===
      hash;
    if (!same)
      throw new CashierError(
        'MERCHANT_EXISTS',
        `merchant ${existing.merchantId} exists with other settings`,
        { field: 'merchant_id' },
      );
    return existing;
  }

  async merchant(
    merchantId: string,
  ): Promise<{ merchant: MerchantRecord; settlementMinor: bigint; escrowMinor: bigint }> {
    const merchant = await this.mustMerchant(merchantId);
    const settlement = await this.account.balance(merchant.settlementAccountId);
    const escrow = await this.account.balance(merchant.escrowAccountId);
    return { merchant, settlementMinor: settlement.totalMinor, escrowMinor: escrow.totalMinor };
  }

  private async mustMerchant(merchantId: string): Promise<MerchantRecord> {
    const merchant = ID_PATTERN.test(merchantId) ? await this.store.merchant(merchantId) : undefined;
    if (!merchant)
      throw new CashierError('MERCHANT_NOT_FOUND', `merchant ${merchantId.slice(0, 64)} not found`, {
        field: 'merchant_id',
      });
    return merchant;
  }

  // ------------------------------------------------------------------ orders

  // eslint-disable-next-line max-lines-per-function -- order creation validates every field of the request in one place
  async createOrder(input: {
    requestId: string;
    merchantId: string;
    merchantOrderNo: string;
    amountMinor: bigint | undefined;
    currency: string | undefined;
    product: string;
    bizMode: BizModeName | undefined;
    subject: string;
    expireAt: Date | undefined;
    notifyUrl: string;
  }): Promise<OrderRecord> {
    requireRequestId(input.requestId);
    requireId('merchant_order_no', input.merchantOrderNo);
    const amountMinor = requireAmount('amount', input.amountMinor, input.currency);
    if (!PRODUCT_PATTERN.test(input.product)) throw invalidField('product', 'must be 6 digits');
    if (input.bizMode === undefined) throw invalidField('biz_mode', 'is required (INSTANT or ESCROW)');
    requireSubject(input.subject);
    if (input.notifyUrl !== '' && !/^https?:\/\/[^\s]{1,2000}$/.test(input.notifyUrl)) {
      throw invalidField('notify_url', 'must be an http(s) URL or empty');
    }
    const now = this.options.nowMs();
    const expireAt = input.expireAt ?? new Date(now + this.options.orderTtlMs);
    if (expireAt.getTime() <= now || expireAt.getTime() > now + ORDER_TTL_MAX_MS) {
      throw invalidField('expire_time', 'must be in the future and at most 7 days ahead');
    }
    const merchant = await this.mustMerchant(input.merchantId);
    const orderCode = orderBizCode(input.product, input.bizMode);
    if (!this.catalogue.isKnown(orderCode)) {
      throw new CashierError(
        'UNKNOWN_BIZ_CODE',
        `product ${input.product} has no ${input.bizMode} pay flow (code ${orderCode})`,
        {
          field: 'product',
        },
      );
    }
    const tooBig = checkRisk(
      { ...NO_RISK_LIMITS, perTransactionMaxMinor: merchant.limits.perTransactionMaxMinor },
      { merchantDailyMinor: 0n, payerDailyMinor: 0n, payerPaymentsThisMinute: 0 },
      amountMinor,
    );
    if (tooBig) throw tooBig;
    const hash = requestHash({
      m: input.merchantId,
      o: input.merchantOrderNo,
      a: amountMinor,
      p: input.product,
      b: input.bizMode,
      s: input.subject,
      e: input.expireAt?.getTime() ?? null,
      n: input.notifyUrl,
    });
    const { order, created } = await this.store.insertOrder({
      kind: 'PAYMENT',
      merchantId: merchant.merchantId,
      merchantOrderNo: input.merchantOrderNo,
      payerId: null,
      topUpTarget: null,
      amountMinor,
      currency: CURRENCY,
      product: input.product,
      bizMode: input.bizMode,
      orderCode,
      subject: input.subject,
      expireAt,
      notifyUrl: input.notifyUrl,
      requestHash: hash,
    });
    if (!created && order.requestHash !== hash) {
      throw new CashierError(
        'ORDER_NO_REUSED',
        `merchant order number ${input.merchantOrderNo} exists with another payload`,
        {
          field: 'merchant_order_no',
          metadata: { order_id: order.orderId },
        },
      );
    }
    return order;
  }

  async orderView(orderId: string): Promise<OrderView> {
    const order = await this.mustOrder(orderId);
    return {
      order,
      payments: await this.store.paymentsOfOrder(order.orderId),
      refunds: await this.store.refundsOfOrder(order.orderId),
    };
  }

  async orderViewByMerchantNo(merchantId: string, merchantOrderNo: string): Promise<OrderView> {
    const order = await this.store.orderByMerchantNo(merchantId, merchantOrderNo);
    if (!order)
      throw new CashierError(
        'ORDER_NOT_FOUND',
        `order ${merchantOrderNo.slice(0, 64)} of ${merchantId.slice(0, 64)} not found`,
      );
    return this.orderView(order.orderId);
  }

  private async mustOrder(orderId: string): Promise<OrderRecord> {
    const valid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(orderId);
    const order = valid ? await this.store.order(orderId) : undefined;
    if (!order)
      throw new CashierError('ORDER_NOT_FOUND', `order ${orderId.slice(0, 64)} not found`, {
        field: 'order_id',
      });
    return order;
  }

  async payMethods(orderId: string, payerId: string) {
    requireId('payer_id', payerId);
    const order = await this.mustOrder(orderId);
    const allowed = this.catalogue.payChannelsFor(order.orderCode);
    const balanceOf = async (ref: ReturnType<typeof payerBalance>): Promise<bigint | undefined> => {
      const id = await this.accounts.find(ref);
      return id === undefined ? undefined : (await this.account.balance(id)).availableMinor;
    };
    const channels = await this.channel.listPayChannels(order.orderCode, order.amountMinor);
    return {
      balanceMinor: allowed.includes('0001') ? await balanceOf(payerBalance(payerId)) : undefined,
      storedValueMinor: allowed.includes('0003') ? await balanceOf(payerStoredValue(payerId)) : undefined,
      coupons: allowed.includes('0002') ? await this.store.availableCoupons(payerId) : [],
      payChannels: channels.filter((c) => !this.catalogue.isInternalPayChannel(c.payChannel)),
    };
  }

  // --------------------------------------------------------------------- pay

  async pay(input: {
    requestId: string;
    orderId: string;
    payerId: string;
    parts: readonly RequestedPart[];
  }): Promise<{ order: OrderRecord; payment: PaymentRecord }> {
    requireRequestId(input.requestId);
    requireId('payer_id', input.payerId);
    const order = await this.mustOrder(input.orderId);
    // The order's code is current from here on, so every check's call, log line and span carries it.
    return runWithBizCode(order.orderCode, () => this.payOrder(order, input));
  }

  private async payOrder(
    order: OrderRecord,
    input: { requestId: string; orderId: string; payerId: string; parts: readonly RequestedPart[] },
  ): Promise<{ order: OrderRecord; payment: PaymentRecord }> {
    const hash = requestHash({ o: input.orderId, p: input.payerId, parts: input.parts });
    const replay = await this.store.paymentByRequest(order.orderId, input.requestId);
    if (replay) {
      if (replay.requestHash !== hash) {
        throw new CashierError(
          'IDEMPOTENCY_KEY_REUSED',
          `request_id ${input.requestId} was used with another payload`,
          { field: 'request_id' },
        );
      }
      return { order: (await this.store.order(order.orderId)) ?? order, payment: replay };
    }
    this.checkPayable(order);
    const planned = planPayment({
      orderKind: order.kind,
      orderAmountMinor: order.amountMinor,
      parts: input.parts,
      allowedPayChannels: this.catalogue.payChannelsFor(order.orderCode),
      isInternalPayChannel: (pc) => this.catalogue.isInternalPayChannel(pc),
    });
    // Checks that refuse with nothing changed: coupons exist, balances cover their parts, the channel routes.
    const parts = [];
    for (const part of planned) {
      if (part.kind === 'COUPON') await this.checkCoupon(part.couponId ?? '', input.payerId, part.index);
      if (part.kind === 'BALANCE' || part.kind === 'STORED_VALUE') {
        await this.checkBalance(
          part.kind === 'BALANCE' ? payerBalance(input.payerId) : payerStoredValue(input.payerId),
          part.amountMinor,
          part.index,
        );
      }
      if (part.kind === 'CHANNEL') {
        const route = await this.channel.route(
          order.orderCode,
          part.amountMinor,
          order.merchantId ?? input.payerId,
          part.payChannel,
        );
        parts.push({ ...part, channelNo: route.channelNo, bizCode: route.bizCode });
      } else {
        parts.push({ ...part, channelNo: null, bizCode: internalPartCode(order.orderCode, part.payChannel) });
      }
    }
    await this.clearInFlight(order);
    const merchant = order.merchantId === null ? undefined : await this.store.merchant(order.merchantId);
    const payment = await this.store.startPayment({
      orderId: order.orderId,
      requestId: input.requestId,
      requestHash: hash,
      payerId: input.payerId,
      parts,
      limits: merchant?.limits ?? NO_RISK_LIMITS,
      merchantId: order.merchantId,
      nowMs: this.options.nowMs(),
    });
    await this.drivers.drivePayment(payment.paymentId);
    const after = await this.store.payment(payment.paymentId);
    const orderAfter = await this.store.order(order.orderId);
    if (!after || !orderAfter) throw new Error('payment or order vanished');
    return { order: orderAfter, payment: after };
  }

  private checkPayable(order: OrderRecord): void {
    if (order.state !== 'WAIT_PAY') {
      throw new CashierError('ORDER_NOT_PAYABLE', `order is ${order.state}`, {
        metadata: { order_state: order.state },
      });
    }
    if (order.expireAt.getTime() <= this.options.nowMs()) {
      throw new CashierError('ORDER_EXPIRED', `order expired at ${order.expireAt.toISOString()}`);
    }
  }

  private async checkCoupon(couponId: string, payerId: string, index: number): Promise<void> {
    const valid = /^[0-9a-f-]{36}$/.test(couponId);
    const coupon = valid ? await this.store.coupon(couponId) : undefined;
    if (!coupon || coupon.payerId !== payerId) {
      throw new CashierError('COUPON_NOT_FOUND', `coupon ${couponId.slice(0, 64)} not found for this payer`, {
        field: `parts[${index}].coupon_id`,
      });
    }
  }

  private async checkBalance(
    ref: ReturnType<typeof payerBalance>,
    amountMinor: bigint,
    index: number,
  ): Promise<void> {
    const id = await this.accounts.find(ref);
    const available = id === undefined ? 0n : (await this.account.balance(id)).availableMinor;
    if (available < amountMinor) {
      throw new CashierError(
        'INSUFFICIENT_BALANCE',
        `available ${available} is less than the part's ${amountMinor}`,
        {
          field: `parts[${index}].amount`,
          metadata: { available_minor: available.toString() },
        },
      );
    }
  }

  /**
   * Anti-duplicate payment: an in-flight channel payment is closed at the
   * channel first (then its reservations are cancelled); if the channel says
   * it was paid, that payment completes and the order is not payable; any
   * other in-flight payment refuses the request with its state.
   */
  private async clearInFlight(order: OrderRecord): Promise<void> {
    const inFlight = await this.store.inFlightPayment(order.orderId);
    if (!inFlight) return;
    const channelPart = inFlight.parts.find((p) => p.kind === 'CHANNEL');
    if (inFlight.state === 'PROCESSING' && channelPart?.channelTxnId) {
      await this.drivers.closeAtChannel(inFlight, channelPart.channelTxnId, 'SUPERSEDED');
      await this.drivers.drivePayment(inFlight.paymentId);
      const after = await this.store.payment(inFlight.paymentId);
      if (after?.state === 'FAILED') return;
      if (after?.state === 'SUCCEEDED')
        throw new CashierError('ORDER_NOT_PAYABLE', `order was paid by payment ${after.paymentId}`, {
          metadata: { order_state: 'PAID' },
        });
    }
    const now = (await this.store.payment(inFlight.paymentId)) ?? inFlight;
    throw new CashierError('PAYMENT_IN_FLIGHT', `payment ${now.paymentId} of the order is ${now.state}`, {
      metadata: { payment_id: now.paymentId, payment_state: now.state },
    });
  }

  async closeOrder(orderId: string, cause: 'CLOSED_BY_MERCHANT' | 'EXPIRED'): Promise<OrderRecord> {
    const order = await this.mustOrder(orderId);
    if (order.state === 'CLOSED') return order;
    if (order.state !== 'WAIT_PAY') {
      throw new CashierError('ORDER_NOT_PAYABLE', `order is ${order.state}`, {
        metadata: { order_state: order.state },
      });
    }
    await this.clearInFlight(order);
    const closed = await this.store.closeOrder(orderId, cause);
    if (closed === 'IN_FLIGHT')
      throw new CashierError('PAYMENT_IN_FLIGHT', 'a payment of the order started meanwhile');
    if (!closed) throw new Error('order vanished');
    if (closed.state === 'PAID')
      throw new CashierError('ORDER_NOT_PAYABLE', 'order was paid meanwhile', {
        metadata: { order_state: 'PAID' },
      });
    return closed;
  }

  async confirmReceipt(orderId: string): Promise<OrderRecord> {
    await this.mustOrder(orderId);
    const order = await this.store.confirmReceipt(orderId);
    await this.drivers.postRelease(order.orderId);
    return (await this.store.order(orderId)) ?? order;
  }

  // ----------------------------------------------------------------- refunds

  async refund(input: {
    requestId: string;
    orderId: string;
    merchantRefundNo: string;
    amountMinor: bigint | undefined;
    currency: string | undefined;
    reason: string;
  }): Promise<RefundRecord> {
    requireRequestId(input.requestId);
    requireId('merchant_refund_no', input.merchantRefundNo);
    if (input.reason.length > 128) throw invalidField('reason', 'at most 128 characters');
    const amountMinor = requireAmount('amount', input.amountMinor, input.currency);
    const order = await this.mustOrder(input.orderId);
    const hash = requestHash({
      o: input.orderId,
      n: input.merchantRefundNo,
      a: amountMinor,
      r: input.reason,
    });
    if (order.merchantId !== null) {
      const existing = await this.store.refundByMerchantNo(order.merchantId, input.merchantRefundNo);
      if (existing) {
        if (existing.requestHash !== hash) {
          throw new CashierError(
            'REFUND_NO_REUSED',
            `refund number ${input.merchantRefundNo} exists with another payload`,
            { field: 'merchant_refund_no' },
          );
        }
        return existing;
      }
    }
    const refund = await this.store.startRefund({
      orderId: order.orderId,
      merchantRefundNo: input.merchantRefundNo,
      requestHash: hash,
      amountMinor,
      reason: input.reason,
      allocate: (parts) => allocateRefundAlongPath(parts, amountMinor),
      refundCodeOf: (code) => withAction(code, ACTION_REFUND),
      refundBizCode: withAction(order.bizCode, ACTION_REFUND),
    });
    await this.drivers.driveRefund(refund.refundId);
    return (await this.store.refund(refund.refundId)) ?? refund;
  }

  async refundById(refundId: string): Promise<RefundRecord> {
    const refund = /^[0-9a-f-]{36}$/.test(refundId) ? await this.store.refund(refundId) : undefined;
    if (!refund)
      throw new CashierError('REFUND_NOT_FOUND', `refund ${refundId.slice(0, 64)} not found`, {
        field: 'refund_id',
      });
    return refund;
  }

  async refundByMerchantNo(merchantId: string, merchantRefundNo: string): Promise<RefundRecord> {
    const refund = await this.store.refundByMerchantNo(merchantId, merchantRefundNo);
    if (!refund)
      throw new CashierError('REFUND_NOT_FOUND', `refund ${merchantRefundNo.slice(0, 64)} not found`, {
        field: 'merchant_refund_no',
      });
    return refund;
  }

  // ----------------------------------------------------------- wallet flows

  async topUp(input: {
    requestId: string;
    payerId: string;
    amountMinor: bigint | undefined;
    currency: string | undefined;
    payChannel: string;
    target: TopUpTargetName | undefined;
  }) {
    requireRequestId(input.requestId);
    requireId('payer_id', input.payerId);
    const amountMinor = requireAmount('amount', input.amountMinor, input.currency);
    if (input.target === undefined) throw invalidField('target', 'is required (BALANCE or STORED_VALUE)');
    const hash = requestHash({ p: input.payerId, a: amountMinor, c: input.payChannel, t: input.target });
    let orderId = await this.store.idempotent('TopUp', input.requestId, hash);
    if (orderId === undefined) {
      orderId = randomUUID();
      await this.store.remember('TopUp', input.requestId, hash, orderId);
      orderId = (await this.store.idempotent('TopUp', input.requestId, hash)) ?? orderId;
    }
    let order = await this.store.order(orderId);
    if (!order) {
      const code = topUpBizCode(input.target);
      await this.accounts.resolve(topUpTarget(input.payerId, input.target), code);
      order = (
        await this.store.insertOrder({
          orderId,
          kind: 'TOP_UP',
          merchantId: null,
          merchantOrderNo: null,
          payerId: input.payerId,
          topUpTarget: input.target,
          amountMinor,
          currency: CURRENCY,
          product: input.target === 'BALANCE' ? WALLET_PRODUCT : STORED_VALUE_PRODUCT,
          bizMode: 'INSTANT',
          orderCode: code,
          subject: input.target === 'BALANCE' ? 'balance top-up' : 'stored value top-up',
          expireAt: new Date(this.options.nowMs() + this.options.orderTtlMs),
          notifyUrl: '',
          requestHash: hash,
        })
      ).order;
    }
    return this.pay({
      requestId: input.requestId,
      orderId: order.orderId,
      payerId: input.payerId,
      parts: [{ kind: 'CHANNEL', amountMinor, payChannel: input.payChannel }],
    });
  }

  async withdraw(input: {
    requestId: string;
    payerId: string;
    amountMinor: bigint | undefined;
    currency: string | undefined;
    accountNo: string;
    accountName: string;
    bankCode: string;
  }): Promise<WithdrawalRecord> {
    requireRequestId(input.requestId);
    requireId('payer_id', input.payerId);
    const amountMinor = requireAmount('amount', input.amountMinor, input.currency);
    if (!/^[0-9]{8,32}$/.test(input.accountNo)) throw invalidField('account_no', 'must be 8 to 32 digits');
    if (input.accountName.length < 1 || input.accountName.length > 64)
      throw invalidField('account_name', 'must be 1 to 64 characters');
    if (!/^[A-Z0-9]{2,16}$/.test(input.bankCode))
      throw invalidField('bank_code', 'must be 2 to 16 of [A-Z0-9]');
    const hash = requestHash({
      p: input.payerId,
      a: amountMinor,
      n: input.accountNo,
      m: input.accountName,
      b: input.bankCode,
    });
    const existing = await this.store.withdrawalByRequest(input.requestId);
    if (existing) {
      if (existing.requestHash !== hash)
        throw new CashierError('IDEMPOTENCY_KEY_REUSED', 'request_id was used with another payload', {
          field: 'request_id',
        });
      return existing;
    }
    const balanceId = await this.accounts.find(payerBalance(input.payerId));
    if (balanceId === undefined)
      throw new CashierError('PAYER_NOT_FOUND', `payer ${input.payerId} has no balance`, {
        field: 'payer_id',
      });
    const { availableMinor } = await this.account.balance(balanceId);
    if (availableMinor < amountMinor) {
      throw new CashierError(
        'INSUFFICIENT_BALANCE',
        `available ${availableMinor} is less than ${amountMinor}`,
        {
          field: 'amount',
          metadata: { available_minor: availableMinor.toString() },
        },
      );
    }
    const route = await this.channel.route(withdrawBizCode(), amountMinor, input.payerId, '4001');
    const withdrawal = await this.store.insertWithdrawal({
      requestId: input.requestId,
      requestHash: hash,
      payerId: input.payerId,
      amountMinor,
      currency: CURRENCY,
      accountNo: input.accountNo,
      accountName: input.accountName,
      bankCode: input.bankCode,
      channelNo: route.channelNo,
      bizCode: route.bizCode,
    });
    await this.drivers.driveWithdrawal(withdrawal.withdrawalId);
    return (await this.store.withdrawal(withdrawal.withdrawalId)) ?? withdrawal;
  }

  async withdrawalById(withdrawalId: string): Promise<WithdrawalRecord> {
    const w = /^[0-9a-f-]{36}$/.test(withdrawalId) ? await this.store.withdrawal(withdrawalId) : undefined;
    if (!w)
      throw new CashierError('WITHDRAWAL_NOT_FOUND', `withdrawal ${withdrawalId.slice(0, 64)} not found`, {
        field: 'withdrawal_id',
      });
    return w;
  }

  async issueCoupon(input: {
    requestId: string;
    payerId: string;
    amountMinor: bigint | undefined;
    currency: string | undefined;
    expireAt: Date | undefined;
  }): Promise<CouponRecord> {
    requireRequestId(input.requestId);
    requireId('payer_id', input.payerId);
    const amountMinor = requireAmount('amount', input.amountMinor, input.currency);
    const expireAt = input.expireAt ?? new Date(this.options.nowMs() + COUPON_TTL_DEFAULT_MS);
    if (expireAt.getTime() <= this.options.nowMs())
      throw invalidField('expire_time', 'must be in the future');
    const hash = requestHash({ p: input.payerId, a: amountMinor, e: input.expireAt?.getTime() ?? null });
    const coupon = await this.store.insertCoupon({
      requestId: input.requestId,
      requestHash: hash,
      payerId: input.payerId,
      amountMinor,
      currency: CURRENCY,
      expireAt,
    });
    if (coupon.requestHash !== hash)
      throw new CashierError('IDEMPOTENCY_KEY_REUSED', 'request_id was used with another payload', {
        field: 'request_id',
      });
    return coupon;
  }

  // -------------------------------------------------------------- exceptions

  listExceptions(includeResolved: boolean, pageSize: number): Promise<ExceptionRecord[]> {
    if (pageSize < 0 || pageSize > EXCEPTIONS_PAGE_MAX)
      throw invalidField('page_size', `must be 0 to ${EXCEPTIONS_PAGE_MAX}`);
    return this.store.exceptions(includeResolved, pageSize === 0 ? 100 : pageSize);
  }

  async resolveException(input: {
    exceptionId: string;
    resolution: 'SUCCEEDED' | 'FAILED' | undefined;
    reason: string;
    operator: string;
  }): Promise<ExceptionRecord> {
    if (input.resolution === undefined) throw invalidField('resolution', 'is required (SUCCEEDED or FAILED)');
    if (input.reason.trim().length < 1 || input.reason.length > 512)
      throw invalidField('reason', 'must be 1 to 512 characters');
    if (!/^[0-9a-f-]{36}$/.test(input.exceptionId))
      throw new CashierError('EXCEPTION_NOT_FOUND', 'exception not found', { field: 'exception_id' });
    const resolved = await this.store.resolveException(
      input.exceptionId,
      input.resolution,
      input.operator,
      input.reason,
    );
    this.logger.warn(
      {
        exception_id: resolved.exceptionId,
        flow: resolved.flowKind,
        flow_id: resolved.flowId,
        resolution: resolved.resolution,
        operator: resolved.operator,
        reason: resolved.reason,
      },
      'exception resolved by an operator',
    );
    const kind =
      resolved.flowKind === 'PAYMENT' ? 'payment' : resolved.flowKind === 'REFUND' ? 'refund' : 'withdrawal';
    this.drivers.kick(kind, resolved.flowId, 0);
    return resolved;
  }
}
