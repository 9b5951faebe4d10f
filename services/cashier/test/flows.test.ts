/**
 * The cashier's flows in-process against a real Postgres (harness.ts: the
 * real store, migrations, use cases and drivers; account and channel-router
 * as contract-keeping fakes). Proves, in product terms:
 * - a balance Pay completes with the statements and commits it costs printed;
 * - a confirm refused after a successful try never strands the payment
 *   (posted directly, or an OPEN exception); ResolveException works from
 *   CONFIRMING; a flow gets a new exception after an earlier one was resolved;
 * - FAILED is refused while the channel says paid; a channel success for a
 *   CANCELLING or FAILED payment opens an OPEN exception;
 * - a withdrawal whose payout succeeds after its hold expired debits the
 *   payer once (the released money cannot be spent again), or, when the payer
 *   spent it meanwhile, waits in an OPEN exception;
 * - a replayed try after the clock moved is answered as a replay;
 * - escrow ends at 0 when a refund lands between ConfirmReceipt and release;
 * - a definite refusal of channel-router reaches Pay as FAILED_PRECONDITION;
 * - notify_url on private ranges is refused;
 * - request ids: Refund reuse with another payload, CreatePaymentOrder replay,
 *   malformed ClosePaymentOrder ids;
 * - concurrent Pay on one order, coupon reserve/use/release, risk counters
 *   given back on failure; an invariant over the cashier's tables after each.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { merchantEscrow, merchantSettlement, payerBalance } from '../src/domain/accounts';
import { ChannelEvents } from '../src/application/workers';
import { TxnKind, TxnState } from '@paycore/proto/paycore/channel/v1/types';
import { registerUnlimitedMerchant, startHarness, StatementCounter, type Harness } from './harness';

const uid = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;
const CODE = '10010101010000000000';

async function failure(promise: Promise<unknown>): Promise<{ reason: string; grpcCode: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { reason?: string; grpcCode?: string };
    return { reason: e.reason ?? String(err), grpcCode: e.grpcCode ?? '' };
  }
  throw new Error('expected a refusal');
}

/** Money and state invariants over the cashier's tables; returns the violations. */
export async function cashierInvariants(h: Harness): Promise<string[]> {
  const checks: [string, string][] = [
    [
      'a paid order has exactly its one succeeded payment',
      `SELECT o.order_id FROM cashier.orders o WHERE o.state IN ('PAID','REFUNDED') AND NOT EXISTS (SELECT 1 FROM cashier.payments p WHERE p.payment_id = o.paid_payment_id AND p.state = 'SUCCEEDED')`,
    ],
    [
      'a succeeded payment has all parts confirmed',
      `SELECT p.payment_id FROM cashier.payments p JOIN cashier.payment_parts pp USING (payment_id) WHERE p.state = 'SUCCEEDED' AND pp.state <> 'CONFIRMED'`,
    ],
    [
      'a failed payment has no confirmed or held part',
      `SELECT p.payment_id FROM cashier.payments p JOIN cashier.payment_parts pp USING (payment_id) WHERE p.state = 'FAILED' AND pp.state NOT IN ('CANCELLED', 'PLANNED')`,
    ],
    [
      'a reserved coupon belongs to a payment in flight',
      `SELECT c.coupon_id FROM cashier.coupons c LEFT JOIN cashier.payments p USING (payment_id) WHERE c.state = 'RESERVED' AND (p.state IS NULL OR p.state IN ('SUCCEEDED','FAILED'))`,
    ],
    [
      'refunded never exceeds paid',
      `SELECT order_id FROM cashier.orders WHERE refunded_minor > amount_minor`,
    ],
    [
      'at most one open exception per flow',
      `SELECT flow_id FROM cashier.exceptions WHERE state = 'OPEN' GROUP BY flow_kind, flow_id HAVING count(*) > 1`,
    ],
  ];
  const found: string[] = [];
  for (const [name, sql] of checks) {
    const rows = await h.sql(sql);
    if (rows.length > 0) found.push(`${name}: ${JSON.stringify(rows)}`);
  }
  return found;
}

describe('cashier flows against real Postgres (fake account and channel-router)', function () {
  this.timeout(120_000);
  let h: Harness;
  let merchantId: string;

  before(async () => {
    h = await startHarness();
    merchantId = await registerUnlimitedMerchant(h);
  });
  afterEach(async () => expect(await cashierInvariants(h)).to.deep.equal([]));
  after(async () => h?.close());

  const fund = async (payerId: string, amountMinor: bigint) => {
    const id = await h.accounts.resolve(payerBalance(payerId), CODE);
    h.account.balances.set(id, (h.account.balances.get(id) ?? 0n) + amountMinor);
    return id;
  };
  const order = (
    amountMinor: bigint,
    extra: { bizMode?: 'INSTANT' | 'ESCROW'; notifyUrl?: string; requestId?: string; no?: string } = {},
  ) =>
    h.cashier.createOrder({
      requestId: extra.requestId ?? uid('co'),
      merchantId,
      merchantOrderNo: extra.no ?? uid('no'),
      amountMinor,
      currency: 'CNY',
      product: '100101',
      bizMode: extra.bizMode ?? 'INSTANT',
      subject: 'thing',
      expireAt: undefined,
      notifyUrl: extra.notifyUrl ?? '',
    });
  const balancePay = (orderId: string, payerId: string, amountMinor: bigint, requestId = uid('pay')) =>
    h.cashier.pay({ requestId, orderId, payerId, parts: [{ kind: 'BALANCE', amountMinor }] });

  it('a balance Pay succeeds and costs few statements and commits (figures printed)', async () => {
    const payerId = uid('p');
    await fund(payerId, 1_000n);
    const o = await order(300n);
    await h.accounts.resolve(merchantSettlement(merchantId), CODE);
    const counter = new StatementCounter();
    counter.install();
    try {
      const res = await balancePay(o.orderId, payerId, 300n);
      expect(res.payment.state).to.equal('SUCCEEDED');
      expect(res.order.state).to.equal('PAID');
    } finally {
      counter.uninstall();
    }
    console.log(
      `      cashier per balance Pay: ${counter.statements} statements, ${counter.commits} commits`,
    );
    // The counter counts (a Pay cannot take no statement); a balance-only Pay commits twice: its start,
    // and CONFIRMING with SUCCEEDED after the try and the confirm (no transaction between them).
    expect(counter.statements).to.be.greaterThan(0);
    expect(counter.commits).to.be.at.most(2);
  });

  it('a confirm refused because the try expired is posted directly; a frozen merchant opens an exception, resolvable from CONFIRMING, and again after a resolution', async () => {
    const payerId = uid('p');
    await fund(payerId, 1_000n);
    const o = await order(1_000n);
    const res = await h.cashier.pay({
      requestId: uid('pay'),
      orderId: o.orderId,
      payerId,
      parts: [
        { kind: 'BALANCE', amountMinor: 400n },
        { kind: 'CHANNEL', amountMinor: 600n, payChannel: '1001' },
      ],
    });
    expect(res.payment.state).to.equal('PROCESSING');
    h.clock.nowMs += 3_600_000; // the channel was slow: the hold expired
    const settlement = await h.accounts.resolve(merchantSettlement(merchantId), CODE);
    const settledBefore = h.account.balances.get(settlement) ?? 0n;
    h.account.frozen.add(settlement);
    h.channel.state = 'SUCCESS';
    await h.drivers.drivePayment(res.payment.paymentId, { poll: true });
    h.channel.state = 'PROCESSING';
    let p = await h.store.payment(res.payment.paymentId);
    expect(p?.state).to.equal('CONFIRMING');
    const open = (await h.store.exceptions(false, 100)).filter((e) => e.flowId === res.payment.paymentId);
    expect(open).to.have.length(1);
    expect((await h.store.idleFlows(0, new Date(), 50)).paymentIds).to.not.include(res.payment.paymentId);
    // Resolved SUCCEEDED while still frozen: refused again, a NEW exception (never retried in silence).
    await h.cashier.exceptionDesk.resolve({
      requestId: uid('rx'),
      exceptionId: open[0]!.exceptionId,
      resolution: 'SUCCEEDED',
      reason: 'retry',
      operator: 'ops',
    });
    await h.drivers.drivePayment(res.payment.paymentId);
    const all = (await h.store.exceptions(true, 100)).filter((e) => e.flowId === res.payment.paymentId);
    expect(all.map((e) => e.state).sort()).to.deep.equal(['OPEN', 'RESOLVED']);
    // Unfrozen and resolved: the payment completes, the expired hold is posted directly.
    h.account.frozen.delete(settlement);
    const second = all.find((e) => e.state === 'OPEN')!;
    await h.cashier.exceptionDesk.resolve({
      requestId: uid('rx'),
      exceptionId: second.exceptionId,
      resolution: 'SUCCEEDED',
      reason: 'unfrozen',
      operator: 'ops',
    });
    await h.drivers.drivePayment(res.payment.paymentId);
    p = await h.store.payment(res.payment.paymentId);
    expect(p?.state).to.equal('SUCCEEDED');
    expect(h.account.balances.get(settlement)).to.equal(settledBefore + 1_000n);
    expect(h.account.available(await fund(payerId, 0n))).to.equal(600n);
  });

  it('FAILED is refused while the channel says paid; a channel success for a failed payment opens an exception', async () => {
    const payerId = uid('p');
    const o = await order(500n);
    const res = await h.cashier.pay({
      requestId: uid('pay'),
      orderId: o.orderId,
      payerId,
      parts: [{ kind: 'CHANNEL', amountMinor: 500n, payChannel: '1001' }],
    });
    await h.drivers.payments.openException(res.payment, 'test: unknown at the channel');
    const [e] = (await h.store.exceptions(false, 100)).filter((x) => x.flowId === res.payment.paymentId);
    h.channel.state = 'SUCCESS';
    expect(
      (
        await failure(
          h.cashier.exceptionDesk.resolve({
            requestId: uid('rx'),
            exceptionId: e!.exceptionId,
            resolution: 'FAILED',
            reason: 'x',
            operator: 'ops',
          }),
        )
      ).reason,
    ).to.equal('CHANNEL_ALREADY_PAID');
    h.channel.state = 'PROCESSING';
    await h.cashier.exceptionDesk.resolve({
      requestId: uid('rx'),
      exceptionId: e!.exceptionId,
      resolution: 'FAILED',
      reason: 'no trade',
      operator: 'ops',
    });
    await h.drivers.drivePayment(res.payment.paymentId);
    expect((await h.store.payment(res.payment.paymentId))?.state).to.equal('FAILED');
    const txnId = (await h.store.payment(res.payment.paymentId))!.parts[0]!.channelTxnId!;
    const events = new ChannelEvents(h.store, h.drivers, (await import('pino')).default({ level: 'silent' }));
    await events.handle({
      txnId,
      kind: TxnKind.TXN_KIND_PAYMENT,
      state: TxnState.TXN_STATE_SUCCESS,
      bizCode: CODE,
      failureCode: '',
      failureMessage: '',
    } as never);
    const late = (await h.store.exceptions(false, 100)).filter((x) => x.flowId === res.payment.paymentId);
    expect(late).to.have.length(1);
  });

  it('a channel success for a CANCELLING payment opens an OPEN exception; the payment is not completed', async () => {
    const payerId = uid('p');
    const o = await order(450n);
    const res = await h.cashier.pay({
      requestId: uid('pay'),
      orderId: o.orderId,
      payerId,
      parts: [{ kind: 'CHANNEL', amountMinor: 450n, payChannel: '1001' }],
    });
    // The payment is being given up (a close took, say) when the channel's success arrives.
    await h.sql("UPDATE cashier.payments SET state = 'CANCELLING' WHERE payment_id = $1", [
      res.payment.paymentId,
    ]);
    const txnId = res.payment.parts[0]!.channelTxnId!;
    const events = new ChannelEvents(h.store, h.drivers, (await import('pino')).default({ level: 'silent' }));
    await events.handle({
      txnId,
      kind: TxnKind.TXN_KIND_PAYMENT,
      state: TxnState.TXN_STATE_SUCCESS,
      bizCode: CODE,
      failureCode: '',
      failureMessage: '',
    } as never);
    const open = (await h.store.exceptions(false, 100)).filter((x) => x.flowId === res.payment.paymentId);
    expect(open.map((e) => [e.flowKind, e.state])).to.deep.equal([['PAYMENT', 'OPEN']]);
    expect(open[0]?.detail).to.match(/SUCCESS .* while the payment is CANCELLING/);
    await h.drivers.drivePayment(res.payment.paymentId);
    expect((await h.store.payment(res.payment.paymentId))?.state).to.equal('FAILED');
    expect((await h.store.order(o.orderId))?.state).to.equal('WAIT_PAY');
    // The exception stays open for a person after the payment ended: the money at the channel is not forgotten.
    const still = (await h.store.exceptions(false, 100)).filter((x) => x.flowId === res.payment.paymentId);
    expect(still).to.have.length(1);
  });

  /** A payer funded with 1 000 withdraws 600: the payout is PROCESSING at the bank, the 600 held. */
  const withdrawSixHundredOfOneThousand = async () => {
    // Earlier tests moved the shared clock hours ahead of the database's; start from now so that only
    // the test's own 120 s pass for the withdrawal (its exception window is measured from its created_at).
    h.clock.nowMs = Date.now();
    const payerId = uid('p');
    const balance = await fund(payerId, 1_000n);
    const w = await h.cashier.withdraw({
      requestId: uid('wd'),
      payerId,
      amountMinor: 600n,
      currency: 'CNY',
      accountNo: '6222020202020202',
      accountName: 'Payer',
      bankCode: 'ICBC',
    });
    return { payerId, balance, w };
  };

  it('a withdrawal whose payout succeeds after its hold expired debits the payer once; the released money cannot be spent again', async () => {
    const { payerId, balance, w } = await withdrawSixHundredOfOneThousand();
    expect(w.state).to.equal('PROCESSING');
    expect(h.account.available(balance)).to.equal(400n);
    h.clock.nowMs += 120_000; // the bank was slow: the 60 s hold expired and released the 600
    expect(h.account.available(balance), 'the expired hold is released').to.equal(1_000n);
    h.channel.state = 'SUCCESS';
    try {
      await h.drivers.driveWithdrawal(w.withdrawalId, { poll: true });
    } finally {
      h.channel.state = 'PROCESSING';
    }
    expect((await h.store.withdrawal(w.withdrawalId))?.state).to.equal('SUCCEEDED');
    expect(h.account.calls).to.include(`transfer:withdraw-post:${w.withdrawalId}`);
    expect(h.account.balances.get(balance), 'paid out once, debited once').to.equal(400n);
    expect(
      (await h.store.exceptions(true, 100)).filter((x) => x.flowId === w.withdrawalId),
      'the direct debit needs no person',
    ).to.deep.equal([]);
    // Driving again (a redelivered event, the recovery poll) debits nothing more.
    await h.drivers.driveWithdrawal(w.withdrawalId, { poll: true });
    expect(h.account.balances.get(balance)).to.equal(400n);
    // The 600 the payer saw come back is gone: spending it is refused, spending what is left is not.
    const tooMuch = await order(401n);
    expect((await failure(balancePay(tooMuch.orderId, payerId, 401n))).reason).to.equal(
      'INSUFFICIENT_BALANCE',
    );
    const rest = await order(400n);
    expect((await balancePay(rest.orderId, payerId, 400n)).payment.state).to.equal('SUCCEEDED');
    expect(h.account.balances.get(balance)).to.equal(0n);
  });

  it('a payout success after the hold expired and the payer spent the money is an OPEN exception, never a withdrawal kept and spent', async () => {
    const { payerId, balance, w } = await withdrawSixHundredOfOneThousand();
    h.clock.nowMs += 120_000;
    // With the hold expired the payer spends everything before the bank answers.
    const spend = await order(1_000n);
    expect((await balancePay(spend.orderId, payerId, 1_000n)).payment.state).to.equal('SUCCEEDED');
    h.channel.state = 'SUCCESS';
    try {
      await h.drivers.driveWithdrawal(w.withdrawalId, { poll: true });
    } finally {
      h.channel.state = 'PROCESSING';
    }
    const after = await h.store.withdrawal(w.withdrawalId);
    expect(after?.state, 'not SUCCEEDED without a debit').to.equal('CONFIRMING');
    const open = (await h.store.exceptions(false, 100)).filter((x) => x.flowId === w.withdrawalId);
    expect(open.map((e) => [e.flowKind, e.state])).to.deep.equal([['WITHDRAWAL', 'OPEN']]);
    expect(open[0]?.detail).to.match(/INSUFFICIENT_BALANCE/);
    expect(h.account.balances.get(balance), 'never below zero, never paid out and kept').to.equal(0n);
  });

  it('a try replayed after the clock moved is answered as a replay and the payment completes', async () => {
    const payerId = uid('p');
    await fund(payerId, 700n);
    const o = await order(700n);
    h.account.loseNext.add('try');
    const requestId = uid('pay');
    expect((await failure(balancePay(o.orderId, payerId, 700n, requestId))).reason).to.equal(
      'DEPENDENCY_UNAVAILABLE',
    );
    h.clock.nowMs += 5_000;
    const [payment] = await h.store.paymentsOfOrder(o.orderId);
    await h.drivers.drivePayment(payment!.paymentId, { poll: true });
    expect((await h.store.payment(payment!.paymentId))?.state).to.equal('SUCCEEDED');
    expect((await balancePay(o.orderId, payerId, 700n, requestId)).payment.paymentId).to.equal(
      payment!.paymentId,
    );
  });

  it('escrow ends at 0 when a refund lands between ConfirmReceipt and the release', async () => {
    const payerId = uid('p');
    await fund(payerId, 1_000n);
    const o = await order(1_000n, { bizMode: 'ESCROW' });
    await balancePay(o.orderId, payerId, 1_000n);
    h.account.loseNext.add('release');
    await failure(h.cashier.confirmReceipt({ requestId: uid('cr'), orderId: o.orderId }));
    const settlement = await h.accounts.resolve(merchantSettlement(merchantId), CODE);
    h.account.balances.set(settlement, (h.account.balances.get(settlement) ?? 0n) + 300n); // other income to refund from
    await h.cashier.refunds.refund({
      requestId: uid('rf'),
      orderId: o.orderId,
      merchantRefundNo: uid('rn'),
      amountMinor: 300n,
      currency: 'CNY',
      reason: '',
    });
    await h.drivers.postRelease(o.orderId);
    const escrow = await h.accounts.resolve(merchantEscrow(merchantId), CODE);
    expect(h.account.balances.get(escrow)).to.equal(0n);
  });

  it('a definite refusal of channel-router reaches Pay as FAILED_PRECONDITION, never INTERNAL', async () => {
    const o = await order(100n);
    h.channel.routeRefusal = 'ROUTE_NOT_AVAILABLE';
    expect(
      await failure(
        h.cashier.pay({
          requestId: uid('pay'),
          orderId: o.orderId,
          payerId: 'p1',
          parts: [{ kind: 'CHANNEL', amountMinor: 100n, payChannel: '1001' }],
        }),
      ),
    ).to.deep.equal({ reason: 'ROUTE_NOT_AVAILABLE', grpcCode: 'FAILED_PRECONDITION' });
    h.channel.routeRefusal = undefined;
    h.channel.createRefusal = 'INVALID_CREDENTIALS';
    try {
      expect(
        await failure(
          h.cashier.pay({
            requestId: uid('pay'),
            orderId: o.orderId,
            payerId: 'p1',
            parts: [{ kind: 'CHANNEL', amountMinor: 100n, payChannel: '1001' }],
          }),
        ),
      ).to.deep.equal({ reason: 'ROUTE_NOT_AVAILABLE', grpcCode: 'FAILED_PRECONDITION' });
    } finally {
      h.channel.createRefusal = undefined;
    }
  });

  it('a notify_url on loopback, link-local or private ranges is refused', async () => {
    for (const url of [
      'http://127.0.0.1:9/n',
      'http://10.1.2.3/n',
      'http://169.254.169.254/latest',
      'http://[::1]/n',
      'http://localhost/n',
      'http://192.168.0.1/n',
    ]) {
      expect((await failure(order(100n, { notifyUrl: url }))).reason, url).to.equal('NOTIFY_URL_NOT_ALLOWED');
    }
    expect((await order(100n, { notifyUrl: 'https://merchant.example.com/notify' })).notifyUrl).to.match(
      /^https/,
    );
  });

  it('one request id: a Refund with another number and amount is refused, CreatePaymentOrder replays, malformed close ids are INVALID_ARGUMENT', async () => {
    const payerId = uid('p');
    await fund(payerId, 1_000n);
    const requestId = uid('co');
    const no = uid('no');
    const o = await order(900n, { requestId, no });
    expect((await order(900n, { requestId, no })).orderId).to.equal(o.orderId);
    expect((await failure(order(901n, { requestId, no }))).reason).to.equal('IDEMPOTENCY_KEY_REUSED');
    await balancePay(o.orderId, payerId, 900n);
    const rf = uid('rf');
    await h.cashier.refunds.refund({
      requestId: rf,
      orderId: o.orderId,
      merchantRefundNo: 'n1',
      amountMinor: 100n,
      currency: 'CNY',
      reason: '',
    });
    expect(
      (
        await failure(
          h.cashier.refunds.refund({
            requestId: rf,
            orderId: o.orderId,
            merchantRefundNo: 'n2',
            amountMinor: 200n,
            currency: 'CNY',
            reason: '',
          }),
        )
      ).reason,
    ).to.equal('IDEMPOTENCY_KEY_REUSED');
    expect(
      (
        await failure(
          h.cashier.refunds.refund({
            requestId: rf,
            orderId: o.orderId,
            merchantRefundNo: 'n3',
            amountMinor: 300n,
            currency: 'CNY',
            reason: '',
          }),
        )
      ).reason,
    ).to.equal('IDEMPOTENCY_KEY_REUSED');
    expect(await h.store.refundsOfOrder(o.orderId)).to.have.length(1);
    const open = await order(100n);
    for (const bad of ['', 'x'.repeat(129)]) {
      expect(
        await failure(
          h.cashier.closeOrder({ requestId: bad, orderId: open.orderId, cause: 'CLOSED_BY_MERCHANT' }),
        ),
      ).to.deep.equal({ reason: 'INVALID_FIELD', grpcCode: 'INVALID_ARGUMENT' });
    }
    expect((await h.store.order(open.orderId))?.state).to.equal('WAIT_PAY');
  });

  it('eight concurrent Pay calls on one order: one payment, the payer charged once', async () => {
    const payerId = uid('p');
    const balanceId = await fund(payerId, 5_000n);
    const o = await order(500n);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => balancePay(o.orderId, payerId, 500n)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
    expect(await h.store.paymentsOfOrder(o.orderId)).to.have.length(1);
    expect(h.account.balances.get(balanceId)).to.equal(4_500n);
  });

  it('a coupon is reserved by a payment, used when it succeeds, available again when it fails; risk amounts come back on failure', async () => {
    const limited = uid('m');
    await h.cashier.registerMerchant({
      requestId: uid('rm'),
      merchantId: limited,
      name: 'lim',
      notifyKey: 'k'.repeat(20),
      limits: {
        perTransactionMaxMinor: 0n,
        merchantDailyMaxMinor: 1_000n,
        payerDailyMaxMinor: 0n,
        payerPaymentsPerMinuteMax: 0,
      },
    });
    const payerId = uid('p');
    const coupon = await h.cashier.issueCoupon({
      requestId: uid('ic'),
      payerId,
      amountMinor: 100n,
      currency: 'CNY',
      expireAt: undefined,
    });
    const mk = () =>
      h.cashier.createOrder({
        requestId: uid('co'),
        merchantId: limited,
        merchantOrderNo: uid('no'),
        amountMinor: 800n,
        currency: 'CNY',
        product: '100101',
        bizMode: 'INSTANT',
        subject: 's',
        expireAt: undefined,
        notifyUrl: '',
      });
    const first = await mk();
    // No balance: the try is refused, the payment fails, the coupon and the merchant's daily amount come back.
    expect(
      (
        await failure(
          h.cashier.pay({
            requestId: uid('pay'),
            orderId: first.orderId,
            payerId,
            parts: [
              { kind: 'COUPON', amountMinor: 100n, couponId: coupon.couponId },
              { kind: 'BALANCE', amountMinor: 700n },
            ],
          }),
        )
      ).reason,
    ).to.equal('INSUFFICIENT_BALANCE');
    const rows = await h.sql<{ state: string }>('SELECT state FROM cashier.coupons WHERE coupon_id = $1', [
      coupon.couponId,
    ]);
    expect(rows[0]?.state).to.equal('AVAILABLE');
    await fund(payerId, 700n);
    const paid = await h.cashier.pay({
      requestId: uid('pay'),
      orderId: first.orderId,
      payerId,
      parts: [
        { kind: 'COUPON', amountMinor: 100n, couponId: coupon.couponId },
        { kind: 'BALANCE', amountMinor: 700n },
      ],
    });
    expect(paid.payment.state).to.equal('SUCCEEDED');
    expect(
      (
        await h.sql<{ state: string }>('SELECT state FROM cashier.coupons WHERE coupon_id = $1', [
          coupon.couponId,
        ])
      )[0]?.state,
    ).to.equal('USED');
    expect(
      (
        await failure(
          h.cashier.pay({
            requestId: uid('pay'),
            orderId: (await mk()).orderId,
            payerId,
            parts: [{ kind: 'BALANCE', amountMinor: 800n }],
          }),
        )
      ).reason,
    ).to.equal('RISK_LIMIT_EXCEEDED');
  });
});
