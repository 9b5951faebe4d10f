/**
 * End-to-end: every service a real process (sandbox, account, ledger,
 * channel-router, cashier; see platform.ts). Proves the issue's must-show
 * items 1, 3, 4, 5 and 9:
 * 1. a channel payment through each sandbox protocol (Alipay 1001, WeChat
 *    2001): the order becomes PAID after the payer pays at the sandbox, the
 *    merchant's pending-settlement balance holds the amount, the ledger has a
 *    voucher with the payment's code, and the merchant's webhook got exactly
 *    one notification with a valid signature;
 * 3. balance + coupon + channel, then three partial refunds adding up to the
 *    total: each part (balance, coupon = marketing cost, channel) comes back
 *    exactly, the merchant ends at zero, the trial balance holds;
 * 4. the channel declines after the balance part was reserved: the payment
 *    FAILS and the payer's balance is whole and unfrozen;
 * 5. two concurrent Pay calls on one order: exactly one gets through, the
 *    payer is charged once;
 * 9. bad input gets a precise reason and changes nothing.
 */
import { expect } from 'chai';
import {
  BizMode,
  OrderState,
  PartKind,
  PaymentState,
  RefundState,
} from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { addFault, payAtSandbox, startPlatform, waitFor, type Platform } from './platform';
import { notificationSettled } from './conditions';
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

describe('cashier end to end (every service a real process)', function () {
  this.timeout(180_000);
  let p: Platform;

  before(async () => {
    p = await startPlatform();
  });
  after(async () => {
    await p?.close();
  });

  const order = async (orderId: string) =>
    p.paycore.cashier.getPaymentOrder({ orderId, merchantId: '', merchantOrderNo: '' });
  const waitOrderState = (orderId: string, state: OrderState) =>
    waitFor(`order ${orderId} ${OrderState[state]}`, async () => {
      const view = await order(orderId);
      return view.order?.state === state ? view : undefined;
    });
  const merchantBalance = async (merchantId: string) => {
    const res = await p.paycore.cashier.getMerchant({ merchantId });
    return {
      settlement: res.settlementBalance?.amountMinor ?? -1n,
      escrow: res.escrowBalance?.amountMinor ?? -1n,
    };
  };
  const payerAccount = async (payerId: string, subject = '224101') => {
    const rows = await p.query<{ account_id: string }>(
      'SELECT account_id FROM cashier.ledger_accounts WHERE account_key = $1',
      [`CUSTOMER:${payerId}:${subject}:CNY`],
    );
    const id = rows[0]?.account_id ?? '';
    const res = await p.paycore.account.getBalance({ accountId: id, asOf: undefined });
    return {
      available: res.balance?.available?.amountMinor ?? -1n,
      frozen: res.balance?.frozen?.amountMinor ?? -1n,
      total: res.balance?.total?.amountMinor ?? -1n,
    };
  };
  const sandboxPay = (channel: 'alipay' | 'wechat') => (txnId: string) =>
    payAtSandbox(p.sandboxUrl, channel, txnId);

  for (const [label, payChannel, sandboxChannel] of [
    ['Alipay', '1001', 'alipay'],
    ['WeChat Pay', '2001', 'wechat'],
  ] as const) {
    it(`1. a ${label} payment pays the order, credits the merchant, makes a voucher and notifies once`, async () => {
      const merchantId = await registerMerchant(p);
      const created = await createOrder(p, merchantId, 12_345n);
      const res = await pay(p, created.orderId, uid('payer'), [
        part(PartKind.PART_KIND_CHANNEL, 12_345n, { payChannel }),
      ]);
      expect(res.payment?.state).to.equal(PaymentState.PAYMENT_STATE_PROCESSING);
      const channelPart = res.payment?.parts[0];
      expect(channelPart?.channelTxnId).to.not.equal('');
      expect(res.payment?.payUrl).to.not.equal('');
      await payAtSandbox(p.sandboxUrl, sandboxChannel, channelPart?.channelTxnId ?? '');
      const paid = await waitOrderState(created.orderId, OrderState.ORDER_STATE_PAID);
      expect(paid.payments[0]?.state).to.equal(PaymentState.PAYMENT_STATE_SUCCEEDED);
      expect(paid.order?.bizCode).to.equal(channelPart?.bizCode);
      expect((await merchantBalance(merchantId)).settlement).to.equal(12_345n);
      const vouchers = await waitFor('voucher', async () => {
        const found = await p.paycore.ledger.listVouchers({
          accountingDate: chinaToday(),
          subjectCode: '',
          bizCode: channelPart?.bizCode ?? '',
          page: { pageSize: 100, pageToken: '' },
        });
        return found.vouchers.length > 0 ? found.vouchers : undefined;
      });
      expect(vouchers.some((v) => v.lines.some((l) => l.subjectCode === '224102'))).to.equal(true);
      await waitFor('notification', () =>
        Promise.resolve(p.notifications.some((n) => n.orderId === created.orderId) ? true : undefined),
      );
      // Delivered is final: the notifier sends it no more, so one now is one for good.
      expect((await notificationSettled(p, created.orderId)).state).to.equal('DELIVERED');
      const mine = p.notifications.filter((n) => n.orderId === created.orderId);
      expect(mine).to.have.length(1);
      expect(mine[0]?.signatureValid).to.equal(true);
    });
  }

  it('3. balance + coupon + channel, then three partial refunds: every part comes back exactly', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = uid('payer');
    await fundPayer(p, payerId, 5_000n, sandboxPay('alipay'));
    const coupon = await p.paycore.cashier.issueCoupon({
      requestId: uid('coupon'),
      payerId,
      amount: cny(300n),
      expireTime: undefined,
    });
    const created = await createOrder(p, merchantId, 10_001n);
    const res = await pay(p, created.orderId, payerId, [
      part(PartKind.PART_KIND_BALANCE, 4_000n),
      part(PartKind.PART_KIND_COUPON, 300n, { couponId: coupon.coupon?.couponId ?? '' }),
      part(PartKind.PART_KIND_CHANNEL, 5_701n, { payChannel: '2001' }),
    ]);
    expect(res.payment?.state).to.equal(PaymentState.PAYMENT_STATE_PROCESSING);
    // The balance part is reserved while the channel part waits.
    expect(await payerAccount(payerId)).to.deep.equal({ available: 1_000n, frozen: 4_000n, total: 5_000n });
    await payAtSandbox(p.sandboxUrl, 'wechat', res.payment?.parts[2]?.channelTxnId ?? '');
    await waitOrderState(created.orderId, OrderState.ORDER_STATE_PAID);
    expect(await payerAccount(payerId)).to.deep.equal({ available: 1_000n, frozen: 0n, total: 1_000n });
    expect((await merchantBalance(merchantId)).settlement).to.equal(10_001n);

    for (const [i, amount] of [3_333n, 3_333n, 3_335n].entries()) {
      const refund = await p.paycore.cashier.refund({
        requestId: uid('refund'),
        orderId: created.orderId,
        merchantRefundNo: `${created.orderId.slice(0, 8)}-r${i}`,
        amount: cny(amount),
        reason: 'partial',
      });
      const refundId = refund.refund?.refundId ?? '';
      await waitFor(`refund ${i}`, async () => {
        const got = await p.paycore.cashier.getRefund({
          refundId,
          merchantId: '',
          merchantRefundNo: '',
        });
        return got.refund?.state === RefundState.REFUND_STATE_SUCCEEDED ? true : undefined;
      });
    }
    const done = await waitOrderState(created.orderId, OrderState.ORDER_STATE_REFUNDED);
    const parts = done.payments.find((x) => x.state === PaymentState.PAYMENT_STATE_SUCCEEDED)?.parts ?? [];
    expect(parts.map((x) => [x.amount?.amountMinor, x.refunded?.amountMinor])).to.deep.equal([
      [4_000n, 4_000n],
      [300n, 300n],
      [5_701n, 5_701n],
    ]);
    const refundParts = done.refunds.map((r) => r.parts.map((x) => x.amount?.amountMinor ?? 0n));
    const perPart = [0, 1, 2].map((i) => refundParts.reduce((acc, r) => acc + (r[i] ?? 0n), 0n));
    expect(perPart).to.deep.equal([4_000n, 300n, 5_701n]);
    expect(await payerAccount(payerId)).to.deep.equal({ available: 5_000n, frozen: 0n, total: 5_000n });
    expect((await merchantBalance(merchantId)).settlement).to.equal(0n);
    const trial = await p.paycore.ledger.getTrialBalance({ accountingDate: chinaToday() });
    expect(trial.balanced).to.equal(true);
  });

  it('4. the channel declines after the balance part was reserved: everything is released', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = uid('payer');
    await fundPayer(p, payerId, 2_000n, sandboxPay('alipay'));
    const created = await createOrder(p, merchantId, 3_000n);
    const res = await pay(p, created.orderId, payerId, [
      part(PartKind.PART_KIND_BALANCE, 1_500n),
      part(PartKind.PART_KIND_CHANNEL, 1_500n, { payChannel: '1001' }),
    ]);
    expect(await payerAccount(payerId)).to.deep.equal({ available: 500n, frozen: 1_500n, total: 2_000n });
    await payAtSandbox(p.sandboxUrl, 'alipay', res.payment?.parts[1]?.channelTxnId ?? '', 'failed');
    const failed = await waitFor('payment FAILED', async () => {
      const view = await order(created.orderId);
      return view.payments[0]?.state === PaymentState.PAYMENT_STATE_FAILED ? view : undefined;
    });
    expect(failed.order?.state).to.equal(OrderState.ORDER_STATE_WAIT_PAY);
    expect(failed.payments[0]?.failureReason).to.match(/CHANNEL_(DECLINED|CLOSED)/);
    expect(await payerAccount(payerId)).to.deep.equal({ available: 2_000n, frozen: 0n, total: 2_000n });
    expect(await merchantBalance(merchantId)).to.deep.equal({ settlement: 0n, escrow: 0n });
  });

  it('4b. a channel that refuses at creation releases the reservation in the same call', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = uid('payer');
    await fundPayer(p, payerId, 1_000n, sandboxPay('alipay'));
    await addFault(p.sandboxUrl, { kind: 'decline', channel: 'wechat', operation: 'create', times: 1 });
    const created = await createOrder(p, merchantId, 1_000n);
    const res = await pay(p, created.orderId, payerId, [
      part(PartKind.PART_KIND_BALANCE, 400n),
      part(PartKind.PART_KIND_CHANNEL, 600n, { payChannel: '2001' }),
    ]);
    expect(res.payment?.state).to.equal(PaymentState.PAYMENT_STATE_FAILED);
    expect(res.payment?.failureReason).to.equal('CHANNEL_DECLINED');
    expect(await payerAccount(payerId)).to.deep.equal({ available: 1_000n, frozen: 0n, total: 1_000n });
  });

  it('5. two concurrent Pay calls on one order: at most one succeeds, no double charge', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = uid('payer');
    await fundPayer(p, payerId, 10_000n, sandboxPay('alipay'));
    const created = await createOrder(p, merchantId, 2_500n);
    const attempts = await Promise.allSettled([
      pay(p, created.orderId, payerId, [part(PartKind.PART_KIND_BALANCE, 2_500n)]),
      pay(p, created.orderId, payerId, [part(PartKind.PART_KIND_BALANCE, 2_500n)]),
      pay(p, created.orderId, payerId, [part(PartKind.PART_KIND_BALANCE, 2_500n)]),
    ]);
    const succeeded = attempts.filter(
      (a) => a.status === 'fulfilled' && a.value.payment?.state === PaymentState.PAYMENT_STATE_SUCCEEDED,
    );
    expect(succeeded).to.have.length(1);
    for (const a of attempts) {
      if (a.status === 'rejected')
        expect(await reasonOf(Promise.reject(a.reason as Error))).to.be.oneOf([
          'PAYMENT_IN_FLIGHT',
          'ORDER_NOT_PAYABLE',
        ]);
    }
    const view = await order(created.orderId);
    expect(view.order?.state).to.equal(OrderState.ORDER_STATE_PAID);
    expect(view.payments.filter((x) => x.state === PaymentState.PAYMENT_STATE_SUCCEEDED)).to.have.length(1);
    expect(await payerAccount(payerId)).to.deep.equal({ available: 7_500n, frozen: 0n, total: 7_500n });
    expect((await merchantBalance(merchantId)).settlement).to.equal(2_500n);
    // A later Pay on the paid order is refused with its state.
    expect(
      await reasonOf(pay(p, created.orderId, payerId, [part(PartKind.PART_KIND_BALANCE, 2_500n)])),
    ).to.equal('ORDER_NOT_PAYABLE');
  });

  it('5b. a new Pay closes the in-flight channel payment first, then pays', async () => {
    const merchantId = await registerMerchant(p);
    const created = await createOrder(p, merchantId, 800n);
    const payerId = uid('payer');
    const first = await pay(p, created.orderId, payerId, [
      part(PartKind.PART_KIND_CHANNEL, 800n, { payChannel: '1001' }),
    ]);
    const second = await pay(p, created.orderId, payerId, [
      part(PartKind.PART_KIND_CHANNEL, 800n, { payChannel: '2001' }),
    ]);
    expect(second.payment?.state).to.equal(PaymentState.PAYMENT_STATE_PROCESSING);
    const view = await order(created.orderId);
    const firstNow = view.payments.find((x) => x.paymentId === first.payment?.paymentId);
    expect(firstNow?.state).to.equal(PaymentState.PAYMENT_STATE_FAILED);
    expect(firstNow?.failureReason).to.equal('SUPERSEDED');
    // The closed payment cannot be paid at the channel any more.
    expect(
      await payAtSandbox(p.sandboxUrl, 'alipay', first.payment?.parts[0]?.channelTxnId ?? '').then(
        () => 'paid',
        () => 'refused',
      ),
    ).to.equal('refused');
    await payAtSandbox(p.sandboxUrl, 'wechat', second.payment?.parts[0]?.channelTxnId ?? '');
    await waitOrderState(created.orderId, OrderState.ORDER_STATE_PAID);
    expect((await merchantBalance(merchantId)).settlement).to.equal(800n);
  });

  it('9. bad input gets a precise reason and changes nothing', async () => {
    const merchantId = await registerMerchant(p, { perTransactionMaxMinor: 50_000n });
    const base = {
      requestId: uid('ord'),
      merchantId,
      merchantOrderNo: uid('no'),
      amount: cny(100n),
      product: '100101',
      bizMode: BizMode.BIZ_MODE_INSTANT,
      subject: 'bad input',
      expireTime: undefined as Date | undefined,
      notifyUrl: '',
    };
    const create = (over: Partial<typeof base>) => p.paycore.cashier.createPaymentOrder({ ...base, ...over });
    const ordersBefore = (await p.query<{ n: string }>('SELECT count(*)::text AS n FROM cashier.orders'))[0]
      ?.n;
    expect(await reasonOf(create({ merchantId: 'no-such-merchant' }))).to.equal('MERCHANT_NOT_FOUND');
    expect(await reasonOf(create({ amount: cny(0n) }))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(await reasonOf(create({ amount: cny(-5n) }))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(await reasonOf(create({ amount: cny(50_001n) }))).to.equal('RISK_LIMIT_EXCEEDED');
    expect(await reasonOf(create({ product: '999999' }))).to.equal('UNKNOWN_BIZ_CODE');
    expect(await reasonOf(create({ expireTime: new Date(Date.now() - 1000) }))).to.equal('INVALID_FIELD');
    expect((await p.query<{ n: string }>('SELECT count(*)::text AS n FROM cashier.orders'))[0]?.n).to.equal(
      ordersBefore,
    );

    const payerId = uid('payer');
    const created = await createOrder(p, merchantId, 1_000n, { notify: false });
    expect(
      await reasonOf(
        pay(p, created.orderId, payerId, [part(PartKind.PART_KIND_CHANNEL, 1_000n, { payChannel: '9999' })]),
      ),
    ).to.equal('UNKNOWN_PAY_CHANNEL');
    expect(
      await reasonOf(
        pay(p, created.orderId, payerId, [part(PartKind.PART_KIND_CHANNEL, 999n, { payChannel: '1001' })]),
      ),
    ).to.equal('PARTS_DO_NOT_SUM');
    expect(
      await reasonOf(pay(p, created.orderId, payerId, [part(PartKind.PART_KIND_BALANCE, 1_000n)])),
    ).to.equal('INSUFFICIENT_BALANCE');
    expect(
      await reasonOf(
        pay(p, '00000000-0000-4000-8000-000000000000', payerId, [part(PartKind.PART_KIND_BALANCE, 1n)]),
      ),
    ).to.equal('ORDER_NOT_FOUND');
    // The try refuses insufficient funds itself (no balance read first): the attempt is recorded FAILED.
    const attempts = (await order(created.orderId)).payments;
    expect(attempts.map((a) => [a.state, a.failureReason])).to.deep.equal([
      [PaymentState.PAYMENT_STATE_FAILED, 'INSUFFICIENT_BALANCE'],
    ]);

    const expiring = await createOrder(p, merchantId, 1_000n, {
      expireTime: new Date(Date.now() + 1_500),
      notify: false,
    });
    await new Promise((r) => setTimeout(r, 1_700));
    expect(
      await reasonOf(
        pay(p, expiring.orderId, payerId, [part(PartKind.PART_KIND_CHANNEL, 1_000n, { payChannel: '1001' })]),
      ),
    ).to.be.oneOf(['ORDER_EXPIRED', 'ORDER_NOT_PAYABLE']);
    await waitOrderState(expiring.orderId, OrderState.ORDER_STATE_CLOSED);

    // Refund above the paid amount.
    await fundPayer(p, payerId, 1_000n, sandboxPay('alipay'));
    const paidOrder = await createOrder(p, merchantId, 600n, { notify: false });
    await pay(p, paidOrder.orderId, payerId, [part(PartKind.PART_KIND_BALANCE, 600n)]);
    const refund = (amount: bigint) =>
      p.paycore.cashier.refund({
        requestId: uid('rf'),
        orderId: paidOrder.orderId,
        merchantRefundNo: uid('rn'),
        amount: cny(amount),
        reason: '',
      });
    expect(await reasonOf(refund(601n))).to.equal('REFUND_EXCEEDS_PAID');
    expect(await reasonOf(refund(0n))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(await reasonOf(refund(100n))).to.equal('SUCCEEDED');
    expect(await reasonOf(refund(501n))).to.equal('REFUND_EXCEEDS_PAID');
    // The merchant's daily limit counts payments started today; a refused Pay changes nothing.
    const limited = await registerMerchant(p, { merchantDailyMaxMinor: 500n });
    const first = await createOrder(p, limited, 300n, { notify: false });
    await fundPayer(p, payerId, 1_000n, sandboxPay('alipay'));
    expect(
      (await pay(p, first.orderId, payerId, [part(PartKind.PART_KIND_BALANCE, 300n)])).payment?.state,
    ).to.equal(PaymentState.PAYMENT_STATE_SUCCEEDED);
    const second = await createOrder(p, limited, 201n, { notify: false });
    expect(
      await reasonOf(pay(p, second.orderId, payerId, [part(PartKind.PART_KIND_BALANCE, 201n)])),
    ).to.equal('RISK_LIMIT_EXCEEDED');
    expect((await order(second.orderId)).payments).to.have.length(0);

    const after = await order(paidOrder.orderId);
    expect(after.refunds).to.have.length(1);
    expect(after.order?.refunded?.amountMinor).to.equal(100n);
  });
});
