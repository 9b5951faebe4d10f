/**
 * End-to-end (every service a real process): the exception queue. With the
 * cashier's exception window shortened to 2 s, a channel payment whose payer
 * never pays stays PROCESSING past the window; the recovery worker lists it
 * (ListExceptions) and an operator settles it with ResolveException FAILED:
 * the payment fails, the channel payment is closed, the reserved balance is
 * released, and the decision is recorded with the operator (the token's
 * subject) and the reason. Resolving again with the same outcome returns the
 * same record; with the other outcome it is refused.
 */
import { expect } from 'chai';
import {
  ExceptionState,
  PartKind,
  PaymentState,
  Resolution,
} from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { TxnState } from '@paycore/proto/paycore/channel/v1/types';
import { payAtSandbox, startPlatform, waitFor, type Platform } from './platform';
import { createOrder, fundPayer, pay, part, reasonOf, registerMerchant, uid } from './helpers';

describe('cashier exception queue (every service a real process)', function () {
  this.timeout(180_000);
  let p: Platform;

  before(async () => {
    p = await startPlatform({ cashier: { CASHIER_EXCEPTION_WINDOW_MS: '2000' } });
  });
  after(async () => {
    await p?.close();
  });

  it('lists a payment unknown past its window and settles it as the operator decides, audited', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = uid('payer');
    await fundPayer(p, payerId, 1_000n, (txnId) => payAtSandbox(p.sandboxUrl, 'alipay', txnId));
    const created = await createOrder(p, merchantId, 1_000n, { notify: false });
    const res = await pay(p, created.orderId, payerId, [
      part(PartKind.PART_KIND_BALANCE, 400n),
      part(PartKind.PART_KIND_CHANNEL, 600n, { payChannel: '1001' }),
    ]);
    const paymentId = res.payment?.paymentId ?? '';
    const listed = await waitFor('exception listed', async () => {
      const list = await p.paycore.cashier.listExceptions({
        includeResolved: false,
        pageSize: 0,
      });
      return list.exceptions.find((e) => e.flowId === paymentId);
    });
    expect(listed.flowKind).to.equal('PAYMENT');
    expect(listed.state).to.equal(ExceptionState.EXCEPTION_STATE_OPEN);
    expect(listed.bizCode).to.match(/^10010101011001100001$/);

    expect(
      await reasonOf(
        p.paycore.cashier.resolveException({
          requestId: uid('rx'),
          exceptionId: listed.exceptionId,
          resolution: Resolution.RESOLUTION_FAILED,
          reason: '',
        }),
      ),
    ).to.equal('INVALID_FIELD');
    const resolved = await p.paycore.cashier.resolveException({
      requestId: uid('rx'),
      exceptionId: listed.exceptionId,
      resolution: Resolution.RESOLUTION_FAILED,
      reason: 'channel bill shows no trade',
    });
    expect(resolved.exception?.state).to.equal(ExceptionState.EXCEPTION_STATE_RESOLVED);
    expect(resolved.exception?.operator).to.equal('e2e');
    expect(resolved.exception?.reason).to.equal('channel bill shows no trade');

    const view = await waitFor('payment failed', async () => {
      const got = await p.paycore.cashier.getPaymentOrder({
        orderId: created.orderId,
        merchantId: '',
        merchantOrderNo: '',
      });
      return got.payments[0]?.state === PaymentState.PAYMENT_STATE_FAILED ? got : undefined;
    });
    expect(view.payments[0]?.failureReason).to.equal('RESOLVED_FAILED');
    const methods = await p.paycore.cashier.listPayMethods({
      orderId: created.orderId,
      payerId,
    });
    expect(methods.balance?.amountMinor).to.equal(1_000n);
    const txn = await p.paycore.channel.queryChannelPayment({
      txnId: res.payment?.parts[1]?.channelTxnId ?? '',
    });
    expect(txn.transaction?.state).to.equal(TxnState.TXN_STATE_CLOSED);

    const again = await p.paycore.cashier.resolveException({
      requestId: uid('rx'),
      exceptionId: listed.exceptionId,
      resolution: Resolution.RESOLUTION_FAILED,
      reason: 'again',
    });
    expect(again.exception?.reason).to.equal('channel bill shows no trade');
    expect(
      await reasonOf(
        p.paycore.cashier.resolveException({
          requestId: uid('rx'),
          exceptionId: listed.exceptionId,
          resolution: Resolution.RESOLUTION_SUCCEEDED,
          reason: 'changed my mind',
        }),
      ),
    ).to.equal('EXCEPTION_ALREADY_RESOLVED');
    const all = await p.paycore.cashier.listExceptions({
      includeResolved: true,
      pageSize: 10,
    });
    expect(all.exceptions.some((e) => e.exceptionId === listed.exceptionId)).to.equal(true);
  });
});
