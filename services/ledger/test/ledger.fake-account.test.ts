/**
 * Unit-level service tests of the ledger (issue 4, must-show items 2 to 5),
 * on real Postgres and NATS, WITHOUT the account process: the test publishes
 * real TransferPosted / DaySealed protobuf events to a per-run account stream
 * through JetStream with Nats-Msg-Id, as account's outbox relay does, and
 * CloseDay reads account's daily balances from a FAKE port that the harness
 * keeps in step with the published legs (FakeAccountBook). The scripted month
 * against the real account service is with-account.test.ts.
 *
 * Each block starts its own ledger (own database and NATS prefix), so dates
 * close in order within a block and blocks never meet.
 */
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeStatusDetails, unary } from '@paycore/platform';
import {
  BalanceDirection,
  CheckStatus,
  DayStatus,
  DifferenceKind,
  EntrySide,
  type LedgerServiceClient,
  type PostManualVoucherRequest,
} from '@paycore/proto/paycore/ledger/v1/ledger_service';
import { DayClosed } from '@paycore/proto/paycore/ledger/v1/events';
import { ADJUST_CODE, startLedgerHarness, type LedgerHarness, type Leg } from './harness';

/** A customer pays a merchant through Alipay: Dr channel pending-clearing / Cr merchant pending-settlement. */
function payment(amountMinor: bigint, merchant = 'm-1'): Leg[] {
  return [
    { accountId: 'alipay-clearing', subjectCode: '30010101', side: 'DEBIT', amountMinor },
    { accountId: merchant, subjectCode: '224102', side: 'CREDIT', amountMinor },
  ];
}

async function refusal(
  promise: Promise<unknown>,
): Promise<{ code: number; reason: string | undefined; metadata: Record<string, string>; message: string }> {
  try {
    await promise;
  } catch (err) {
    const status = decodeStatusDetails(err as { code?: number; details?: string });
    return {
      code: status.code,
      reason: status.errorInfo?.reason,
      metadata: status.errorInfo?.metadata ?? {},
      message: status.message,
    };
  }
  throw new Error('expected the call to fail');
}

const FAILED_PRECONDITION = 9;
const INVALID_ARGUMENT = 3;
const ALREADY_EXISTS = 6;

async function voucherCount(h: LedgerHarness, date: string): Promise<number> {
  const rows = await h.sql<{ n: number }>(
    'SELECT count(*)::int AS n FROM vouchers WHERE accounting_date = $1',
    [date],
  );
  return rows[0]?.n ?? -1;
}

describe('ledger service (fake account port): duplicates and redeliveries', function () {
  this.timeout(30_000);
  let h: LedgerHarness;
  before(async () => {
    h = await startLedgerHarness();
    h.book.normalSides.set('alipay-clearing', 'DEBIT');
    h.book.normalSides.set('m-1', 'CREDIT');
  });
  after(async () => h.close());

  it('creates one voucher per transfer whatever arrives twice', async () => {
    const date = '2026-03-01';
    const legs = payment(1_000n);
    await h.postTransfer('t-1', date, legs);
    // The same message id again within the duplicate window: JetStream drops it.
    await h.republish('t-1', date, legs, 'tp-t-1');
    await h.waitHandled(1);
    // The relay republished the event under another id (e.g. after losing its ack): the inbox cannot
    // tell, the unique transfer id does.
    await h.republish('t-1', date, legs, 'relay-replay-t-1');
    await h.waitHandled(2);
    // A redelivery of the very same message id after the duplicate window: the inbox skips it.
    await h.nats.jsm.streams.update(h.naming.stream('account'), { duplicate_window: 100 * 1_000_000 });
    await sleep(300);
    await h.republish('t-1', date, legs, 'tp-t-1');
    const stream = await h.nats.jsm.streams.info(h.naming.stream('account'));
    expect(stream.state.messages, 'messages in the stream').to.equal(3);
    // The consumer has seen the redelivery when its ack floor reaches the stream's last message.
    const durable = h.naming.durable('ledger', 'vouchers');
    const deadline = Date.now() + 20_000;
    for (;;) {
      const consumer = await h.nats.jsm.consumers.info(h.naming.stream('account'), durable);
      if (consumer.ack_floor.stream_seq >= stream.state.last_seq && consumer.num_ack_pending === 0) break;
      if (Date.now() > deadline) throw new Error(`ledger acked up to ${consumer.ack_floor.stream_seq}`);
      await sleep(25);
    }
    expect(await voucherCount(h, date)).to.equal(1);
    const lines = await h.sql<{
      subject_code: string;
      side: string;
      amount_minor: string;
      account_id: string;
    }>(
      `SELECT subject_code, side, amount_minor::text AS amount_minor, account_id FROM voucher_lines ORDER BY line_no`,
    );
    expect(lines).to.deep.equal([
      { subject_code: '30010101', side: 'DEBIT', amount_minor: '1000', account_id: 'alipay-clearing' },
      { subject_code: '224102', side: 'CREDIT', amount_minor: '1000', account_id: 'm-1' },
    ]);
    const inbox = await h.sql<{ n: number }>('SELECT count(*)::int AS n FROM inbox');
    expect(inbox[0]?.n, 'inbox rows: the first delivery and the relay replay').to.equal(2);

    // The day still closes: account counted one set of entries, the ledger one voucher.
    await h.sealDay(date);
    await h.waitHandled(3);
    const client = await h.client();
    const closed = await unary(client.closeDay.bind(client), {
      requestId: 'close-1',
      accountingDate: date,
      bizContext: { code: ADJUST_CODE },
    });
    expect(closed.status).to.equal(DayStatus.DAY_STATUS_CLOSED);
  });
});

describe('ledger service (fake account port): a missing voucher blocks the close', function () {
  this.timeout(30_000);
  let h: LedgerHarness;
  let client: LedgerServiceClient;
  const date = '2026-03-02';
  before(async () => {
    h = await startLedgerHarness();
    h.book.normalSides.set('alipay-clearing', 'DEBIT');
    h.book.normalSides.set('m-1', 'CREDIT');
    h.book.normalSides.set('m-2', 'CREDIT');
    client = await h.client();
  });
  after(async () => h.close());

  it('refuses CloseDay before account sealed the date', async () => {
    await h.postTransfer('t-1', date, payment(1_000n));
    await h.waitHandled(1);
    const refused = await refusal(
      unary(client.closeDay.bind(client), {
        requestId: 'close-early',
        accountingDate: date,
        bizContext: { code: ADJUST_CODE },
      }),
    );
    expect([refused.code, refused.reason]).to.deep.equal([FAILED_PRECONDITION, 'DAY_NOT_SEALED']);
  });

  it('names the subject and the difference, then closes once the voucher is restored', async () => {
    await h.postTransfer('t-2', date, payment(2_500n, 'm-2'));
    await h.postTransfer('t-3', date, payment(700n));
    await h.sealDay(date);
    await h.waitHandled(4);
    // A consumer that skipped an event: the voucher of t-2 is gone (its inbox row stays).
    await h.sql(`DELETE FROM vouchers WHERE transfer_id = 't-2'`);

    const refused = await refusal(
      unary(client.closeDay.bind(client), {
        requestId: 'close-1',
        accountingDate: date,
        bizContext: { code: ADJUST_CODE },
      }),
    );
    expect([refused.code, refused.reason]).to.deep.equal([FAILED_PRECONDITION, 'CLOSE_CHECK_FAILED']);
    expect(refused.metadata['differences']).to.include('224102 CNY: ledger voucher lines 2, account 3');
    expect(refused.metadata['differences']).to.include('30010101 CNY: ledger debits 1700, account 4200');

    const { report, dayStatus } = await unary(client.getCheckReport.bind(client), { accountingDate: date });
    expect(dayStatus).to.equal(DayStatus.DAY_STATUS_SEALED);
    expect(report?.status).to.equal(CheckStatus.CHECK_STATUS_FAILED);
    const shown = report?.differences.map((d) => [d.kind, d.subjectCode, d.difference]);
    expect(shown).to.deep.include.members([
      [DifferenceKind.DIFFERENCE_KIND_ENTRY_COUNT, '224102', -1n],
      [DifferenceKind.DIFFERENCE_KIND_CREDIT_TOTAL, '224102', -2_500n],
      [DifferenceKind.DIFFERENCE_KIND_ENTRY_COUNT, '30010101', -1n],
      [DifferenceKind.DIFFERENCE_KIND_DEBIT_TOTAL, '30010101', -2_500n],
      // 账账核对: subject closings against the sum of their accounts' closings.
      [DifferenceKind.DIFFERENCE_KIND_CLOSING_BALANCE, '224102', 2_500n],
      [DifferenceKind.DIFFERENCE_KIND_CLOSING_BALANCE, '30010101', -2_500n],
    ]);
    expect(report?.differences).to.have.length(6);
    expect(await voucherCount(h, date)).to.equal(2);

    // Restore: replay the event under a new message id, as an operator replaying the stream would.
    await h.republish('t-2', date, payment(2_500n, 'm-2'), 'replay-t-2');
    await h.waitHandled(5);
    const closed = await unary(client.closeDay.bind(client), {
      requestId: 'close-2',
      accountingDate: date,
      bizContext: { code: ADJUST_CODE },
    });
    expect(closed.status).to.equal(DayStatus.DAY_STATUS_CLOSED);
    expect(closed.report?.status).to.equal(CheckStatus.CHECK_STATUS_PASSED);
    expect(closed.report?.differences).to.deep.equal([]);
    // Closing again returns the first result.
    const again = await unary(client.closeDay.bind(client), {
      requestId: 'close-3',
      accountingDate: date,
      bizContext: { code: ADJUST_CODE },
    });
    expect(again.closedAt?.getTime()).to.equal(closed.closedAt?.getTime());

    // ledger.day_closed went out through the outbox.
    const consumer = await h.nats.js.consumers.get(h.naming.stream('ledger'));
    const message = await consumer.next({ expires: 5_000 });
    expect(message?.subject).to.equal(h.naming.subject('ledger', 'day_closed'));
    const event = DayClosed.decode(message?.data ?? new Uint8Array());
    expect(event.accountingDate).to.equal(date);
    expect(event.voucherCount).to.equal(3n);
    expect(event.totals[0]).to.deep.include({ currency: 'CNY' });
    expect(event.totals[0]?.periodDebit?.amountMinor).to.equal(4_200n);
    expect(event.totals[0]?.closingDebit?.amountMinor).to.equal(event.totals[0]?.closingCredit?.amountMinor);
  });

  it('sends a transfer dated a closed date to the exception table, not the books', async () => {
    await h.postTransfer('t-late', date, payment(99n), { book: false });
    await h.waitHandled(6);
    expect(await voucherCount(h, date)).to.equal(3);
    const { exceptions } = await unary(client.listVoucherExceptions.bind(client), { page: undefined });
    expect(exceptions.map((e) => [e.transferId, e.reason, e.accountingDate])).to.deep.equal([
      ['t-late', 'DAY_CLOSED', date],
    ]);
  });

  it('refuses to close a date out of order', async () => {
    await h.sealDay('2026-03-04');
    await h.waitHandled(7);
    const refused = await refusal(
      unary(client.closeDay.bind(client), {
        requestId: 'close-4',
        accountingDate: '2026-03-04',
        bizContext: { code: ADJUST_CODE },
      }),
    );
    expect([refused.code, refused.reason]).to.deep.equal([FAILED_PRECONDITION, 'DAY_NOT_CLOSABLE']);
  });
});

describe('ledger service (fake account port): manual vouchers', function () {
  this.timeout(30_000);
  let h: LedgerHarness;
  let client: LedgerServiceClient;
  const closedDate = '2026-03-05';
  const openDate = '2026-03-06';

  function manual(
    requestId: string,
    lines: [string, 'DEBIT' | 'CREDIT', bigint][],
    accountingDate = openDate,
  ): PostManualVoucherRequest {
    return {
      requestId,
      bizContext: { code: ADJUST_CODE },
      accountingDate,
      reason: 'write off suspense short found in March reconciliation',
      lines: lines.map(([subjectCode, side, amountMinor]) => ({
        subjectCode,
        side: side === 'DEBIT' ? EntrySide.ENTRY_SIDE_DEBIT : EntrySide.ENTRY_SIDE_CREDIT,
        amount: { amountMinor, currency: 'CNY' },
      })),
    };
  }

  async function changes(): Promise<number[]> {
    const rows = await h.sql<{ v: number; l: number; k: number }>(
      `SELECT (SELECT count(*)::int FROM vouchers) AS v, (SELECT count(*)::int FROM voucher_lines) AS l,
              (SELECT count(*)::int FROM idempotency_claims) AS k`,
    );
    return [rows[0]?.v ?? -1, rows[0]?.l ?? -1, rows[0]?.k ?? -1];
  }

  before(async () => {
    h = await startLedgerHarness();
    client = await h.client(['ledger:read', 'ledger:adjust', 'ledger:admin'], 'ops-alice');
    await h.sealDay(closedDate);
    await h.waitHandled(1);
    await unary(client.closeDay.bind(client), {
      requestId: 'close-1',
      accountingDate: closedDate,
      bizContext: { code: ADJUST_CODE },
    });
  });
  after(async () => h.close());

  it('records a balanced voucher on ledger-only leaves, with the operator and reason, idempotently', async () => {
    const request = manual('adj-1', [
      ['671101', 'DEBIT', 300n],
      ['4103', 'CREDIT', 300n],
    ]);
    const { voucher } = await unary(client.postManualVoucher.bind(client), request);
    expect(voucher).to.deep.include({
      operator: 'ops-alice',
      reason: request.reason,
      accountingDate: openDate,
      bizCode: ADJUST_CODE,
    });
    const replay = await unary(client.postManualVoucher.bind(client), request);
    expect(replay.voucher?.voucherId).to.equal(voucher?.voucherId);
    const reused = await refusal(
      unary(client.postManualVoucher.bind(client), { ...request, reason: 'another reason' }),
    );
    expect([reused.code, reused.reason]).to.deep.equal([ALREADY_EXISTS, 'IDEMPOTENCY_KEY_REUSED']);
    // The platform claim names the first differing field of the payload.
    expect(reused.metadata).to.include({
      request_id: 'adj-1',
      operation: 'ledger.PostManualVoucher',
      field: 'reason',
    });
    const before = await changes();
    for (const requestId of ['', 'x'.repeat(129)]) {
      const malformed = await refusal(
        unary(client.postManualVoucher.bind(client), { ...request, requestId }),
      );
      expect([malformed.code, malformed.reason], `request_id of ${requestId.length}`).to.deep.equal([
        INVALID_ARGUMENT,
        'INVALID_FIELD',
      ]);
    }
    expect(await changes()).to.deep.equal(before);
  });

  it('refuses an unbalanced voucher, a non-leaf subject, an account-kept subject and a closed date, changing nothing', async () => {
    const before = await changes();
    const cases: [PostManualVoucherRequest, number, string, string][] = [
      [
        manual('adj-2', [
          ['671101', 'DEBIT', 300n],
          ['4103', 'CREDIT', 299n],
        ]),
        INVALID_ARGUMENT,
        'UNBALANCED_VOUCHER',
        'differ by 1 minor units of CNY',
      ],
      [
        manual('adj-3', [
          ['6711', 'DEBIT', 300n],
          ['4103', 'CREDIT', 300n],
        ]),
        INVALID_ARGUMENT,
        'NON_LEAF_SUBJECT',
        'subject 6711 has child subjects',
      ],
      [
        manual('adj-4', [
          ['224105', 'DEBIT', 300n],
          ['630101', 'CREDIT', 300n],
        ]),
        INVALID_ARGUMENT,
        'SUBJECT_KEPT_BY_ACCOUNT',
        'through account Transfer',
      ],
      [
        manual(
          'adj-5',
          [
            ['671101', 'DEBIT', 300n],
            ['4103', 'CREDIT', 300n],
          ],
          closedDate,
        ),
        FAILED_PRECONDITION,
        'DAY_CLOSED',
        `${closedDate} is closed`,
      ],
    ];
    for (const [request, code, reason, text] of cases) {
      const refused = await refusal(unary(client.postManualVoucher.bind(client), request));
      expect([refused.code, refused.reason], request.requestId).to.deep.equal([code, reason]);
      expect(refused.message, request.requestId).to.include(text);
    }
    expect(await changes()).to.deep.equal(before);
  });

  it('requires the ledger:adjust scope', async () => {
    const reader = await h.client(['ledger:read']);
    const refused = await refusal(
      unary(
        reader.postManualVoucher.bind(reader),
        manual('adj-6', [
          ['671101', 'DEBIT', 1n],
          ['4103', 'CREDIT', 1n],
        ]),
      ),
    );
    expect(refused.reason).to.equal('MISSING_SCOPE');
  });
});

describe('ledger service (fake account port): point-in-time reports', function () {
  this.timeout(30_000);
  let h: LedgerHarness;
  let client: LedgerServiceClient;
  before(async () => {
    h = await startLedgerHarness();
    h.book.normalSides.set('alipay-clearing', 'DEBIT');
    h.book.normalSides.set('wechat-clearing', 'DEBIT');
    h.book.normalSides.set('m-1', 'CREDIT');
    h.book.normalSides.set('bank-a', 'DEBIT');
    client = await h.client();
  });
  after(async () => h.close());

  async function snapshot(date: string): Promise<unknown[]> {
    const level1 = await unary(client.getSubjectBalances.bind(client), { accountingDate: date, level: 1 });
    const level2 = await unary(client.getSubjectBalances.bind(client), { accountingDate: date, level: 2 });
    const leaves = await unary(client.getSubjectBalances.bind(client), { accountingDate: date, level: 0 });
    const trial = await unary(client.getTrialBalance.bind(client), { accountingDate: date });
    return [level1, level2, leaves, trial];
  }

  it('a closed date reads the same after later days are posted and closed', async () => {
    const d1 = '2026-03-10';
    const d2 = '2026-03-11';
    await h.postTransfer('t-1', d1, payment(10_000n));
    // Alipay settles to bank A less than it owes: the common-class subject turns to a credit balance.
    await h.postTransfer('t-2', d1, [
      { accountId: 'bank-a', subjectCode: '100201', side: 'DEBIT', amountMinor: 12_000n },
      { accountId: 'alipay-clearing', subjectCode: '30010101', side: 'CREDIT', amountMinor: 12_000n },
    ]);
    await h.sealDay(d1);
    await h.waitHandled(3);
    const provisional = await unary(client.getTrialBalance.bind(client), { accountingDate: d1 });
    expect(provisional.provisional).to.equal(true);
    await unary(client.closeDay.bind(client), {
      requestId: 'close-d1',
      accountingDate: d1,
      bizContext: { code: ADJUST_CODE },
    });
    const before = await snapshot(d1);

    const { balances } = await unary(client.getSubjectBalances.bind(client), {
      accountingDate: d1,
      level: 2,
    });
    const clearing = balances.find((b) => b.subjectCode === '300101');
    expect([clearing?.closingDirection, clearing?.closing?.amountMinor]).to.deep.equal([
      BalanceDirection.BALANCE_DIRECTION_CREDIT,
      2_000n,
    ]);

    await h.postTransfer('t-3', d2, payment(5_000n));
    await h.postTransfer('t-4', d2, [
      { accountId: 'wechat-clearing', subjectCode: '30010102', side: 'DEBIT', amountMinor: 800n },
      { accountId: 'm-1', subjectCode: '224102', side: 'CREDIT', amountMinor: 800n },
    ]);
    await unary(client.postManualVoucher.bind(client), {
      requestId: 'adj-d2',
      bizContext: { code: ADJUST_CODE },
      accountingDate: d2,
      reason: 'capital injection',
      lines: [
        {
          subjectCode: '671101',
          side: EntrySide.ENTRY_SIDE_DEBIT,
          amount: { amountMinor: 50n, currency: 'CNY' },
        },
        {
          subjectCode: '4001',
          side: EntrySide.ENTRY_SIDE_CREDIT,
          amount: { amountMinor: 50n, currency: 'CNY' },
        },
      ],
    });
    await h.sealDay(d2);
    await h.waitHandled(6);
    const closed = await unary(client.closeDay.bind(client), {
      requestId: 'close-d2',
      accountingDate: d2,
      bizContext: { code: ADJUST_CODE },
    });
    expect(closed.report?.status).to.equal(CheckStatus.CHECK_STATUS_PASSED);
    // A late event for d1 goes to exceptions and leaves d1 alone.
    await h.postTransfer('t-late', d1, payment(1n), { book: false });
    await h.waitHandled(7);

    expect(await snapshot(d1)).to.deep.equal(before);
    const trial2 = await unary(client.getTrialBalance.bind(client), { accountingDate: d2 });
    expect(trial2.balanced).to.equal(true);
    expect(trial2.provisional).to.equal(false);
    const level1 = trial2.rows.find((r) => r.subjectCode === '2241');
    // Opening of d2 is the closing of d1: 10,000 credit on merchant pending-settlement, plus 5,800 during d2.
    expect([
      level1?.opening?.amountMinor,
      level1?.creditTotal?.amountMinor,
      level1?.closing?.amountMinor,
    ]).to.deep.equal([10_000n, 5_800n, 15_800n]);
  });
});
