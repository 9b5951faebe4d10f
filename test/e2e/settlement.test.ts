/**
 * End-to-end settlement, every service a real process (platform.ts), one
 * payment day through Alipay at the sandbox, in order (each `it` builds on
 * the one before):
 * 1. three merchants (T+1; D0 with a profit-sharing receiver and unconfirmed
 *    items held back; D0 under its minimum) are paid and refund part of it;
 *    settlement clears every payment and refund from cashier's events;
 * 2. reconciliation reconciles today's Alipay bill, on which one payment is
 *    billed 0.07 more (an amount difference): settlement confirms every
 *    item but that one, moves the bill's net from Alipay's pending clearing
 *    to the reserve fund's deposit and books the bill's fee as Alipay's
 *    channel fee cost, leaving the pending clearing at zero; GetChannelDay
 *    shows the platform's margin on the channel that day;
 * 3. the settlement days (today for D0, the next business day for T+1)
 *    create the batches; postings, payouts through the sandbox's bank and
 *    statements follow: per merchant Σ payouts + fees + shares + carried =
 *    Σ net clearing of its settled items (payments − refunds), to the cent,
 *    and equals what the test paid minus the item held back; at account the
 *    merchants' pending settlement holds exactly the held item, payables hold
 *    exactly the carried amount and the receiver's share;
 * 4. the DayReconciled fact republished past NATS's duplicate window (a new
 *    message id) and the deposit work item sent again post nothing: one
 *    deposit transfer, one channel fee cost entry;
 * 5. the operator resolves the difference and settlement confirms the item;
 *    account and ledger agree subject by subject and the trial balance holds.
 */
import { expect } from 'chai';
import { CN_BUSINESS_DAYS } from '@paycore/calendar';
import { SettlementErrorReason } from '@paycore/client';
import { connectNats, EventNaming } from '@paycore/platform';
import { PartKind } from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { DayReconciled, Resolution } from '@paycore/proto/paycore/reconciliation/v1/events';
import {
  BatchState,
  CycleKind,
  DepositState,
  ShareKind,
  type Batch,
} from '@paycore/proto/paycore/settlement/v1/settlement_service';
import { DepositDue } from '@paycore/proto/paycore/settlement/v1/events';
import { addFault, payAtSandbox, startPlatform, waitFor as waitUpTo, type Platform } from './platform';
import { chinaToday, cny, createOrder, pay, part, reasonOf, registerMerchant, uid } from './helpers';
import { percentageFeeRule } from '../../scripts/demo/settlement';

const ALIPAY = '100001';
const FINAL = new Set([BatchState.BATCH_STATE_PAID, BatchState.BATCH_STATE_CARRIED]);

/** A loaded shared machine delays events: conditions get two minutes unless told. */
function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  return waitUpTo(what, fn, timeoutMs);
}

const fee = (amount: bigint) => (amount * 6n + 500n) / 1000n;

interface Merchant {
  readonly id: string;
  readonly paid: bigint[];
  readonly refunded: bigint[];
  /** Payments the bill disputes: never settled while unconfirmed. */
  readonly held: bigint[];
  receiverId?: string;
}

describe('settlement end to end (every service a real process)', function () {
  this.timeout(300_000);
  let p: Platform;
  const today = chinaToday();
  const nextBusinessDay = CN_BUSINESS_DAYS.addBusinessDays(today, 1);
  const merchants: Record<'tPlus1' | 'd0' | 'minimum', Merchant> = {
    tPlus1: { id: '', paid: [], refunded: [], held: [] },
    d0: { id: '', paid: [], refunded: [], held: [] },
    minimum: { id: '', paid: [], refunded: [], held: [] },
  };
  let heldTxnId = '';
  let heldOrderId = '';

  before(async function () {
    this.timeout(900_000);
    p = await startPlatform();
  });
  after(async () => {
    await p?.close();
  });

  const query = <T>(sql: string, params: unknown[] = []) => p.query<T>(sql, params);
  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    Number((await query<{ n: string }>(sql, params))[0]?.n ?? -1);
  const balance = async (ownerType: string, ownerId: string, subject: string): Promise<bigint> => {
    const rows = await query<{ b: string | null }>(
      `SELECT sum(available + frozen) AS b FROM account.accounts
        WHERE owner_type = $1 AND owner_id = $2 AND subject_code = $3`,
      [ownerType, ownerId, subject],
    );
    return BigInt(rows[0]?.b ?? 0);
  };
  const batchesOf = async (merchantId: string): Promise<Batch[]> =>
    (await p.paycore.settlement.listBatches({ merchantId })).batches;

  const setUp = async (
    m: Merchant,
    profile: { cycle: CycleKind; minimumPayoutMinor: bigint; autoShare: boolean },
  ) => {
    const merchantId = await registerMerchant(p);
    Object.assign(m, { id: merchantId });
    await waitFor('merchant known to settlement', async () =>
      (await count('SELECT count(*) AS n FROM settlement.merchants WHERE merchant_id = $1', [merchantId])) ===
      1
        ? true
        : undefined,
    );
    await p.paycore.settlement.putFeeRule({
      requestId: uid('fee'),
      rule: percentageFeeRule(merchantId, '0.006'),
    });
    if (profile.autoShare) {
      m.receiverId = uid('rcv');
      await p.paycore.settlement.setShareReceivers({
        requestId: uid('share'),
        merchantId,
        receivers: [
          { receiverId: m.receiverId, kind: ShareKind.SHARE_KIND_RATIO, ratio: '0.1', fixedMinor: 0n },
        ],
      });
    }
    await p.paycore.settlement.setSettlementProfile({
      requestId: uid('prof'),
      profile: {
        merchantId,
        cycle: profile.cycle,
        offsetDays: profile.cycle === CycleKind.CYCLE_KIND_T_PLUS_N ? 1 : 0,
        anchorDay: 0,
        minimumPayoutMinor: profile.minimumPayoutMinor,
        holdUnconfirmed: true,
        d0HoldRate: '0',
        autoShare: profile.autoShare,
        bankAccountNo: '6222020200000001',
        bankAccountName: 'E2E Merchant Ltd',
        bankCode: 'ICBC',
      },
    });
  };

  const payAlipay = async (m: Merchant, amount: bigint, faults: Record<string, unknown>[] = []) => {
    const order = await createOrder(p, m.id, amount, { notify: false });
    const res = await pay(p, order.orderId, uid('payer'), [
      part(PartKind.PART_KIND_CHANNEL, amount, { payChannel: '1001' }),
    ]);
    const txnId = res.payment?.parts[0]?.channelTxnId ?? '';
    for (const fault of faults)
      await addFault(p.sandboxUrl, { ...fault, channel: 'alipay', out_trade_no: txnId });
    await payAtSandbox(p.sandboxUrl, 'alipay', txnId);
    await waitFor(`payment ${txnId} cleared`, async () =>
      (await count("SELECT count(*) AS n FROM settlement.items WHERE order_id = $1 AND kind = 'PAY'", [
        order.orderId,
      ])) === 1
        ? true
        : undefined,
    );
    if (faults.length === 0) m.paid.push(amount);
    else m.held.push(amount);
    return { orderId: order.orderId, txnId };
  };

  const refund = async (m: Merchant, orderId: string, amount: bigint) => {
    await p.paycore.cashier.refund({
      requestId: uid('ref'),
      orderId,
      merchantRefundNo: uid('rn'),
      amount: cny(amount),
      reason: 'e2e partial refund',
    });
    await waitFor('refund cleared', async () =>
      (await count("SELECT count(*) AS n FROM settlement.items WHERE order_id = $1 AND kind = 'REFUND'", [
        orderId,
      ])) === 1
        ? true
        : undefined,
    );
    m.refunded.push(amount);
  };

  it('1. clears the payments and refunds of three merchants', async () => {
    await setUp(merchants.tPlus1, {
      cycle: CycleKind.CYCLE_KIND_T_PLUS_N,
      minimumPayoutMinor: 0n,
      autoShare: false,
    });
    await setUp(merchants.d0, { cycle: CycleKind.CYCLE_KIND_D0, minimumPayoutMinor: 0n, autoShare: true });
    await setUp(merchants.minimum, {
      cycle: CycleKind.CYCLE_KIND_D0,
      minimumPayoutMinor: 1_000_000n,
      autoShare: false,
    });
    const t1 = await payAlipay(merchants.tPlus1, 12_345n);
    await payAlipay(merchants.tPlus1, 5_000n);
    await refund(merchants.tPlus1, t1.orderId, 2_345n);
    const d1 = await payAlipay(merchants.d0, 10_000n);
    await payAlipay(merchants.d0, 3_333n);
    await refund(merchants.d0, d1.orderId, 2_500n);
    const disputed = await payAlipay(merchants.d0, 4_400n, [{ kind: 'bill_wrong_amount', delta_fen: '7' }]);
    heldTxnId = disputed.txnId;
    heldOrderId = disputed.orderId;
    await payAlipay(merchants.minimum, 8_800n);
    const items = await count('SELECT count(*) AS n FROM settlement.items');
    expect(items).to.equal(8);
  });

  it('2. reconciliation confirms the day but the disputed item; net to the deposit, fee to channel fee cost', async () => {
    // Six payments and two refunds at Alipay: reconciliation's own copy must have them all.
    await waitFor('channel transactions copied to reconciliation', async () =>
      (await count(
        "SELECT count(*) AS n FROM recon.channel_txns WHERE channel_no = $1 AND state = 'SUCCESS'",
        [ALIPAY],
      )) === 8
        ? true
        : undefined,
    );
    const report = (
      await p.paycore.reconciliation.reconcileDay({
        requestId: uid('rec'),
        channelNo: ALIPAY,
        billDate: today,
      })
    ).report;
    if (report === undefined) throw new Error('no report');
    const paid = [...Object.values(merchants)].flatMap((m) => [...m.paid, ...m.held]);
    const refunded = [...Object.values(merchants)].flatMap((m) => m.refunded);
    const gross = paid.reduce((a, x) => a + x, 0n) - refunded.reduce((a, x) => a + x, 0n) + 7n;
    // The channel charges 0.6 % of each payment (of the amount paid, not the one misbilled) and gives it back on refunds.
    const channelFee = paid.reduce((a, x) => a + fee(x), 0n) - refunded.reduce((a, x) => a + fee(x), 0n);
    expect(report.channelFeeTotal).to.equal(channelFee);
    expect(report.netSettlementAmount).to.equal(gross - channelFee);

    const day = await waitFor('deposit move', async () => {
      const rows = await query<{ deposit_state: string; confirmed_items: string }>(
        'SELECT deposit_state, confirmed_items FROM settlement.channel_days WHERE channel_no = $1 AND bill_date = $2',
        [ALIPAY, today],
      );
      return rows[0]?.deposit_state === 'DEPOSITED' ? rows[0] : undefined;
    });
    // Six payments on the channel day, one disputed (refunds are confirmed when cleared).
    expect(day.confirmed_items).to.equal('5');
    const unconfirmed = await query<{ channel_txn_id: string }>(
      "SELECT channel_txn_id FROM settlement.items WHERE NOT confirmed AND kind = 'PAY'",
    );
    expect(unconfirmed.map((r) => r.channel_txn_id)).to.deep.equal([heldTxnId]);

    // The channel day as settlement books it: the platform's margin on Alipay that day.
    const booked = (await p.paycore.settlement.getChannelDay({ channelNo: ALIPAY, billDate: today })).day;
    // The merchants' rule keeps the fee on refunds, so the fee income is that of the payments.
    const feeIncome = paid.reduce((a, x) => a + fee(x), 0n);
    expect([booked?.depositState, booked?.feeIncomeMinor, booked?.marginMinor]).to.deep.equal([
      DepositState.DEPOSIT_STATE_DEPOSITED,
      feeIncome,
      feeIncome - channelFee,
    ]);
    expect(
      await reasonOf(
        p.paycore.settlement.getChannelDay({
          channelNo: ALIPAY,
          billDate: nextBusinessDay,
        }),
      ),
    ).to.equal(SettlementErrorReason.CHANNEL_DAY_NOT_FOUND);
    expect(await reasonOf(p.paycore.settlement.getChannelDay({ channelNo: '1', billDate: today }))).to.equal(
      'INVALID_FIELD',
    );

    // A platform operation on Alipay's accounts, which reconciliation's balance proof of the day leaves out.
    const moved = await query<{ biz_code: string }>(
      'SELECT biz_code FROM account.transfers WHERE request_id = $1',
      [`settle-deposit:${ALIPAY}:${today}`],
    );
    expect(moved.map((r) => r.biz_code)).to.deep.equal(['90010101081001100001']);
    const reread = (await p.paycore.reconciliation.getDayReport({ channelNo: ALIPAY, billDate: today }))
      .report;
    expect(reread?.checks.find((c) => c.name === 'CLEARING_BALANCE')?.status).to.equal('PASSED');

    expect(await balance('INTERNAL', 'platform', '100201')).to.equal(report.netSettlementAmount);
    expect(await balance('INTERNAL', `channel-${ALIPAY}`, '660301')).to.equal(report.channelFeeTotal);
    // Payments in, refunds out, the 0.07 parked in suspense, the bill's gross moved: nothing left pending.
    expect(await balance('INTERNAL', 'platform', '30010101')).to.equal(0n);
  });

  it('3. settles: per merchant payouts + fees + shares + carried = net clearing, to the cent', async () => {
    await p.paycore.settlement.runSettlementDay({
      requestId: uid('run'),
      settlementDate: today,
    });
    await p.paycore.settlement.runSettlementDay({
      requestId: uid('run'),
      settlementDate: nextBusinessDay,
    });
    for (const [name, m] of Object.entries(merchants)) {
      const batches = await waitFor(`${name} batches final`, async () => {
        const list = await batchesOf(m.id);
        return list.length > 0 && list.every((b) => FINAL.has(b.state)) ? list : undefined;
      });
      const sum = (f: (b: Batch) => bigint) => batches.reduce((a, b) => a + f(b), 0n);
      const oldest = batches[batches.length - 1];
      const newest = batches[0];
      const net = m.paid.reduce((a, x) => a + x, 0n) - m.refunded.reduce((a, x) => a + x, 0n);
      const fees = m.paid.reduce((a, x) => a + fee(x), 0n);
      expect(
        sum((b) => b.grossMinor - b.refundsMinor),
        name,
      ).to.equal(net);
      expect(
        sum((b) => b.feesMinor),
        name,
      ).to.equal(fees);
      expect(
        sum((b) => b.payoutMinor + b.feesMinor + b.sharesMinor) +
          (newest?.carriedOutMinor ?? 0n) -
          (oldest?.carriedInMinor ?? 0n),
        name,
      ).to.equal(net);
      for (const b of batches) {
        const statement = await p.paycore.settlement.getStatement({ batchId: b.batchId });
        expect(
          statement.lines.reduce((a, l) => a + l.netMinor, 0n),
          name,
        ).to.equal(b.grossMinor - b.refundsMinor - b.feesMinor - b.sharesMinor);
        expect(statement.csv.split('\n').length, name).to.be.greaterThan(statement.lines.length);
      }
      // Account: pending settlement keeps only what was held back; the payable only what is carried.
      expect(await balance('MERCHANT', m.id, '224102'), name).to.equal(m.held.reduce((a, x) => a + x, 0n));
      expect(await balance('MERCHANT', m.id, '224103'), name).to.equal(newest?.carriedOutMinor ?? 0n);
      if (m.receiverId !== undefined)
        expect(await balance('MERCHANT', m.receiverId, '224103'), name).to.equal(sum((b) => b.sharesMinor));
    }
    const [d0] = await batchesOf(merchants.d0.id);
    expect(d0?.state).to.equal(BatchState.BATCH_STATE_PAID);
    expect((d0?.sharesMinor ?? 0n) > 0n, 'the receiver got a share').to.equal(true);
    const [tPlus1] = await batchesOf(merchants.tPlus1.id);
    expect([tPlus1?.state, tPlus1?.settlementDate]).to.deep.equal([
      BatchState.BATCH_STATE_PAID,
      nextBusinessDay,
    ]);
    const [minimum] = await batchesOf(merchants.minimum.id);
    expect([minimum?.state, minimum?.payoutMinor, minimum?.carriedOutMinor]).to.deep.equal([
      BatchState.BATCH_STATE_CARRIED,
      0n,
      8_800n - fee(8_800n),
    ]);
    expect(
      await count(
        "SELECT count(*) AS n FROM channel.transactions WHERE kind = 'PAYOUT' AND biz_code LIKE '1005010106%'",
      ),
    ).to.equal(2);
  });

  it('4. a republished DayReconciled and a repeated deposit work item post nothing twice', async () => {
    const naming = new EventNaming(p.natsPrefix);
    const nats = await connectNats({
      servers: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
      name: 'e2e',
    });
    const durable = naming.durable('settlement', 'reconciliation');
    const reconciled = naming.subject('reconciliation', 'day_reconciled');
    try {
      const original = await nats.jsm.streams.getMessage(naming.stream('reconciliation'), {
        last_by_subj: reconciled,
      });
      if (original === null) throw new Error('no DayReconciled on the stream');
      // The fact names how many differences its day had, so settlement can wait for all of them.
      expect(DayReconciled.decode(original.data).differenceCount).to.equal(1n);
      await nats.js.publish(reconciled, original.data, { msgID: uid('again') });
      await nats.js.publish(
        naming.subject('settlement_work', 'deposit_due'),
        DepositDue.encode({ channelNo: ALIPAY, billDate: today }).finish(),
        { msgID: uid('again') },
      );
      await waitFor('the republished fact handled', async () =>
        (await count('SELECT count(*) AS n FROM settlement.inbox WHERE consumer = $1 AND subject = $2', [
          durable,
          reconciled,
        ])) === 2
          ? true
          : undefined,
      );
      await waitFor('the repeated work item consumed', async () => {
        const info = await nats.jsm.streams.info(naming.stream('settlement_work'));
        return info.state.messages === 0 ? true : undefined;
      });
    } finally {
      await nats.nc.close();
    }
    expect(
      await count("SELECT count(*) AS n FROM account.transfers WHERE request_id LIKE 'settle-deposit%'"),
    ).to.equal(1);
    expect(
      await count(
        `SELECT count(*) AS n FROM account.entries e JOIN account.accounts a ON a.id = e.account_id
          WHERE a.subject_code = '660301'`,
      ),
    ).to.equal(1);
    expect(await count('SELECT count(*) AS n FROM settlement.channel_days')).to.equal(1);
  });

  it('5. resolving the difference confirms the item; account and ledger agree; the trial balance holds', async () => {
    const differences = (
      await p.paycore.reconciliation.listDifferences({
        channelNo: ALIPAY,
        billDate: today,
        pageSize: 50,
        pageToken: '',
      })
    ).differences;
    const disputed = differences.find((d) => d.platformTxnId === heldTxnId);
    if (disputed === undefined) throw new Error(`no difference for ${heldTxnId}`);
    await p.paycore.reconciliation.resolveDifferences({
      requestId: uid('resolve'),
      operator: 'ops-e2e',
      decisions: [
        {
          differenceId: disputed.differenceId,
          resolution: Resolution.RESOLUTION_CHANNEL_IS_RIGHT,
          reason: 'the bank statement shows the 0.07',
        },
      ],
      decisionsCsv: Buffer.alloc(0),
    });
    await waitFor('the disputed item confirmed', async () =>
      (await count('SELECT count(*) AS n FROM settlement.items WHERE order_id = $1 AND confirmed', [
        heldOrderId,
      ])) === 1
        ? true
        : undefined,
    );

    // Two books, one truth: every subject's movement at account equals the ledger's vouchers.
    const accountSide = `SELECT a.subject_code AS code, sum(CASE e.side WHEN 'DEBIT' THEN e.amount ELSE -e.amount END)::text AS net
        FROM account.entries e JOIN account.accounts a ON a.id = e.account_id GROUP BY 1 ORDER BY 1`;
    const ledgerSide = `SELECT subject_code AS code, sum(CASE side WHEN 'DEBIT' THEN amount_minor ELSE -amount_minor END)::text AS net
        FROM ledger.voucher_lines GROUP BY 1 ORDER BY 1`;
    const books = await waitFor('account and ledger agree', async () => {
      const [a, l] = [await query<{ code: string; net: string }>(accountSide), await query(ledgerSide)];
      return JSON.stringify(a) === JSON.stringify(l) ? a : undefined;
    });
    expect(books.map((r) => r.code)).to.include.members(['100201', '224102', '224103', '605101', '660301']);
    const trial = await p.paycore.ledger.getTrialBalance({ accountingDate: today });
    expect(trial.balanced).to.equal(true);
  });
});
