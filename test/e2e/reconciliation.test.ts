/**
 * End-to-end reconciliation: every service a real process (sandbox, account,
 * ledger, channel-router, cashier, reconciliation; see platform.ts), real
 * payments through the cashier and the sandbox, real bills downloaded
 * through channel-router. channel-router's status sync and the cashier's
 * recovery poll are slowed to an hour so that a payment whose notification
 * is dropped stays PROCESSING until reconciliation finds it.
 *
 * One payment day, in order (each `it` builds on the one before):
 * 1. the sandbox's bill faults (line missing, extra line, wrong amount,
 *    wrong status) on Alipay and WeChat: every injected difference is found
 *    in its class with the exact amounts, and nothing else is reported;
 * 2. a payment whose notification and status sync both failed is completed
 *    by reconciliation's rule, and the merchant is notified once;
 * 3. the WeChat line left out of day D (held) arrives in an uploaded bill of
 *    D+1 and is matched there without a difference;
 * 4. suspense posted and written off by operator decisions (a decisions
 *    file): account and ledger agree on the suspense subjects, the trial
 *    balance holds, and the clearing balance proof passes after write-off;
 * 5. bank statement claims: three partial claims use up a line, a fourth is
 *    refused with the remaining amount, a replayed claim posts once;
 * 6. malformed files (truncated zip, footer totals off, wrong encoding, a
 *    formula-looking cell, an unknown column) are refused with file, line
 *    and reason and leave nothing behind; the same file again is a replay;
 * 7. a run killed with SIGKILL while posting suspense resumes after restart
 *    and ends with the same result: every posting exactly once.
 */
import { expect } from 'chai';
import iconv from 'iconv-lite';
import { reasonOf as clientReasonOf, ReconciliationErrorReason } from '@paycore/client';
import {
  alipayBillLine,
  buildAlipayBill,
  buildWechatBill,
  readZip,
  wechatBillRow,
  writeZip,
} from '@paycore/channel-protocols';
import { OwnerType } from '@paycore/proto/paycore/account/v1/account_service';
import { OrderState, PartKind } from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { DifferenceClass, Direction, Resolution } from '@paycore/proto/paycore/reconciliation/v1/events';
import type { DayReport, Difference } from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
import { addFault, payAtSandbox, startPlatform, waitFor as waitUpTo, type Platform } from './platform';
import { notificationSettled } from './conditions';
import { chinaToday, createOrder, pay, part, reasonOf, registerMerchant, uid } from './helpers';

const ALIPAY = '100001';
const WECHAT = '200001';
const BANK = '300001';
const OPERATOR = 'ops-alice';

/** A loaded shared machine delays notifications and events: conditions get two minutes unless told. */
function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  return waitUpTo(what, fn, timeoutMs);
}

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

function className(value: DifferenceClass): string {
  return DifferenceClass[value].replace('DIFFERENCE_CLASS_', '');
}

function summary(d: Difference): string {
  return `${className(d.differenceClass)} ${Direction[d.direction].replace('DIRECTION_', '')} ${d.merchantOrderNo} platform=${d.platformAmount} channel=${d.channelAmount} ${d.state}`;
}

describe('reconciliation end to end (every service a real process)', function () {
  this.timeout(300_000);
  let p: Platform;
  let merchantId = '';
  const today = chinaToday();
  const txns: Record<string, { txnId: string; orderId: string; amount: bigint }> = {};

  before(async function () {
    // Six processes start on a shared machine: allow for a slow start.
    this.timeout(900_000);
    p = await startPlatform({
      'channel-router': {
        // No dense phase (ADR 0063) and an hour to the first query: status sync stays out of the way.
        CHANNEL_SYNC_DENSE_INTERVAL_MS: '0',
        CHANNEL_SYNC_FIRST_DELAY_MS: '3600000',
        CHANNEL_SYNC_DELAY_MAX_MS: '3600000',
      },
      cashier: { CASHIER_RECOVERY_IDLE_MS: '3600000' },
    });
    merchantId = await registerMerchant(p);
  });
  after(async () => {
    await p?.close();
  });

  const payChannel = async (
    name: string,
    channel: 'alipay' | 'wechat',
    amount: bigint,
    faults: Record<string, unknown>[] = [],
  ) => {
    const order = await createOrder(p, merchantId, amount);
    const res = await pay(p, order.orderId, uid('payer'), [
      part(PartKind.PART_KIND_CHANNEL, amount, { payChannel: channel === 'alipay' ? '1001' : '2001' }),
    ]);
    const txnId = res.payment?.parts[0]?.channelTxnId ?? '';
    for (const fault of faults) await addFault(p.sandboxUrl, { ...fault, out_trade_no: txnId, channel });
    await payAtSandbox(p.sandboxUrl, channel, txnId);
    txns[name] = { txnId, orderId: order.orderId, amount };
  };
  const orderState = async (orderId: string) =>
    (await p.paycore.cashier.getPaymentOrder({ orderId, merchantId: '', merchantOrderNo: '' })).order?.state;
  const waitPaid = (name: string) =>
    waitFor(`${name} PAID`, async () =>
      (await orderState(txns[name]?.orderId ?? '')) === OrderState.ORDER_STATE_PAID ? true : undefined,
    );
  const differences = async (channelNo: string, billDate: string): Promise<Difference[]> =>
    (
      await p.paycore.reconciliation.listDifferences({
        channelNo,
        billDate,
        pageSize: 500,
        pageToken: '',
      })
    ).differences;
  const report = async (channelNo: string, billDate: string): Promise<DayReport> => {
    const res = await p.paycore.reconciliation.getDayReport({ channelNo, billDate });
    if (!res.report) throw new Error('no report');
    return res.report;
  };
  const check = (r: DayReport, name: string) => r.checks.find((c) => c.name === name);
  const reconcilingReport = async (channelNo: string, billDate: string) => {
    const res = await p.paycore.reconciliation.reconcileDay({
      requestId: uid('rec'),
      channelNo,
      billDate,
    });
    if (!res.report) throw new Error('no report');
    return res.report;
  };
  const fee = (amount: bigint) => (amount * 6n + 500n) / 1000n;

  it('1. every injected bill fault is found in its class with the exact amounts, and nothing else', async () => {
    await payChannel('A_ok', 'alipay', 1_000n);
    await payChannel('A_refunded', 'alipay', 2_000n);
    await payChannel('A_missing', 'alipay', 1_100n, [{ kind: 'bill_missing' }]);
    await payChannel('A_amount', 'alipay', 1_200n, [{ kind: 'bill_wrong_amount', delta_fen: '7' }]);
    await payChannel('A_status', 'alipay', 1_300n, [{ kind: 'bill_wrong_status' }]);
    await addFault(p.sandboxUrl, { kind: 'bill_extra', channel: 'alipay', out_trade_no: 'EXTRA-ALI-1' });
    await payChannel('W_ok', 'wechat', 2_100n);
    await payChannel('W_missing', 'wechat', 2_200n, [{ kind: 'bill_missing' }]);
    await payChannel('W_amount', 'wechat', 2_300n, [{ kind: 'bill_wrong_amount', delta_fen: '-5' }]);
    await payChannel('W_status', 'wechat', 2_400n, [{ kind: 'bill_wrong_status' }]);
    // Notification dropped and status sync slowed to an hour: stays PROCESSING.
    await payChannel('W_stuck', 'wechat', 2_500n, [{ kind: 'notify_drop' }]);
    await addFault(p.sandboxUrl, { kind: 'bill_extra', channel: 'wechat', out_trade_no: 'EXTRA-WX-1' });
    for (const name of [
      'A_ok',
      'A_refunded',
      'A_missing',
      'A_amount',
      'A_status',
      'W_ok',
      'W_missing',
      'W_amount',
      'W_status',
    ])
      await waitPaid(name);
    await p.paycore.cashier.refund({
      requestId: uid('ref'),
      orderId: txns['A_refunded']?.orderId ?? '',
      merchantRefundNo: uid('rn'),
      amount: { amountMinor: 500n, currency: 'CNY' },
      reason: 'partial refund',
    });
    const refundTxn = await waitFor('the refund in reconciliation', async () => {
      const rows = await p.query<{ txn_id: string }>(
        `SELECT txn_id FROM recon.channel_txns WHERE kind = 'REFUND' AND state = 'SUCCESS' AND original_txn_id = $1`,
        [txns['A_refunded']?.txnId ?? ''],
      );
      return rows[0]?.txn_id;
    });
    expect(await orderState(txns['W_stuck']?.orderId ?? '')).to.not.equal(OrderState.ORDER_STATE_PAID);
    // Every paid transaction has reached reconciliation's own copy before the run.
    await waitFor('channel transactions copied', async () => {
      const rows = await p.query<{ n: string }>(
        `SELECT count(*) AS n FROM recon.channel_txns WHERE state = 'SUCCESS'`,
      );
      return Number(rows[0]?.n) >= 10 ? true : undefined;
    });

    const alipay = await reconcilingReport(ALIPAY, today);
    const t = (name: string) => txns[name] ?? { txnId: '', orderId: '', amount: 0n };
    const alipayFound = (await differences(ALIPAY, today)).map(summary).sort();
    expect(alipayFound).to.deep.equal(
      [
        `AMOUNT_MISMATCH OVER ${t('A_amount').txnId} platform=1200 channel=1207 OPEN`,
        `CHANNEL_MISSING UNDER ${t('A_missing').txnId} platform=1100 channel=0 HELD`,
        `PLATFORM_MISSING OVER EXTRA-ALI-1 platform=0 channel=100 OPEN`,
        `STATUS_MISMATCH UNDER ${t('A_status').txnId} platform=1300 channel=1300 OPEN`,
      ].sort(),
    );
    const matched = alipay.classes.find(
      (c) => c.differenceClass === DifferenceClass.DIFFERENCE_CLASS_MATCHED,
    );
    // A_ok, A_refunded's payment and its refund.
    expect(matched?.count).to.equal(3n);
    expect(matched?.channelAmount).to.equal(1_000n + 2_000n + 500n);
    expect(alipay.heldCount).to.equal(1n);
    expect(alipay.openCount).to.equal(3n);
    // Suspense: +7 long (amount), +100 long (extra), −2 600 short (a paid trade billed as a refund).
    expect(alipay.suspenseOpenAmount).to.equal(7n + 100n + 2_600n);
    expect(alipay.rulesApplied['query_then_hold:HELD_CHANNEL_SUCCESS']).to.equal(1n);
    expect(alipay.rulesApplied['exception:OPENED']).to.equal(1n);
    expect(check(alipay, 'BILL_SUMMARY')?.status).to.equal('PASSED');
    expect(check(alipay, 'CLEARING_BALANCE')?.status, check(alipay, 'CLEARING_BALANCE')?.detail).to.equal(
      'PASSED',
    );
    // Fees: 0.6 % charged per trade, given back in proportion on the refund.
    // (A_status's trade line, billed as a refund, keeps the trade's fee; the extra line's fee is 1.)
    expect(alipay.channelFeeTotal).to.equal(
      fee(1_000n) + fee(2_000n) - fee(500n) + fee(1_200n) + fee(1_300n) + 1n,
    );
    expect(refundTxn).to.not.equal('');

    const wechat = await reconcilingReport(WECHAT, today);
    const wechatFound = (await differences(WECHAT, today)).map(summary).sort();
    expect(wechatFound).to.deep.equal(
      [
        `AMOUNT_MISMATCH UNDER ${t('W_amount').txnId} platform=2300 channel=2295 OPEN`,
        `CHANNEL_MISSING UNDER ${t('W_missing').txnId} platform=2200 channel=0 HELD`,
        `PLATFORM_MISSING OVER EXTRA-WX-1 platform=0 channel=100 OPEN`,
        `STATUS_MISMATCH OVER ${t('W_stuck').txnId} platform=2500 channel=2500 RESOLVED`,
        `STATUS_MISMATCH UNDER ${t('W_status').txnId} platform=2400 channel=2400 OPEN`,
      ].sort(),
    );
    expect(
      wechat.classes.find((c) => c.differenceClass === DifferenceClass.DIFFERENCE_CLASS_MATCHED)?.count,
    ).to.equal(1n);
    expect(wechat.suspenseOpenAmount).to.equal(5n + 100n + 2_400n);
    expect(wechat.rulesApplied['apply_channel_outcome:RESOLVED']).to.equal(1n);
  });

  it('2. a payment whose notification and status sync failed is completed by reconciliation; the merchant is notified once', async () => {
    const stuck = txns['W_stuck'];
    if (!stuck) throw new Error('no stuck payment');
    await waitFor('the stuck order PAID', async () =>
      (await orderState(stuck.orderId)) === OrderState.ORDER_STATE_PAID ? true : undefined,
    );
    await waitFor('the merchant notified', () =>
      Promise.resolve(p.notifications.some((n) => n.orderId === stuck.orderId) ? true : undefined),
    );
    // Delivered is final: the notifier sends it no more, so one now is one for good.
    expect((await notificationSettled(p, stuck.orderId)).state).to.equal('DELIVERED');
    const sent = p.notifications.filter((n) => n.orderId === stuck.orderId);
    expect(sent).to.have.length(1);
    expect(sent[0]?.signatureValid).to.equal(true);
    const resolved = (await differences(WECHAT, today)).find((d) => d.merchantOrderNo === stuck.txnId);
    expect(resolved?.resolution).to.equal(Resolution.RESOLUTION_AUTO_RULE);
    // Now the order is booked, the WeChat clearing account ties to the bill again.
    const r = await report(WECHAT, today);
    expect(check(r, 'CLEARING_BALANCE')?.status, check(r, 'CLEARING_BALANCE')?.detail).to.equal('PASSED');
  });

  it('3. the item held on day D is matched by the bill of D+1 without a difference', async () => {
    const held = (await differences(WECHAT, today)).find((d) => d.state === 'HELD');
    if (!held) throw new Error('no held item');
    const tomorrow = addDays(today, 1);
    const amount = txns['W_missing']?.amount ?? 0n;
    const bill = buildWechatBill({
      billType: 'ALL',
      rows: [
        wechatBillRow({
          tradeTime: `${tomorrow} 00:00:03`,
          appId: 'wx-app',
          mchId: 'mch',
          transactionId: held.channelTxnNo,
          outTradeNo: held.merchantOrderNo,
          tradeState: 'SUCCESS',
          totalFen: amount,
          feeFen: fee(amount),
        }),
      ],
    });
    const res = await p.paycore.reconciliation.importStatement({
      requestId: uid('upload'),
      channelNo: WECHAT,
      billDate: tomorrow,
      format: 'WECHAT_TRADE_ALL',
      content: Buffer.from(bill, 'utf8'),
      operator: OPERATOR,
    });
    expect(await differences(WECHAT, tomorrow)).to.deep.equal([]);
    expect(res.report?.rulesApplied['held_matched_later:RESOLVED']).to.equal(1n);
    expect(res.report?.heldCount).to.equal(0n);
    const before = (await differences(WECHAT, today)).find((d) => d.differenceId === held.differenceId);
    expect(before?.state).to.equal('RESOLVED');
    expect(before?.resolution).to.equal(Resolution.RESOLUTION_AUTO_RULE);
    expect(check(res.report as DayReport, 'CLEARING_BALANCE')?.status).to.equal('PASSED');
  });

  it('4. suspense is written off by operator decisions: account and ledger agree, the trial balance holds, the balance proofs pass', async () => {
    const open = (await differences(WECHAT, today)).filter((d) => d.state === 'OPEN');
    expect(open).to.have.length(3);
    const decisions = open
      .map(
        (d, i) =>
          `${d.differenceId},${['PLATFORM_IS_RIGHT', 'CHANNEL_IS_RIGHT', 'WRITTEN_OFF'][i]},checked with the channel`,
      )
      .join('\n');
    const res = await p.paycore.reconciliation.resolveDifferences({
      requestId: uid('resolve'),
      operator: OPERATOR,
      decisions: [],
      decisionsCsv: Buffer.from(decisions),
    });
    expect(res.differences.map((d) => [d.state, d.operator, d.suspenseAmount])).to.deep.equal(
      open.map(() => ['RESOLVED', OPERATOR, 0n]),
    );
    const again = await reasonOf(
      p.paycore.reconciliation.resolveDifferences({
        requestId: uid('resolve'),
        operator: OPERATOR,
        decisions: [
          {
            differenceId: open[0]?.differenceId ?? '',
            resolution: Resolution.RESOLUTION_WRITTEN_OFF,
            reason: 'again',
          },
        ],
        decisionsCsv: Buffer.alloc(0),
      }),
    );
    expect(again).to.equal(ReconciliationErrorReason.DIFFERENCE_ALREADY_RESOLVED);
    const r = await report(WECHAT, today);
    expect(r.suspenseOpenAmount).to.equal(0n);
    expect(check(r, 'SUSPENSE_BALANCE')?.status, check(r, 'SUSPENSE_BALANCE')?.detail).to.equal('PASSED');
    expect(check(r, 'CLEARING_BALANCE')?.status, check(r, 'CLEARING_BALANCE')?.detail).to.equal('PASSED');
    // Alipay's suspense is still open: account holds exactly that, and the ledger's subjects agree with account.
    const alipay = await report(ALIPAY, today);
    expect(check(alipay, 'SUSPENSE_BALANCE')?.status).to.equal('PASSED');
    // Ledger vouchers follow account postings through NATS: wait until the ledger has the last write-off.
    const ledgerNet = async (code: string) => {
      const res = await p.paycore.ledger.getSubjectBalances({
        accountingDate: today,
        level: 2,
      });
      const row = res.balances.find((b) => b.subjectCode === code && b.currency === 'CNY');
      return (row?.debitTotal?.amountMinor ?? 0n) - (row?.creditTotal?.amountMinor ?? 0n);
    };
    const accountNet = async (code: string) => {
      const listed = await p.paycore.account.listAccounts({
        ownerType: OwnerType.OWNER_TYPE_INTERNAL,
        ownerId: 'platform',
        page: { pageSize: 500, pageToken: '' },
      });
      let total = 0n;
      for (const account of listed.accounts.filter((a) => a.subjectCode === code))
        total += account.balance?.total?.amountMinor ?? 0n;
      return total;
    };
    await waitFor('the ledger agrees with account on suspense long', async () =>
      -(await ledgerNet('224105')) === (await accountNet('224105')) ? true : undefined,
    );
    await waitFor('the ledger agrees with account on suspense short', async () =>
      (await ledgerNet('122102')) === (await accountNet('122102')) ? true : undefined,
    );
    // What is left is Alipay's: +7 and +100 long, 2 600 short.
    expect(await accountNet('224105')).to.equal(107n);
    expect(await accountNet('122102')).to.equal(2_600n);
    const trial = await p.paycore.ledger.getTrialBalance({ accountingDate: today });
    expect(trial.balanced).to.equal(true);
  });

  it('5. three partial claims use up a bank line, a fourth is refused with the remaining amount, a replay posts once', async () => {
    const csv =
      '流水号,付款人,金额,币种,起息日\r\nB20240001,上海某某贸易有限公司,1000.00,CNY,' + today + '\r\n';
    const imported = await p.paycore.reconciliation.importBankStatement({
      requestId: uid('bank'),
      bank: 'bankA',
      content: iconv.encode(csv, 'gbk'),
    });
    const line = imported.lines[0];
    if (!line) throw new Error('no bank line');
    expect([line.payerName, line.amount, line.remaining]).to.deep.equal([
      '上海某某贸易有限公司',
      100_000n,
      100_000n,
    ]);
    const target =
      (
        await p.query<{ id: string }>(
          'SELECT settlement_account_id AS id FROM cashier.merchants WHERE merchant_id = $1',
          [merchantId],
        )
      )[0]?.id ?? '';
    const before = (await p.paycore.cashier.getMerchant({ merchantId })).settlementBalance?.amountMinor ?? 0n;
    const claim = (requestId: string, amount: bigint) =>
      p.paycore.reconciliation.claimBankLine({
        requestId,
        lineId: line.lineId,
        amount,
        accountId: target,
        operator: OPERATOR,
        bizCode: '90010101080001000000',
      });
    const second = uid('claim');
    const first = await claim(uid('claim'), 30_000n);
    const middle = await claim(second, 30_000n);
    const last = await claim(uid('claim'), 40_000n);
    expect([first.line?.remaining, middle.line?.remaining, last.line?.remaining]).to.deep.equal([
      70_000n,
      40_000n,
      0n,
    ]);
    let refusal: unknown;
    try {
      await claim(uid('claim'), 1n);
    } catch (err) {
      refusal = err;
    }
    expect(clientReasonOf(refusal)).to.equal(ReconciliationErrorReason.CLAIM_EXCEEDS_REMAINING);
    expect(String(refusal)).to.match(/only 0 minor units are left/);
    const replay = await claim(second, 30_000n);
    expect(replay.transferId).to.equal(middle.transferId);
    const after = (await p.paycore.cashier.getMerchant({ merchantId })).settlementBalance?.amountMinor ?? 0n;
    expect(after - before).to.equal(100_000n);
  });

  it('6. malformed files are refused with file, line and reason and leave nothing behind; the same file again is a replay', async () => {
    const counts = async () =>
      (
        await p.query<{ files: string; lines: string; runs: string }>(
          `SELECT (SELECT count(*) FROM recon.statement_files)::text AS files,
                (SELECT count(*) FROM recon.statement_lines)::text AS lines,
                (SELECT count(*) FROM recon.runs)::text AS runs`,
        )
      )[0];
    const start = await counts();
    const date = addDays(today, 3);
    const upload = (channelNo: string, format: string, content: Buffer, requestId = uid('up')) =>
      p.paycore.reconciliation.importStatement({
        requestId,
        channelNo,
        billDate: date,
        format,
        content,
        operator: OPERATOR,
      });
    const refusalOf = async (call: Promise<unknown>) => {
      try {
        await call;
      } catch (err) {
        return { reason: clientReasonOf(err), text: String(err) };
      }
      return { reason: 'SUCCEEDED', text: '' };
    };
    const alipayBill = buildAlipayBill({
      account: '20880000000000000156',
      billDate: date,
      exportedAt: `${addDays(date, 1)} 09:00:00`,
      lines: [
        alipayBillLine({
          tradeNo: '2024TRADE1',
          outTradeNo: 'ORDER-1',
          businessType: '交易',
          subject: 'x',
          createdAt: `${date} 10:00:00`,
          finishedAt: `${date} 10:00:05`,
          orderAmountFen: 1_000n,
          serviceFeeFen: -6n,
        }),
      ],
    });
    const truncated = await refusalOf(
      upload(ALIPAY, 'ALIPAY_TRADE_ZIP', alipayBill.subarray(0, alipayBill.length - 30)),
    );
    expect(truncated.reason).to.equal(ReconciliationErrorReason.MALFORMED_STATEMENT);
    expect(truncated.text).to.match(/100001_.+, line 0: .*central directory|end of central/);
    const [detail, summaryEntry] = readZip(alipayBill);
    const tampered = iconv
      .decode(detail?.data ?? Buffer.alloc(0), 'gbk')
      .replace('商家实收：10.00元', '商家实收：11.00元');
    const badFooter = writeZip(
      [
        { name: detail?.name ?? '', data: iconv.encode(tampered, 'gbk') },
        { name: summaryEntry?.name ?? '', data: summaryEntry?.data ?? Buffer.alloc(0) },
      ],
      { modifiedAt: { year: 2024, month: 1, day: 1, hour: 0, minute: 0, second: 0 }, nameEncoding: 'gbk' },
    );
    const footer = await refusalOf(upload(ALIPAY, 'ALIPAY_TRADE_ZIP', badFooter));
    expect(footer.reason).to.equal(ReconciliationErrorReason.MALFORMED_STATEMENT);
    expect(footer.text).to.match(/line 8: .*footer totals do not match/);
    const row = {
      tradeTime: `${date} 10:00:00`,
      appId: 'wx-app',
      mchId: 'mch',
      transactionId: '4200001',
      outTradeNo: 'ORDER-2',
      tradeState: 'SUCCESS',
      totalFen: 1_000n,
      feeFen: 6n,
    };
    const wechatText = buildWechatBill({ billType: 'ALL', rows: [wechatBillRow(row)] });
    const gbk = await refusalOf(upload(WECHAT, 'WECHAT_TRADE_ALL', iconv.encode(wechatText, 'gbk')));
    expect(gbk.reason).to.equal(ReconciliationErrorReason.MALFORMED_STATEMENT);
    expect(gbk.text).to.match(/line 0: the file is not valid UTF-8/);
    const formula = buildWechatBill({
      billType: 'ALL',
      rows: [wechatBillRow(row), wechatBillRow({ ...row, outTradeNo: 'ORDER-3', body: '=1+2' })],
    });
    const formulaRefusal = await refusalOf(upload(WECHAT, 'WECHAT_TRADE_ALL', Buffer.from(formula)));
    expect(formulaRefusal.reason).to.equal(ReconciliationErrorReason.MALFORMED_STATEMENT);
    expect(formulaRefusal.text).to.match(/line 3: a cell looks like a formula/);
    const csv =
      'out_payout_no,bank_serial,type,status,amount_fen,fee_fen,currency,finished_at,surprise\r\nP-1,S-1,代付,成功,100,0,CNY,20240101120000,x\r\n';
    const unknown = await refusalOf(upload(BANK, 'GENERIC_CSV', Buffer.from(csv)));
    expect(unknown.reason).to.equal(ReconciliationErrorReason.MALFORMED_STATEMENT);
    expect(unknown.text).to.match(/line 1: unknown column "surprise"/);
    expect(await counts()).to.deep.equal(start);

    const good = Buffer.from(wechatText);
    const once = await upload(WECHAT, 'WECHAT_TRADE_ALL', good);
    const twice = await upload(WECHAT, 'WECHAT_TRADE_ALL', good);
    expect(twice.report?.runId).to.equal(once.report?.runId);
    const end = await counts();
    expect(Number(end?.files)).to.equal(Number(start?.files) + 1);
    expect(Number(end?.lines)).to.equal(Number(start?.lines) + 1);
  });

  it('7. a run killed by SIGKILL while posting suspense resumes and ends with the same result', async () => {
    const date = addDays(today, 5);
    const lineCount = 120;
    const rows = Array.from(
      { length: lineCount },
      (_, i) => `P-${date}-${i},S-${i},代付,成功,${100 + i},0,CNY,${date.replace(/-/g, '')}120000,,`,
    );
    const csv = [
      'out_payout_no,bank_serial,type,status,amount_fen,fee_fen,currency,finished_at,account_no_masked,remark',
      ...rows,
    ].join('\r\n');
    const requestId = uid('kill');
    const request = {
      requestId,
      channelNo: BANK,
      billDate: date,
      format: 'GENERIC_CSV',
      content: Buffer.from(csv),
      operator: OPERATOR,
    };
    const postings = async () =>
      Number(
        (
          await p.query<{ n: string }>(
            `SELECT count(*) AS n FROM recon.suspense_postings s JOIN recon.differences d USING (difference_id)
            WHERE d.bill_date = $1 AND s.kind = 'POST'`,
            [date],
          )
        )[0]?.n,
      );
    // No retry: the call dies with the server it was sent to.
    const call = p.paycore.reconciliation
      .importStatement(request, { retry: false })
      .catch((err: unknown) => err);
    await waitFor('some suspense posted', async () => ((await postings()) >= 10 ? true : undefined));
    p.process('reconciliation').kill('SIGKILL');
    await p.process('reconciliation').exited;
    await call;
    const partial = await postings();
    expect(partial).to.be.lessThan(lineCount);
    await p.restart('reconciliation');
    const res = await p.paycore.reconciliation.importStatement(request);
    expect(res.report?.classes.map((c) => [className(c.differenceClass), c.count])).to.deep.equal([
      ['PLATFORM_MISSING', BigInt(lineCount)],
    ]);
    const total = rows.reduce((s, _, i) => s + BigInt(100 + i), 0n);
    expect(res.report?.suspenseOpenAmount).to.equal(total);
    expect(await postings()).to.equal(lineCount);
    expect(check(res.report as DayReport, 'SUSPENSE_BALANCE')?.status).to.equal('PASSED');
    const reported = await p.query<{ n: string }>(
      `SELECT count(*) AS n FROM recon.outbox WHERE subject LIKE '%day_reconciled%'`,
    );
    const runs = await p.query<{ n: string }>(`SELECT count(*) AS n FROM recon.runs`);
    expect(reported[0]?.n).to.equal(runs[0]?.n);
  });
});
