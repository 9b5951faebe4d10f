/**
 * End-to-end must-show item 7: the cashier process is killed with SIGKILL in
 * the middle of a payment and restarted; the order converges to one
 * consistent final state.
 *
 * How: the sandbox holds its answer to the WeChat create for 4 s (fault
 * `slow`), so the Pay call is inside the channel step — the balance part
 * reserved in account, the payment recorded PROCESSING, no channel
 * transaction id recorded yet — when the cashier gets SIGKILL. After the
 * restart the recovery worker replays the create (idempotent at
 * channel-router), finds that no caller holds the pay URL and closes it, so
 * the payment fails and the reservation is released. Either final state
 * would be consistent; the test checks the one it reaches against the
 * balances: FAILED means the payer is whole and nothing frozen, and the
 * merchant got nothing; SUCCEEDED would mean the merchant got exactly the
 * amount. A second Pay on the same order then succeeds normally.
 */
import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { OrderState, PartKind, PaymentState } from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { addFault, payAtSandbox, startPlatform, waitFor, type Platform } from './platform';
import { createOrder, fundPayer, pay, part, registerMerchant, uid } from './helpers';

describe('cashier killed mid-payment (every service a real process)', function () {
  this.timeout(180_000);
  let p: Platform;

  before(async () => {
    p = await startPlatform();
  });
  after(async () => {
    await p?.close();
  });

  it('7. converges to one consistent final state after SIGKILL and restart', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = uid('payer');
    await fundPayer(p, payerId, 3_000n, (txnId) => payAtSandbox(p.sandboxUrl, 'alipay', txnId));
    const created = await createOrder(p, merchantId, 2_000n, { notify: false });
    await addFault(p.sandboxUrl, {
      kind: 'slow',
      channel: 'wechat',
      operation: 'create',
      ms: 4_000,
      times: 1,
    });
    const inFlight = pay(p, created.orderId, payerId, [
      part(PartKind.PART_KIND_BALANCE, 1_200n),
      part(PartKind.PART_KIND_CHANNEL, 800n, { payChannel: '2001' }),
    ]).then(
      () => 'answered',
      () => 'failed',
    );
    const state = await waitFor('payment PROCESSING', async () => {
      const rows = await p.query<{ state: string }>(
        'SELECT state FROM cashier.payments WHERE order_id = $1',
        [created.orderId],
      );
      return rows[0]?.state === 'PROCESSING' ? rows[0].state : undefined;
    });
    expect(state).to.equal('PROCESSING');
    p.process('cashier').kill('SIGKILL');
    expect(await inFlight).to.equal('failed');
    await p.process('cashier').exited;
    await p.restart('cashier');

    const view = await waitFor(
      'payment final after restart',
      async () => {
        // The client's channel may still be backing off from the killed process: keep asking.
        const got = await p.paycore.cashier
          .getPaymentOrder({ orderId: created.orderId, merchantId: '', merchantOrderNo: '' })
          .catch((err: unknown) => {
            if ((err as { code?: unknown }).code === status.UNAVAILABLE) return undefined;
            throw err;
          });
        if (got === undefined) return undefined;
        const s = got.payments[0]?.state;
        return s === PaymentState.PAYMENT_STATE_FAILED || s === PaymentState.PAYMENT_STATE_SUCCEEDED
          ? got
          : undefined;
      },
      30_000,
    );
    const payment = view.payments[0];
    const methods = await p.paycore.cashier.listPayMethods({
      orderId: created.orderId,
      payerId,
    });
    const merchant = await p.paycore.cashier.getMerchant({ merchantId });
    if (payment?.state === PaymentState.PAYMENT_STATE_FAILED) {
      expect(view.order?.state).to.equal(OrderState.ORDER_STATE_WAIT_PAY);
      expect(methods.balance?.amountMinor).to.equal(3_000n);
      expect(merchant.settlementBalance?.amountMinor).to.equal(0n);
      const txnId = payment.parts[1]?.channelTxnId ?? '';
      expect(txnId).to.not.equal('');
      const txn = await p.paycore.channel.queryChannelPayment({ txnId });
      expect(txn.transaction?.state).to.not.equal(2 /* SUCCESS */);
    } else {
      expect(view.order?.state).to.equal(OrderState.ORDER_STATE_PAID);
      expect(methods.balance?.amountMinor).to.equal(1_800n);
      expect(merchant.settlementBalance?.amountMinor).to.equal(2_000n);
    }
    const frozen = await p.query<{ frozen: string }>(
      `SELECT a.frozen::text FROM account.accounts a JOIN cashier.ledger_accounts l ON l.account_id = a.id::text
        WHERE l.account_key = $1`,
      [`CUSTOMER:${payerId}:224101:CNY`],
    );
    expect(frozen[0]?.frozen).to.equal('0');

    // The order (if still unpaid) can be paid again normally.
    if (view.order?.state === OrderState.ORDER_STATE_WAIT_PAY) {
      const again = await pay(p, created.orderId, payerId, [part(PartKind.PART_KIND_BALANCE, 2_000n)]);
      expect(again.payment?.state).to.equal(PaymentState.PAYMENT_STATE_SUCCEEDED);
    }
  });
});
