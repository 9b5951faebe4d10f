/**
 * Proves settlement's side of reconciliation against real Postgres (a fresh
 * database, the service's migrations; handlers run in the same kind of
 * transaction the inbox gives them), with a recording account port:
 * - a DayReconciled that overtook one of its day's DifferenceOpened is
 *   refused (the inbox retries it) and confirms nothing;
 * - then it confirms every item of the channel day except the one an open
 *   difference names, records the day once and queues one deposit move; the
 *   same fact again (a republish) confirms nothing more and queues nothing;
 * - a payment cleared after its day was reconciled arrives confirmed;
 * - a DifferenceResolved confirms the item it named; one that overtook its
 *   DifferenceOpened is not reopened by it;
 * - the deposit move through a transit account posts two transfers with
 *   request ids of (channel no, bill date) and ends DEPOSITED; driving it
 *   again posts nothing; a channel without a clearing subject is UNMAPPED.
 */
import { expect } from 'chai';
import { createDataSource, runMigrations } from '@paycore/platform';
import { createTestDatabase, type TestDatabase } from '@paycore/testing';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { PgSettlementStore } from '../src/adapters/pg/store';
import { AccountDirectory, DEFAULT_CLEARING_SUBJECTS } from '../src/application/accounts';
import {
  ChannelDays,
  Deposits,
  DifferencesPendingError,
  type DayReconciledFact,
} from '../src/application/channel-days';
import { Clearing } from '../src/application/clearing';
import type { AccountPort, AccountRef, ResolvedLeg, SettlementTx } from '../src/application/ports';
import { depositRouter } from '../src/service';
import type { BusinessCalendar } from '../src/domain/cycles';

const everyDay: BusinessCalendar = {
  isBusinessDay: () => true,
  addBusinessDays: (date, n) =>
    new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10),
};

class RecordingAccount implements AccountPort {
  readonly transfers = new Map<string, readonly ResolvedLeg[]>();
  calls = 0;
  find(ref: AccountRef, currency: string): Promise<string | undefined> {
    return Promise.resolve(`${ref.ownerId}:${ref.subject}:${currency}`);
  }
  open(): Promise<string> {
    return Promise.reject(new Error('every account exists here'));
  }
  transfer(requestId: string, _bizCode: string, legs: readonly ResolvedLeg[]): Promise<void> {
    this.calls += 1;
    // Account answers a repeated request id with its first result; record the first only.
    if (!this.transfers.has(requestId)) this.transfers.set(requestId, legs);
    return Promise.resolve();
  }
}

describe('settlement and reconciliation facts (real Postgres)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let ds: DataSource;
  let store: PgSettlementStore;
  const clearing = new Clearing(everyDay);
  const account = new RecordingAccount();
  const router = depositRouter('200001=100201/30010201', '100201', DEFAULT_CLEARING_SUBJECTS);
  const queued: string[] = [];
  const channelDays = new ChannelDays(router, {
    depositDue: (channelNo, billDate) => {
      queued.push(`${channelNo}:${billDate}`);
      return { subject: 'test.deposit_due', payload: new Uint8Array([1]) };
    },
  });

  /** Runs a handler in the kind of transaction the inbox consumer hands it. */
  const inInbox = <T>(fn: (tx: SettlementTx) => Promise<T>): Promise<T> =>
    ds.transaction((manager) => fn(store.inManager(manager)));
  const pay = (id: string, channelNo: string, date: string) =>
    inInbox((tx) =>
      clearing.payment(tx, {
        paymentId: id,
        orderId: `o-${id}`,
        merchantId: 'm1',
        merchantOrderNo: `no-${id}`,
        amountMinor: 10_000n,
        currency: 'CNY',
        bizCode: '10010101200120000100',
        channelNo,
        channelTxnId: `txn-${id}`,
        payChannel: '2001',
        accountingDate: date,
      }),
    );
  const confirmed = async (id: string): Promise<boolean> => {
    const rows = await ds.query<{ confirmed: boolean }[]>(
      'SELECT confirmed FROM settlement.items WHERE item_id = $1',
      [`pay:${id}`],
    );
    return rows[0]?.confirmed === true;
  };
  const fact = (over: Partial<DayReconciledFact> = {}): DayReconciledFact => ({
    channelNo: '200001',
    billDate: '2026-06-03',
    runId: 'run-1',
    payChannel: '',
    currency: 'CNY',
    netSettlementMinor: 19_880n,
    channelFeeMinor: 120n,
    differenceCount: 2n,
    ...over,
  });

  before(async () => {
    db = await createTestDatabase();
    ds = createDataSource({
      url: db.url,
      schema: 'settlement',
      applicationName: 'settlement-test',
      poolSizeMax: 4,
    });
    await ds.initialize();
    await runMigrations(ds, { schema: 'settlement', migrationsDir: join(__dirname, '..', 'migrations') });
    store = new PgSettlementStore(ds);
    await inInbox((tx) => clearing.merchantRegistered(tx, 'm1', 'Merchant One', 'CNY'));
  });
  after(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('confirms the day but the disputed item, once; resolution confirms it; the move is posted once', async () => {
    await pay('p1', '200001', '2026-06-03');
    await pay('p2', '200001', '2026-06-03');
    await pay('p9', '200001', '2026-06-04');
    const difference = {
      differenceId: 'd1',
      channelNo: '200001',
      billDate: '2026-06-03',
      channelTxnNo: '',
      merchantOrderNo: 'txn-p2',
      platformTxnId: 'txn-p2',
      open: true,
    };
    await inInbox((tx) => channelDays.differenceOpened(tx, difference));

    // Two differences were found for the day; only one has arrived.
    let refused: unknown;
    await inInbox((tx) => channelDays.dayReconciled(tx, fact())).catch((error: unknown) => {
      refused = error;
    });
    expect(refused).to.be.instanceOf(DifferencesPendingError);
    expect(await confirmed('p1')).to.equal(false);

    await inInbox((tx) =>
      channelDays.differenceOpened(tx, {
        ...difference,
        differenceId: 'd2',
        merchantOrderNo: 'EXTRA-1',
        platformTxnId: '',
      }),
    );
    const first = await inInbox((tx) => channelDays.dayReconciled(tx, fact()));
    expect(first).to.deep.equal({ confirmed: 1n, recorded: true });
    expect([await confirmed('p1'), await confirmed('p2'), await confirmed('p9')]).to.deep.equal([
      true,
      false,
      false,
    ]);
    const again = await inInbox((tx) => channelDays.dayReconciled(tx, fact({ runId: 'run-1' })));
    expect(again).to.deep.equal({ confirmed: 0n, recorded: false });
    expect(queued).to.deep.equal(['200001:2026-06-03']);

    await pay('p3', '200001', '2026-06-03');
    expect(await confirmed('p3')).to.equal(true);

    const lifted = await inInbox((tx) => channelDays.differenceResolved(tx, { ...difference, open: false }));
    expect(lifted).to.equal(1n);
    expect(await confirmed('p2')).to.equal(true);

    const deposits = new Deposits(
      store,
      new AccountDirectory(store, account, { clearingSubjects: DEFAULT_CLEARING_SUBJECTS }),
      account,
    );
    expect(await deposits.drive('200001', '2026-06-03')).to.equal('FINAL');
    expect([...account.transfers.keys()]).to.deep.equal([
      'settle-deposit:200001:2026-06-03',
      'settle-deposit-bank:200001:2026-06-03',
    ]);
    const [toTransit, toDeposit] = [...account.transfers.values()];
    expect(toTransit?.map((l) => [l.accountId, l.side, l.amountMinor])).to.deep.equal([
      ['platform:30010201:CNY', 'DEBIT', 19_880n],
      ['channel-200001:660301:CNY', 'DEBIT', 120n],
      ['platform:30010102:CNY', 'CREDIT', 20_000n],
    ]);
    expect(toDeposit?.map((l) => [l.accountId, l.side, l.amountMinor])).to.deep.equal([
      ['platform:100201:CNY', 'DEBIT', 19_880n],
      ['platform:30010201:CNY', 'CREDIT', 19_880n],
    ]);
    const calls = account.calls;
    expect(await deposits.drive('200001', '2026-06-03')).to.equal('FINAL');
    expect(account.calls).to.equal(calls);
    const state = await ds.query<{ deposit_state: string }[]>(
      "SELECT deposit_state FROM settlement.channel_days WHERE day_id = '200001:2026-06-03'",
    );
    expect(state[0]?.deposit_state).to.equal('DEPOSITED');
  });

  it('keeps a resolution that overtook its opening, and records an unknown channel as UNMAPPED', async () => {
    await pay('p4', '100001', '2026-06-05');
    const difference = {
      differenceId: 'd4',
      channelNo: '100001',
      billDate: '2026-06-05',
      channelTxnNo: '',
      merchantOrderNo: 'txn-p4',
      platformTxnId: 'txn-p4',
      open: false,
    };
    await inInbox((tx) => channelDays.differenceResolved(tx, difference));
    await inInbox((tx) => channelDays.differenceOpened(tx, { ...difference, open: true }));
    await inInbox((tx) =>
      channelDays.dayReconciled(
        tx,
        fact({ channelNo: '100001', billDate: '2026-06-05', differenceCount: 1n }),
      ),
    );
    expect(await confirmed('p4')).to.equal(true);

    const unmapped = await inInbox((tx) =>
      channelDays.dayReconciled(
        tx,
        fact({ channelNo: '900009', billDate: '2026-06-05', differenceCount: 0n }),
      ),
    );
    expect(unmapped.recorded).to.equal(true);
    expect(queued).to.not.include('900009:2026-06-05');
    const rows = await ds.query<{ deposit_state: string }[]>(
      "SELECT deposit_state FROM settlement.channel_days WHERE day_id = '900009:2026-06-05'",
    );
    expect(rows[0]?.deposit_state).to.equal('UNMAPPED');
  });
});
