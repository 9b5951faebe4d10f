/**
 * Proves clearing and batch creation against real Postgres (a fresh
 * database, the service's migrations): payments and a partial refund of a
 * shared payment are cleared with their fees and shares; the day's batch sums
 * them so that payout + fees + shares + carried = payments − refunds to the
 * cent; creating the same (merchant, date) batch again creates nothing; the
 * batch moves only along the transition table; a channel day confirmation
 * leaves items named by an open difference unconfirmed; clearing many
 * payments in one transaction (Clearing.payments) gives every item the fee,
 * rule, settlement date and shares that clearing them one by one gives
 * (month-volume tiers and a redelivered payment included), and an unknown
 * merchant refuses the whole batch.
 */
import { expect } from 'chai';
import { createDataSource, runMigrations } from '@paycore/platform';
import { createTestDatabase, type TestDatabase } from '@paycore/testing';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { PgSettlementStore } from '../src/adapters/pg/store';
import { Clearing } from '../src/application/clearing';
import { decidePayout } from '../src/domain/batch';
import type { BusinessCalendar } from '../src/domain/cycles';

const weekdays: BusinessCalendar = {
  isBusinessDay: (date) => ![0, 6].includes(new Date(`${date}T00:00:00Z`).getUTCDay()),
  addBusinessDays(date, n) {
    let current = date;
    let left = n;
    for (let step = 0; step < 60; step++) {
      if (left === 0 && this.isBusinessDay(current)) return current;
      const d = new Date(`${current}T00:00:00Z`);
      d.setUTCDate(d.getUTCDate() + 1);
      current = d.toISOString().slice(0, 10);
      if (left > 0 && this.isBusinessDay(current)) left -= 1;
    }
    throw new Error('bound');
  },
};

describe('settlement store (real Postgres)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let ds: DataSource;
  let store: PgSettlementStore;
  const clearing = new Clearing(weekdays);

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
  });
  after(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('clears payments and a refund with fees and shares, and batches them so the sums hold to the cent', async () => {
    await store.transaction('t.setup', 'READ COMMITTED', async (tx) => {
      await clearing.merchantRegistered(tx, 'm1', 'Merchant One', 'CNY');
      await tx.insertFeeRule('m1', '*', '*', '2026-01-01', {
        kind: 'PERCENTAGE',
        rate: '0.006',
        fixedMinor: 0n,
        minFeeMinor: 1n,
        maxFeeMinor: 0n,
        tierBasis: 'NONE',
        tiers: [],
        rounding: 'ROUND_HALF_UP',
        bearer: 'MERCHANT',
        refundReturnsFee: true,
      });
      await tx.saveReceivers('m1', [
        { receiverId: 'r1', kind: 'RATIO', ratio: '0.333333333333333333', fixedMinor: 0n },
        { receiverId: 'r2', kind: 'RATIO', ratio: '0.142857142857142857', fixedMinor: 0n },
        { receiverId: 'r3', kind: 'FIXED', ratio: '0', fixedMinor: 37n },
      ]);
    });
    const pay = (id: string, amount: bigint, channelNo: string) =>
      store.transaction('t.pay', 'READ COMMITTED', (tx) =>
        clearing.payment(tx, {
          paymentId: id,
          orderId: `o-${id}`,
          merchantId: 'm1',
          merchantOrderNo: `no-${id}`,
          amountMinor: amount,
          currency: 'CNY',
          bizCode: '10010101100110000100',
          channelNo,
          channelTxnId: `txn-${id}`,
          payChannel: '1001',
          accountingDate: '2026-06-03',
        }),
      );
    await pay('p1', 10_001n, '100001');
    await pay('p2', 2_550n, '100001');
    await pay('p2', 2_550n, '100001'); // a redelivered event clears nothing twice
    await pay('p3', 777n, '000000');
    const split = await store.transaction('t.split', 'READ COMMITTED', (tx) =>
      clearing.splitPayment(tx, 'm1', 'p1'),
    );
    expect(split.shares.reduce((a, s) => a + s.amountMinor, 0n)).to.equal(split.baseMinor);
    await store.transaction('t.refund', 'READ COMMITTED', (tx) =>
      clearing.refund(tx, {
        refundId: 'rf1',
        orderId: 'o-p1',
        merchantId: 'm1',
        amountMinor: 3_333n,
        currency: 'CNY',
        bizCode: '10010102100110000100',
        accountingDate: '2026-06-03',
      }),
    );
    await store.transaction('t.diff', 'READ COMMITTED', async (tx) => {
      await tx.openDifference({
        differenceId: 'd1',
        channelNo: '100001',
        billDate: '2026-06-03',
        channelTxnNo: 'ALI-2026-0001',
        // Reconciliation names paycore's item by channel-router's txn id (the order number sent to the channel).
        merchantOrderNo: 'txn-p2',
        platformTxnId: '',
        open: true,
      });
      expect(await tx.confirmChannelDay('100001', '2026-06-03')).to.equal(1n);
    });

    const create = () =>
      store.transaction('t.batch', 'READ COMMITTED', (tx) =>
        tx.createBatch('m1', '2026-06-04', false, (carried, totals) => ({
          ...decidePayout(carried, totals, 0n, '0'),
          releaseOn: null,
        })),
      );
    const first = await create();
    expect(first.created).to.equal(true);
    const b = first.batch;
    expect(b.itemCount).to.equal(4n);
    expect(b.grossMinor).to.equal(10_001n + 2_550n + 777n);
    expect(b.refundsMinor).to.equal(3_333n);
    expect(b.payoutMinor + b.feesMinor + b.sharesMinor + b.carriedOutMinor).to.equal(
      b.grossMinor - b.refundsMinor,
    );
    const shares = await store.transaction('t.shares', 'READ COMMITTED', (tx) => tx.batchShares(b.batchId));
    expect([...shares.values()].reduce((a, s) => a + s, 0n)).to.equal(b.sharesMinor);
    const lines = await store.statementLines(b.batchId, 100);
    expect(lines.reduce((a, l) => a + l.netMinor, 0n)).to.equal(b.payoutMinor + b.carriedOutMinor);

    const again = await create();
    expect(again.created).to.equal(false);
    expect(again.batch.batchId).to.equal(b.batchId);

    const moved = await store.transaction('t.move', 'READ COMMITTED', async (tx) => [
      await tx.moveBatch(b.batchId, 'PAID'),
      await tx.moveBatch(b.batchId, 'POSTED'),
      await tx.moveBatch(b.batchId, 'POSTED'),
    ]);
    expect(moved).to.deep.equal([false, true, false]);
  });

  it('clears a batch of payments exactly as one by one, and refuses a batch naming an unknown merchant', async () => {
    const tiered = {
      kind: 'PERCENTAGE' as const,
      rate: '0.01',
      fixedMinor: 0n,
      minFeeMinor: 0n,
      maxFeeMinor: 0n,
      tierBasis: 'MONTH_VOLUME' as const,
      tiers: [
        { fromMinor: 0n, rate: '0.01', fixedMinor: 0n },
        { fromMinor: 5_000n, rate: '0.005', fixedMinor: 0n },
      ],
      rounding: 'ROUND_HALF_UP' as const,
      bearer: 'MERCHANT' as const,
      refundReturnsFee: false,
    };
    for (const m of ['one', 'bulk']) {
      await store.transaction('t.setup', 'READ COMMITTED', async (tx) => {
        await clearing.merchantRegistered(tx, m, m, 'CNY');
        await tx.insertFeeRule(m, '*', '*', '2026-01-01', tiered);
        await tx.saveReceivers(m, [{ receiverId: `${m}-r`, kind: 'RATIO', ratio: '0.1', fixedMinor: 0n }]);
        await tx.saveProfile({
          merchantId: m,
          kind: 'T_PLUS_N',
          offsetDays: 1,
          anchorDay: 0,
          minimumPayoutMinor: 0n,
          holdUnconfirmed: false,
          d0HoldRate: '0',
          autoShare: true,
          bankAccountNo: '',
          bankAccountName: '',
          bankCode: '',
        });
      });
    }
    const fact = (m: string, i: number, amount: bigint, day: string) => ({
      paymentId: `${m}-${i}`,
      orderId: `o-${m}-${i}`,
      merchantId: m,
      merchantOrderNo: `no-${i}`,
      amountMinor: amount,
      currency: 'CNY',
      bizCode: '10010101100110000100',
      channelNo: '100001',
      channelTxnId: `t-${i}`,
      payChannel: '1001',
      accountingDate: day,
    });
    const script: [number, bigint, string][] = [
      [1, 3_000n, '2026-07-03'],
      [2, 1_999n, '2026-07-03'],
      [1, 3_000n, '2026-07-03'], // redelivered
      [3, 4_321n, '2026-07-04'], // past the 5,000 tier: a lower rate
      [4, 10_000n, '2026-08-01'], // a new month: back to the first tier
    ];
    for (const [i, amount, day] of script)
      await store.transaction('t.one', 'READ COMMITTED', (tx) =>
        clearing.payment(tx, fact('one', i, amount, day)),
      );
    await store.transaction('t.bulk', 'READ COMMITTED', (tx) =>
      clearing.payments(
        tx,
        script.map(([i, amount, day]) => fact('bulk', i, amount, day)),
      ),
    );
    const itemsOf = (m: string) =>
      ds.query<Record<string, unknown>[]>(
        `SELECT replace(payment_id, $1, '') AS p, amount_minor, fee_minor, shares_minor, settle_on::text, rule_id IS NOT NULL AS ruled
         FROM settlement.items WHERE merchant_id = $2 ORDER BY payment_id`,
        [`${m}-`, m],
      );
    const one = await itemsOf('one');
    expect(one).to.have.length(4);
    expect(one.map((r) => r['fee_minor'])).to.deep.equal(['30', '20', '22', '100']);
    expect(await itemsOf('bulk')).to.deep.equal(one);
    const volumes = await ds.query<{ merchant_id: string; month: string; volume_minor: string }[]>(
      'SELECT merchant_id, month, volume_minor FROM settlement.month_volumes WHERE merchant_id IN ($1, $2) ORDER BY month, merchant_id',
      ['bulk', 'one'],
    );
    expect(volumes.map((v) => [v.merchant_id, v.month, v.volume_minor])).to.deep.equal([
      ['bulk', '2026-07', '12320'],
      ['one', '2026-07', '12320'],
      ['bulk', '2026-08', '10000'],
      ['one', '2026-08', '10000'],
    ]);

    let refused = '';
    await store
      .transaction('t.unknown', 'READ COMMITTED', (tx) =>
        clearing.payments(tx, [fact('bulk', 9, 100n, '2026-07-05'), fact('nobody', 10, 100n, '2026-07-05')]),
      )
      .catch((error: unknown) => {
        refused = String(error);
      });
    expect(refused).to.contain('unknown merchant nobody');
    expect(
      await ds.query("SELECT 1 FROM settlement.items WHERE payment_id IN ('bulk-9', 'nobody-10')"),
    ).to.have.length(0);
  });
});
