/**
 * End-to-end, every service a real process (platform.ts): a D0 merchant is
 * paid through Alipay at the sandbox and refunds part of it; settlement
 * clears both from cashier's events, RunSettlementDay creates the batch,
 * a replica drives it from the work queue (postings at account, payout
 * through the sandbox's bank), and the statement (RPC and CSV) shows the
 * items. Proves: payout + fees + shares + carried = net clearing to the cent,
 * running the day again creates nothing, the merchant's pending settlement
 * at account is emptied, the postings reach the ledger and its trial
 * balance holds.
 */
import { expect } from 'chai';
import { unary } from '@paycore/platform';
import { PartKind } from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { BatchState, CycleKind } from '@paycore/proto/paycore/settlement/v1/settlement_service';
import { payAtSandbox, startPlatform, waitFor, type Platform } from './platform';
import { chinaToday, cny, createOrder, pay, part, registerMerchant, uid } from './helpers';

describe('settlement end to end (every service a real process)', function () {
  this.timeout(240_000);
  let p: Platform;

  before(async () => {
    p = await startPlatform();
  });
  after(async () => {
    await p?.close();
  });

  it('settles a D0 merchant: clearing, batch, postings, one payout, statement; sums hold to the cent', async () => {
    const merchantId = await registerMerchant(p);
    await waitFor('merchant known to settlement', async () => {
      const rows = await p.query('SELECT 1 FROM settlement.merchants WHERE merchant_id = $1', [merchantId]);
      return rows.length === 1 ? true : undefined;
    });
    await unary(p.settlement.setSettlementProfile.bind(p.settlement), {
      requestId: uid('prof'),
      profile: {
        merchantId,
        cycle: CycleKind.CYCLE_KIND_D0,
        offsetDays: 0,
        anchorDay: 0,
        minimumPayoutMinor: 0n,
        holdUnconfirmed: false,
        d0HoldRate: '0',
        autoShare: false,
        bankAccountNo: '6222020200000001',
        bankAccountName: 'E2E Merchant Ltd',
        bankCode: 'ICBC',
      },
    });
    const created = await createOrder(p, merchantId, 10_000n, { notify: false });
    const paid = await pay(p, created.orderId, uid('payer'), [
      part(PartKind.PART_KIND_CHANNEL, 10_000n, { payChannel: '1001' }),
    ]);
    await payAtSandbox(p.sandboxUrl, 'alipay', paid.payment?.parts[0]?.channelTxnId ?? '');
    await waitFor(
      'payment cleared',
      async () => {
        const rows = await p.query("SELECT 1 FROM settlement.items WHERE order_id = $1 AND kind = 'PAY'", [
          created.orderId,
        ]);
        return rows.length === 1 ? true : undefined;
      },
      60_000,
    );
    await unary(p.cashier.refund.bind(p.cashier), {
      requestId: uid('ref'),
      orderId: created.orderId,
      merchantRefundNo: uid('rn'),
      amount: cny(2_500n),
      reason: 'e2e partial refund',
    });
    await waitFor(
      'refund cleared',
      async () => {
        const rows = await p.query("SELECT 1 FROM settlement.items WHERE order_id = $1 AND kind = 'REFUND'", [
          created.orderId,
        ]);
        return rows.length === 1 ? true : undefined;
      },
      60_000,
    );

    const day = chinaToday();
    const run = await unary(p.settlement.runSettlementDay.bind(p.settlement), {
      requestId: uid('run'),
      settlementDate: day,
    });
    expect(run.batchesCreated >= 1n).to.equal(true);
    const batch = await waitFor(
      'batch paid',
      async () => {
        const list = await unary(p.settlement.listBatches.bind(p.settlement), { merchantId });
        const b = list.batches[0];
        return b?.state === BatchState.BATCH_STATE_PAID ? b : undefined;
      },
      90_000,
    );
    expect(batch.grossMinor).to.equal(10_000n);
    expect(batch.refundsMinor).to.equal(2_500n);
    const net = batch.grossMinor - batch.refundsMinor;
    expect(
      batch.payoutMinor + batch.feesMinor + batch.sharesMinor + batch.carriedOutMinor - batch.carriedInMinor,
    ).to.equal(net);
    expect(batch.payoutMinor).to.equal(7_500n - batch.feesMinor);

    const statement = await unary(p.settlement.getStatement.bind(p.settlement), { batchId: batch.batchId });
    expect(statement.lines.map((l) => l.type).sort()).to.deep.equal(['PAYMENT', 'REFUND']);
    expect(statement.lines.reduce((s, l) => s + l.netMinor, 0n)).to.equal(
      net - batch.feesMinor - batch.sharesMinor,
    );
    expect(statement.csv.split('\n')[0]).to.match(
      /^type,merchant_order_no,order_id,gross,fee,refunds,shares,net,batch_no/,
    );
    expect(statement.csv).to.contain(created.merchantOrderNo);

    const payouts = await p.query<{ n: string }>(
      "SELECT count(*) AS n FROM channel.transactions WHERE kind = 'PAYOUT' AND biz_code LIKE '1005010106%'",
    );
    expect(payouts[0]?.n).to.equal('1');
    const again = await unary(p.settlement.runSettlementDay.bind(p.settlement), {
      requestId: uid('run'),
      settlementDate: day,
    });
    expect(again.batchesCreated).to.equal(0n);

    // Account: the merchant's pending settlement is emptied by the batch.
    const merchant = await unary(p.cashier.getMerchant.bind(p.cashier), { merchantId });
    expect(merchant.settlementBalance?.amountMinor).to.equal(0n);
    // Ledger: every posting became a voucher and the day's trial balance holds.
    await waitFor(
      'ledger vouchers of the settlement postings',
      async () => {
        const rows = await p.query<{ n: string }>(
          "SELECT count(*) AS n FROM ledger.vouchers WHERE biz_code LIKE '100501010%'",
        );
        return Number(rows[0]?.n ?? 0) >= 2 ? true : undefined;
      },
      30_000,
    );
    const trial = await unary(p.ledger.getTrialBalance.bind(p.ledger), { accountingDate: chinaToday() });
    expect(trial.balanced).to.equal(true);
  });
});
