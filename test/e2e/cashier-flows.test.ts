/**
 * End-to-end, every service a real process (platform.ts). Proves the issue's
 * must-show items 2 and 6 and the flows around them:
 * 2. the channel's notification is dropped (sandbox fault notify_drop): the
 *    sandbox sends nothing, yet the order becomes PAID through channel-router's
 *    status sync and its channel.txn_updated event;
 * 6. escrow: the funds sit in the merchant's escrow account (224104) until
 *    ConfirmReceipt moves them to pending settlement (224102); a refund before
 *    the confirmation comes out of escrow;
 * - merchant notification retries: the webhook fails twice, the third
 *   attempt (on the time-scaled 5 s, 2 m schedule) is acknowledged and
 *   nothing is sent after that;
 * - a withdrawal holds the amount, pays out through the bank sandbox and
 *   posts, leaving the payer's balance reduced by exactly the amount;
 * - ClosePaymentOrder closes the in-flight channel payment and releases the
 *   reserved balance.
 */
import { expect } from 'chai';
import {
  BizMode,
  OrderState,
  PartKind,
  PaymentState,
  RefundState,
  WithdrawalState,
} from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { TxnUpdated } from '@paycore/proto/paycore/channel/v1/events';
import { TxnState } from '@paycore/proto/paycore/channel/v1/types';
import { addFault, payAtSandbox, startPlatform, waitFor, type Platform } from './platform';
import { notificationSettled } from './conditions';
import { cny, createOrder, fundPayer, pay, part, registerMerchant, uid } from './helpers';

describe('cashier flows end to end (every service a real process)', function () {
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
  const sandboxPay = (txnId: string) => payAtSandbox(p.sandboxUrl, 'alipay', txnId);

  it('2. a dropped channel notification: the order still becomes paid through status sync', async () => {
    const merchantId = await registerMerchant(p);
    const created = await createOrder(p, merchantId, 4_200n, { notify: false });
    const res = await pay(p, created.orderId, uid('payer'), [
      part(PartKind.PART_KIND_CHANNEL, 4_200n, { payChannel: '1001' }),
    ]);
    const txnId = res.payment?.parts[0]?.channelTxnId ?? '';
    await addFault(p.sandboxUrl, { kind: 'notify_drop', out_trade_no: txnId });
    await payAtSandbox(p.sandboxUrl, 'alipay', txnId);
    await waitOrderState(created.orderId, OrderState.ORDER_STATE_PAID);
    const log = (await (
      await fetch(`${p.sandboxUrl}/sandbox/notifications?out_trade_no=${txnId}`)
    ).json()) as {
      attempts: { outcome: string }[];
    };
    expect(log.attempts.map((a) => a.outcome)).to.deep.equal(['DROPPED']);
    // channel-router learned the SUCCESS from its status sync, not from a callback.
    const rows = await p.query<{ payload: Buffer }>('SELECT payload FROM channel.outbox ORDER BY id');
    const success = rows
      .map((row) => TxnUpdated.decode(row.payload))
      .find((e) => e.transaction?.txnId === txnId && e.transaction.state === TxnState.TXN_STATE_SUCCESS);
    expect(success?.source).to.equal('status_sync');
    expect((await merchantBalance(merchantId)).settlement).to.equal(4_200n);
  });

  it('6. escrow: funds sit in escrow until ConfirmReceipt; a refund before it comes out of escrow', async () => {
    const merchantId = await registerMerchant(p);
    const created = await createOrder(p, merchantId, 9_000n, {
      mode: BizMode.BIZ_MODE_ESCROW,
      notify: false,
    });
    const res = await pay(p, created.orderId, uid('payer'), [
      part(PartKind.PART_KIND_CHANNEL, 9_000n, { payChannel: '2001' }),
    ]);
    await payAtSandbox(p.sandboxUrl, 'wechat', res.payment?.parts[0]?.channelTxnId ?? '');
    await waitOrderState(created.orderId, OrderState.ORDER_STATE_PAID);
    expect(await merchantBalance(merchantId)).to.deep.equal({ settlement: 0n, escrow: 9_000n });

    const refund = await p.paycore.cashier.refund({
      requestId: uid('rf'),
      orderId: created.orderId,
      merchantRefundNo: uid('rn'),
      amount: cny(1_000n),
      reason: 'one item returned',
    });
    await waitFor('escrow refund', async () => {
      const got = await p.paycore.cashier.getRefund({
        refundId: refund.refund?.refundId ?? '',
        merchantId: '',
        merchantRefundNo: '',
      });
      return got.refund?.state === RefundState.REFUND_STATE_SUCCEEDED ? true : undefined;
    });
    expect(await merchantBalance(merchantId)).to.deep.equal({ settlement: 0n, escrow: 8_000n });

    const confirmed = await p.paycore.cashier.confirmReceipt({
      requestId: uid('cr'),
      orderId: created.orderId,
    });
    expect(confirmed.order?.receiptConfirmed).to.equal(true);
    expect(await merchantBalance(merchantId)).to.deep.equal({ settlement: 8_000n, escrow: 0n });
    // Confirming again changes nothing.
    await p.paycore.cashier.confirmReceipt({ requestId: uid('cr'), orderId: created.orderId });
    expect(await merchantBalance(merchantId)).to.deep.equal({ settlement: 8_000n, escrow: 0n });
  });

  it('retries a merchant notification on the (time-scaled) schedule until it answers success', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = uid('payer');
    await fundPayer(p, payerId, 1_000n, sandboxPay);
    p.failNextNotifications(2);
    const created = await createOrder(p, merchantId, 700n);
    await pay(p, created.orderId, payerId, [part(PartKind.PART_KIND_BALANCE, 700n)]);
    await waitFor('three attempts', () =>
      Promise.resolve(
        p.notifications.filter((n) => n.orderId === created.orderId).length >= 3 ? true : undefined,
      ),
    );
    // Delivered is final: the notifier sends it no more, so the count below is the count for good.
    await notificationSettled(p, created.orderId);
    const mine = p.notifications.filter((n) => n.orderId === created.orderId);
    expect(mine).to.have.length(3);
    expect(mine.every((n) => n.signatureValid)).to.equal(true);
    expect(new Set(mine.map((n) => n.body)).size).to.equal(1);
    const rows = await p.query<{ state: string; attempts: number }>(
      'SELECT state, attempts FROM cashier.notifications WHERE order_id = $1',
      [created.orderId],
    );
    expect(rows).to.deep.equal([{ state: 'DELIVERED', attempts: 3 }]);
  });

  it('a withdrawal holds, pays out through the bank and posts', async () => {
    const payerId = uid('payer');
    await fundPayer(p, payerId, 5_000n, sandboxPay);
    const res = await p.paycore.cashier.withdraw({
      requestId: uid('wd'),
      payerId,
      amount: cny(2_000n),
      accountNo: '6222020202020202',
      accountName: 'Test Payer',
      bankCode: 'ICBC',
    });
    const withdrawalId = res.withdrawal?.withdrawalId ?? '';
    const done = await waitFor('withdrawal final', async () => {
      const got = await p.paycore.cashier.getWithdrawal({ withdrawalId });
      const state = got.withdrawal?.state;
      return state === WithdrawalState.WITHDRAWAL_STATE_SUCCEEDED ||
        state === WithdrawalState.WITHDRAWAL_STATE_FAILED
        ? got.withdrawal
        : undefined;
    });
    expect(done.state).to.equal(WithdrawalState.WITHDRAWAL_STATE_SUCCEEDED);
    const methods = await p.paycore.cashier.listPayMethods({
      orderId: (await createOrder(p, await registerMerchant(p), 1n, { notify: false })).orderId,
      payerId,
    });
    expect(methods.balance?.amountMinor).to.equal(3_000n);
    expect(methods.payChannels.map((c) => c.payChannel)).to.include('1001');
  });

  it('ClosePaymentOrder closes the in-flight channel payment and releases the reservation', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = uid('payer');
    await fundPayer(p, payerId, 1_000n, sandboxPay);
    const created = await createOrder(p, merchantId, 1_500n, { notify: false });
    const res = await pay(p, created.orderId, payerId, [
      part(PartKind.PART_KIND_BALANCE, 1_000n),
      part(PartKind.PART_KIND_CHANNEL, 500n, { payChannel: '1001' }),
    ]);
    expect(res.payment?.state).to.equal(PaymentState.PAYMENT_STATE_PROCESSING);
    const closed = await p.paycore.cashier.closePaymentOrder({
      requestId: uid('close'),
      orderId: created.orderId,
    });
    expect(closed.order?.state).to.equal(OrderState.ORDER_STATE_CLOSED);
    const view = await order(created.orderId);
    expect(view.payments[0]?.state).to.equal(PaymentState.PAYMENT_STATE_FAILED);
    const methods = await p.paycore.cashier.listPayMethods({
      orderId: created.orderId,
      payerId,
    });
    expect(methods.balance?.amountMinor).to.equal(1_000n);
  });
});
