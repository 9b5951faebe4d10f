/**
 * End-to-end: a combined payment with a stored-value part that spends the
 * payer's coins (lots in account's StoredValueService), beside a balance part
 * and a channel part, every service a real process (platform.ts):
 * - the channel pays: the coins are consumed, the balance debited, the
 *   merchant credited with the money parts; two partial refunds then return
 *   every coin to its lot and the balance whole;
 * - the channel declines, or the order is closed while the channel waits:
 *   the coins are back in their lots (nothing held) and the balance unfrozen;
 * - more coins than the payer holds: Pay answers INSUFFICIENT_STORED_VALUE
 *   and the balance reserved before it is released.
 * After each, every lot's buckets add up to its quantity and its paid value.
 */
import { expect } from 'chai';
import { CashierErrorReason, CommonErrorReason } from '@paycore/client';
import { OwnerType, Side } from '@paycore/proto/paycore/account/v1/account_service';
import type { Lot } from '@paycore/proto/paycore/account/v1/stored_value_service';
import {
  OrderState,
  PartKind,
  PaymentState,
  RefundState,
  type PaymentPart,
} from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { payAtSandbox, startPlatform, waitFor, type Platform } from './platform';
import {
  chinaToday,
  cny,
  createOrder,
  fundPayer,
  pay,
  part,
  reasonOf,
  registerMerchant,
  uid,
} from './helpers';

const ASSET = 'ADCOIN';
const PURCHASE_BIZ = { code: '10030103030000000000' };
const COINS_BOUGHT = 100n;
const COINS_PAID_MINOR = 10_000n;
const DAY_MS = 86_400_000;

describe('cashier combined payment with stored value (coins) end to end', function () {
  this.timeout(300_000);
  let p: Platform;
  let bank = '';

  before(async () => {
    p = await startPlatform();
    const opened = await p.paycore.account.openAccount({
      requestId: uid('open-bank'),
      bizContext: PURCHASE_BIZ,
      ownerType: OwnerType.OWNER_TYPE_INTERNAL,
      ownerId: uid('bank'),
      subjectCode: '100201',
      currency: 'CNY',
      normalSide: Side.SIDE_DEBIT,
      allowOverdraft: true,
    });
    bank = opened.account?.accountId ?? '';
  });
  after(async () => {
    await p?.close();
  });

  const order = (orderId: string) =>
    p.paycore.cashier.getPaymentOrder({ orderId, merchantId: '', merchantOrderNo: '' });
  const payerBalance = async (payerId: string) => {
    const rows = await p.query<{ account_id: string }>(
      'SELECT account_id FROM cashier.ledger_accounts WHERE account_key = $1',
      [`CUSTOMER:${payerId}:224101:CNY`],
    );
    const res = await p.paycore.account.getBalance({
      accountId: rows[0]?.account_id ?? '',
      asOf: undefined,
    });
    return {
      available: res.balance?.available?.amountMinor ?? -1n,
      frozen: res.balance?.frozen?.amountMinor ?? -1n,
    };
  };
  const settlement = async (merchantId: string) =>
    (await p.paycore.cashier.getMerchant({ merchantId })).settlementBalance?.amountMinor ?? -1n;
  /** A payer with 5,000 fen of balance and 100 coins bought for 10,000 fen. */
  const payerWithCoins = async (): Promise<string> => {
    const payerId = uid('payer');
    await fundPayer(p, payerId, 5_000n, (txnId) => payAtSandbox(p.sandboxUrl, 'alipay', txnId));
    await p.paycore.storedValue.purchase({
      requestId: uid('buy'),
      bizContext: PURCHASE_BIZ,
      contractId: uid('K'),
      ownerId: payerId,
      asset: ASSET,
      quantity: COINS_BOUGHT,
      paid: cny(COINS_PAID_MINOR),
      promotionalQuantity: 0n,
      consumptionType: '',
      effectiveTime: new Date(Date.now() - 60_000),
      expireTime: new Date(Date.now() + 30 * DAY_MS),
      fundingAccountId: bank,
    });
    return payerId;
  };
  /** The payer's coins by bucket, after checking every lot's buckets add up to it. */
  const coins = async (payerId: string) => {
    const res = await p.paycore.storedValue.listLots({
      ownerId: payerId,
      asset: ASSET,
      includeSpent: true,
      page: { pageSize: 100, pageToken: '' },
    });
    const sum = (lot: Lot, key: 'quantity' | 'value') =>
      [lot.available, lot.held, lot.frozen, lot.consumed, lot.expired].reduce(
        (acc, b) => acc + (key === 'quantity' ? (b?.quantity ?? 0n) : (b?.value?.amountMinor ?? 0n)),
        0n,
      );
    for (const lot of res.lots) {
      expect(sum(lot, 'quantity'), `lot ${lot.lotId} units`).to.equal(lot.quantity);
      expect(sum(lot, 'value'), `lot ${lot.lotId} value`).to.equal(lot.paid?.amountMinor);
    }
    const total = (pick: (l: Lot) => bigint) => res.lots.reduce((acc, l) => acc + pick(l), 0n);
    return {
      available: total((l) => l.available?.quantity ?? 0n),
      held: total((l) => l.held?.quantity ?? 0n),
      consumed: total((l) => l.consumed?.quantity ?? 0n),
    };
  };
  const coinPart = (amountMinor: bigint, quantity: bigint): PaymentPart =>
    part(PartKind.PART_KIND_STORED_VALUE, amountMinor, {
      asset: ASSET,
      quantity,
      consumptionType: 'LISTING_BOOST',
    });
  const waitPayment = (orderId: string, state: PaymentState) =>
    waitFor(`payment ${PaymentState[state]}`, async () => {
      const view = await order(orderId);
      return view.payments[0]?.state === state ? view : undefined;
    });
  /** Pays 3,000 balance + 30 coins (2,000) + 5,000 channel; checks the holds while the channel waits. */
  const startCombined = async (payerId: string, merchantId: string) => {
    const created = await createOrder(p, merchantId, 10_000n);
    const res = await pay(p, created.orderId, payerId, [
      part(PartKind.PART_KIND_BALANCE, 3_000n),
      coinPart(2_000n, 30n),
      part(PartKind.PART_KIND_CHANNEL, 5_000n, { payChannel: '1001' }),
    ]);
    expect(res.payment?.state).to.equal(PaymentState.PAYMENT_STATE_PROCESSING);
    expect(res.payment?.parts[1]).to.include({
      asset: ASSET,
      quantity: 30n,
      consumptionType: 'LISTING_BOOST',
    });
    expect(await payerBalance(payerId)).to.deep.equal({ available: 2_000n, frozen: 3_000n });
    expect(await coins(payerId)).to.deep.equal({ available: 70n, held: 30n, consumed: 0n });
    return { orderId: created.orderId, txnId: res.payment?.parts[2]?.channelTxnId ?? '' };
  };

  it('the channel pays: every part confirms; two partial refunds return every coin and the balance', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = await payerWithCoins();
    const { orderId, txnId } = await startCombined(payerId, merchantId);
    await payAtSandbox(p.sandboxUrl, 'alipay', txnId);
    const paid = await waitPayment(orderId, PaymentState.PAYMENT_STATE_SUCCEEDED);
    expect(paid.order?.state).to.equal(OrderState.ORDER_STATE_PAID);
    expect(await coins(payerId)).to.deep.equal({ available: 70n, held: 0n, consumed: 30n });
    expect(await payerBalance(payerId)).to.deep.equal({ available: 2_000n, frozen: 0n });
    // The coins' value stays on the lots (revenue in account's books): the merchant gets the money parts.
    expect(await settlement(merchantId)).to.equal(8_000n);

    const refundUnits: bigint[] = [];
    for (const [i, amount] of [3_333n, 6_667n].entries()) {
      const refund = await p.paycore.cashier.refund({
        requestId: uid('refund'),
        orderId,
        merchantRefundNo: `${orderId.slice(0, 8)}-r${i}`,
        amount: cny(amount),
        reason: 'partial',
      });
      const refundId = refund.refund?.refundId ?? '';
      const done = await waitFor(`refund ${i}`, async () => {
        const got = await p.paycore.cashier.getRefund({
          refundId,
          merchantId: '',
          merchantRefundNo: '',
        });
        return got.refund?.state === RefundState.REFUND_STATE_SUCCEEDED ? got.refund : undefined;
      });
      refundUnits.push(done.parts.find((x) => x.kind === PartKind.PART_KIND_STORED_VALUE)?.quantity ?? 0n);
      if (i === 0) {
        const partial = await coins(payerId);
        expect(partial.available + partial.consumed).to.equal(COINS_BOUGHT);
        expect(partial.consumed).to.equal(30n - (refundUnits[0] ?? 0n));
      }
    }
    expect(refundUnits.reduce((a, b) => a + b, 0n)).to.equal(30n);
    expect((refundUnits[0] ?? 0n) > 0n, 'the first refund returns some coins').to.equal(true);
    await waitFor('order REFUNDED', async () =>
      (await order(orderId)).order?.state === OrderState.ORDER_STATE_REFUNDED ? true : undefined,
    );
    expect(await coins(payerId)).to.deep.equal({ available: COINS_BOUGHT, held: 0n, consumed: 0n });
    expect(await payerBalance(payerId)).to.deep.equal({ available: 5_000n, frozen: 0n });
    expect(await settlement(merchantId)).to.equal(0n);
    const trial = await p.paycore.ledger.getTrialBalance({ accountingDate: chinaToday() });
    expect(trial.balanced).to.equal(true);
  });

  it('the channel declines: the coins go back to their lots and the balance is unfrozen', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = await payerWithCoins();
    const { orderId, txnId } = await startCombined(payerId, merchantId);
    await payAtSandbox(p.sandboxUrl, 'alipay', txnId, 'failed');
    const failed = await waitPayment(orderId, PaymentState.PAYMENT_STATE_FAILED);
    expect(failed.payments[0]?.failureReason).to.match(/CHANNEL_(DECLINED|CLOSED)/);
    expect(await coins(payerId)).to.deep.equal({ available: COINS_BOUGHT, held: 0n, consumed: 0n });
    expect(await payerBalance(payerId)).to.deep.equal({ available: 5_000n, frozen: 0n });
    expect(await settlement(merchantId)).to.equal(0n);
  });

  it('the order is closed while the channel waits: the coins go back and the balance is unfrozen', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = await payerWithCoins();
    const { orderId } = await startCombined(payerId, merchantId);
    const closed = await p.paycore.cashier.closePaymentOrder({
      requestId: uid('close'),
      orderId,
    });
    expect(closed.order?.state).to.equal(OrderState.ORDER_STATE_CLOSED);
    await waitPayment(orderId, PaymentState.PAYMENT_STATE_FAILED);
    expect(await coins(payerId)).to.deep.equal({ available: COINS_BOUGHT, held: 0n, consumed: 0n });
    expect(await payerBalance(payerId)).to.deep.equal({ available: 5_000n, frozen: 0n });
  });

  it('more coins than the payer holds: INSUFFICIENT_STORED_VALUE, and the balance reserved first is released', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = await payerWithCoins();
    const created = await createOrder(p, merchantId, 10_000n);
    const reason = await reasonOf(
      pay(p, created.orderId, payerId, [
        part(PartKind.PART_KIND_BALANCE, 3_000n),
        coinPart(2_000n, COINS_BOUGHT + 1n),
        part(PartKind.PART_KIND_CHANNEL, 5_000n, { payChannel: '1001' }),
      ]),
    );
    expect(reason).to.equal(CashierErrorReason.INSUFFICIENT_STORED_VALUE);
    expect((await order(created.orderId)).payments[0]?.state).to.equal(PaymentState.PAYMENT_STATE_FAILED);
    expect(await coins(payerId)).to.deep.equal({ available: COINS_BOUGHT, held: 0n, consumed: 0n });
    expect(await payerBalance(payerId)).to.deep.equal({ available: 5_000n, frozen: 0n });
  });

  it('a malformed stored-value part is INVALID_FIELD and holds nothing', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = await payerWithCoins();
    const created = await createOrder(p, merchantId, 1_000n);
    for (const bad of [
      part(PartKind.PART_KIND_STORED_VALUE, 1_000n, { asset: ASSET, quantity: 0n, consumptionType: 'X' }),
      part(PartKind.PART_KIND_STORED_VALUE, 1_000n, { asset: 'adcoin', quantity: 1n, consumptionType: 'X' }),
      part(PartKind.PART_KIND_BALANCE, 1_000n, { asset: ASSET, quantity: 1n, consumptionType: 'X' }),
    ]) {
      expect(await reasonOf(pay(p, created.orderId, payerId, [bad]))).to.equal(
        CommonErrorReason.INVALID_FIELD,
      );
    }
    expect(await coins(payerId)).to.deep.equal({ available: COINS_BOUGHT, held: 0n, consumed: 0n });
  });
});
