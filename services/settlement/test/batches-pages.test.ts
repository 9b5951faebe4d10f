/**
 * Proves that RunSettlementDay's page-wise batch creation (a page of due
 * merchants per transaction, set-wise statements) creates exactly the batches
 * that the per-merchant path (createBatch, one transaction per merchant,
 * which RequestSettlement takes) creates from the same data, and that a
 * rerun or a crash in the middle of a page creates nothing twice.
 *
 * How: two fresh databases get the same seeded data, about 1,200 merchants
 * (three pages): T+1 merchants, D0 merchants with a risk hold (released the
 * next business day), merchants under their minimum payout, merchants whose
 * refunds exceed their payments (a negative net carried into the next day),
 * merchants that hold unconfirmed items back, merchants with receivers'
 * shares, merchants without a profile and one manual merchant. Database A
 * runs RunSettlementDay; database B creates each due merchant's batch through
 * RequestSettlement. Two settlement days are run, so the second day carries
 * in what the first carried out and releases the first day's holds; on the
 * second day database A fails in the middle of its second page (after the
 * page's batches were written, before its commit) and is run again. The
 * batches (totals, decisions, carried amounts, release dates), their
 * receivers' shares, the items each took and the BatchDue events (one per
 * batch) must be equal. The seed is printed (SETTLEMENT_PAGES_SEED replays).
 */
import { expect } from 'chai';
import { createDataSource, runMigrations, type OutboxEvent } from '@paycore/platform';
import { createTestDatabase, seededRandom, seedFromEnv, type TestDatabase } from '@paycore/testing';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { PgSettlementStore } from '../src/adapters/pg/store';
import { AccountDirectory, DEFAULT_CLEARING_SUBJECTS } from '../src/application/accounts';
import { Batches, type BatchEvents } from '../src/application/batches';
import type {
  AccountPort,
  NewItem,
  PayoutPort,
  Profile,
  SettlementStore,
  SettlementTx,
} from '../src/application/ports';
import type { BusinessCalendar } from '../src/domain/cycles';

const SEED = seedFromEnv('SETTLEMENT_PAGES_SEED');
const MERCHANTS = 1_200;
const DAY_1 = '2026-06-04';
const DAY_2 = '2026-06-05';
const WORK_SUBJECT = 'settlement_work.batch_due';

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
    throw new Error('no business day within 60 days');
  },
};

const events: BatchEvents = {
  batchDue: (batchId: string): OutboxEvent => ({ subject: WORK_SUBJECT, payload: Buffer.from(batchId) }),
  batchSettled: () => ({ subject: 'settlement.batch_settled', payload: new Uint8Array() }),
  payoutSucceeded: () => ({ subject: 'settlement.payout_succeeded', payload: new Uint8Array() }),
  payoutFailed: () => ({ subject: 'settlement.payout_failed', payload: new Uint8Array() }),
};

const unused = (): never => {
  throw new Error('batch creation calls neither account nor channel-router');
};
const account: AccountPort = { find: unused, open: unused, transfer: unused };
const payouts: PayoutPort = { createPayout: unused, queryPayout: unused };

interface Side {
  readonly ds: DataSource;
  readonly store: PgSettlementStore;
  readonly db: TestDatabase;
}

async function openSide(): Promise<Side> {
  const db = await createTestDatabase();
  const ds = createDataSource({
    url: db.url,
    schema: 'settlement',
    applicationName: 'settlement-pages-test',
    poolSizeMax: 4,
  });
  await ds.initialize();
  await runMigrations(ds, { schema: 'settlement', migrationsDir: join(__dirname, '..', 'migrations') });
  return { ds, db, store: new PgSettlementStore(ds) };
}

function batchesOf(store: SettlementStore): Batches {
  const accounts = new AccountDirectory(store, account, { clearingSubjects: DEFAULT_CLEARING_SUBJECTS });
  return new Batches(store, accounts, account, payouts, weekdays, events, {
    payoutChannelNo: '300001',
    payoutAttemptsMax: 3,
  });
}

const merchantId = (m: number): string => `pm-${String(m).padStart(5, '0')}`;
const MANUAL = 'pm-manual';

function profileOf(m: number): Profile | null {
  const base: Profile = {
    merchantId: merchantId(m),
    kind: 'T_PLUS_N',
    offsetDays: 1,
    anchorDay: 0,
    minimumPayoutMinor: 0n,
    holdUnconfirmed: false,
    d0HoldRate: '0',
    autoShare: false,
    bankAccountNo: '6222000000000001',
    bankAccountName: 'Merchant',
    bankCode: 'ICBC',
  };
  switch (m % 7) {
    case 0:
      return { ...base, kind: 'D0', offsetDays: 0, d0HoldRate: '0.1' };
    case 1:
      return { ...base, minimumPayoutMinor: 40_000n };
    case 3:
      return { ...base, holdUnconfirmed: true };
    case 5:
      return m % 2 === 0 ? null : base;
    default:
      return base;
  }
}

/** A day's items of every merchant (seeded), the shares of some, and the manual merchant's. */
function itemsOf(next: () => number, accountingDate: string, settleOn: string, tag: string) {
  const items: NewItem[] = [];
  const shares: { itemId: string; merchantId: string; shares: Map<string, bigint> }[] = [];
  const item = (m: string, k: number, kind: 'PAY' | 'REFUND', amount: bigint, manual: boolean): NewItem => ({
    itemId: `${kind.toLowerCase()}:${tag}:${m}:${k}`,
    kind,
    merchantId: m,
    orderId: `o-${tag}-${m}-${kind === 'PAY' ? k : 0}`,
    merchantOrderNo: `no-${tag}-${m}-${k}`,
    paymentId: `p-${tag}-${m}-${kind === 'PAY' ? k : 0}`,
    refundId: kind === 'REFUND' ? `r-${tag}-${m}-${k}` : null,
    channelNo: '100001',
    channelTxnId: `ct-${tag}-${m}-${k}`,
    payChannel: '1001',
    bizCode: '10010101100110000100',
    accountingDate,
    amountMinor: amount,
    feeMinor: amount / 200n,
    currency: 'CNY',
    ruleId: null,
    // Merchants that hold unconfirmed items back see some of each day unconfirmed.
    confirmed: next() > 0.3,
    settleOn: manual ? null : settleOn,
  });
  for (let m = 0; m < MERCHANTS; m++) {
    const id = merchantId(m);
    // Some merchants have nothing due on a day (only a released hold or nothing at all).
    if (next() < 0.08) continue;
    const count = 1 + Math.floor(next() * 4);
    for (let k = 0; k < count; k++) {
      const amount = BigInt(100 + Math.floor(next() * 30_000));
      items.push(item(id, k, 'PAY', amount, false));
      if (m % 7 === 4 && k === 0) {
        shares.push({
          itemId: `pay:${tag}:${id}:${k}`,
          merchantId: id,
          shares: new Map([
            [`rcv-${m % 3}`, amount / 10n],
            [id, amount - amount / 10n],
          ]),
        });
      }
    }
    // Refunds above the day's payments: a negative net carried to the next batch.
    if (m % 7 === 2) items.push(item(id, 99, 'REFUND', BigInt(60_000 + Math.floor(next() * 10_000)), false));
  }
  items.push(item(MANUAL, 0, 'PAY', 12_345n, true));
  return { items, shares };
}

async function seed(side: Side, next: () => number, accountingDate: string, settleOn: string, tag: string) {
  const day = itemsOf(next, accountingDate, settleOn, tag);
  await side.store.transaction('t.items', 'READ COMMITTED', async (tx) => {
    for (let from = 0; from < day.items.length; from += 2_000)
      await tx.insertItems(day.items.slice(from, from + 2_000));
    for (const s of day.shares) await tx.setItemShares(s.itemId, s.shares, s.merchantId);
  });
}

async function seedMerchants(side: Side): Promise<void> {
  await side.store.transaction('t.merchants', 'READ COMMITTED', async (tx) => {
    for (let m = 0; m < MERCHANTS; m++) {
      await tx.insertMerchant(merchantId(m), `merchant ${m}`, 'CNY');
      const profile = profileOf(m);
      if (profile !== null) await tx.saveProfile(profile);
    }
    await tx.insertMerchant(MANUAL, 'manual merchant', 'CNY');
    await tx.saveProfile({ ...(profileOf(6) as Profile), merchantId: MANUAL, kind: 'MANUAL' });
  });
}

/** The per-merchant path: every due merchant's batch through RequestSettlement. */
async function settleOneByOne(side: Side, settlementDate: string): Promise<number> {
  const due = await side.store.transaction('t.due', 'READ COMMITTED', (tx) =>
    tx.merchantsDue(settlementDate, 100_000, ''),
  );
  const batches = batchesOf(side.store);
  for (const m of due) await batches.requestSettlement(`one-${settlementDate}-${m}`, m, settlementDate);
  return due.length;
}

/** Everything batch creation wrote, without generated ids or timestamps. */
async function snapshot(side: Side) {
  const batches = await side.ds.query<Record<string, unknown>[]>(
    `SELECT merchant_id, settlement_date::text AS d, state, item_count::text, gross_minor::text, refunds_minor::text,
       fees_minor::text, shares_minor::text, carried_in_minor::text, payout_minor::text, carried_out_minor::text,
       release_on::text AS release_on, payout_attempts
     FROM settlement.batches ORDER BY merchant_id, settlement_date`,
  );
  const shares = await side.ds.query<Record<string, unknown>[]>(
    `SELECT b.merchant_id, b.settlement_date::text AS d, s.receiver_id, s.amount_minor::text
     FROM settlement.batch_shares s JOIN settlement.batches b USING (batch_id) ORDER BY 1, 2, 3`,
  );
  const items = await side.ds.query<Record<string, unknown>[]>(
    `SELECT i.item_id, b.merchant_id, b.settlement_date::text AS d
     FROM settlement.items i LEFT JOIN settlement.batches b USING (batch_id) ORDER BY i.item_id`,
  );
  const due = await side.ds.query<
    { batches: string; events: string; distinct_events: string; unmatched: string }[]
  >(
    `SELECT (SELECT count(*) FROM settlement.batches)::text AS batches,
       (SELECT count(*) FROM settlement.outbox WHERE subject = $1)::text AS events,
       (SELECT count(DISTINCT payload) FROM settlement.outbox WHERE subject = $1)::text AS distinct_events,
       (SELECT count(*) FROM settlement.outbox o WHERE o.subject = $1 AND NOT EXISTS
          (SELECT 1 FROM settlement.batches b WHERE b.batch_id::text = convert_from(o.payload, 'UTF8')))::text AS unmatched`,
    [WORK_SUBJECT],
  );
  return { batches, shares, items, due: due[0] };
}

/** A store whose page transactions fail once, at `failOnPage`, after the page's batches were written. */
function failingOnce(store: PgSettlementStore, failOnPage: number): SettlementStore {
  let pages = 0;
  let failed = false;
  const wrap = (tx: SettlementTx, fail: boolean): SettlementTx =>
    new Proxy(tx, {
      get(target, property, receiver) {
        if (fail && property === 'publishMany') {
          return async (written: readonly OutboxEvent[]) => {
            await target.publishMany(written);
            throw new Error(`crash in the middle of page ${failOnPage} (${written.length} batches written)`);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'transaction') {
        return <T>(name: string, isolation: 'READ COMMITTED', fn: (tx: SettlementTx) => Promise<T>) => {
          const fail = name === 'settlement.create_batches' && ++pages === failOnPage && !failed;
          if (fail) failed = true;
          return target.transaction(name, isolation, (tx) => fn(wrap(tx, fail)));
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('settlement day page by page (real Postgres)', function () {
  this.timeout(300_000);
  let paged: Side;
  let single: Side;

  before(async () => {
    process.stdout.write(`      seed ${SEED} (SETTLEMENT_PAGES_SEED=${SEED} replays)\n`);
    paged = await openSide();
    single = await openSide();
    for (const side of [paged, single]) {
      await seedMerchants(side);
      await seed(side, seededRandom(SEED), '2026-06-03', DAY_1, 'd1');
    }
  });
  after(async () => {
    for (const side of [paged, single]) {
      await side?.ds.destroy();
      await side?.db.drop();
    }
  });

  it('creates the batches one transaction per merchant creates, and a rerun creates none', async () => {
    const expected = await settleOneByOne(single, DAY_1);
    const run = await batchesOf(paged.store).runDay('run-day-1', DAY_1);
    expect(Number(run.created)).to.equal(expected);
    expect(expected).to.be.greaterThan(2 * 500);

    const a = await snapshot(paged);
    const b = await snapshot(single);
    expect(a.batches).to.deep.equal(b.batches);
    expect(a.shares).to.deep.equal(b.shares);
    expect(a.items).to.deep.equal(b.items);
    expect(a.due).to.deep.equal(b.due);
    expect(a.due?.unmatched).to.equal('0');
    expect(a.due?.events).to.equal(a.due?.batches);
    // The cases the data was made for are there.
    const kinds = await paged.ds.query<{ held: string; carried_negative: string; under_minimum: string }[]>(
      `SELECT count(*) FILTER (WHERE release_on IS NOT NULL)::text AS held,
         count(*) FILTER (WHERE carried_out_minor < 0)::text AS carried_negative,
         count(*) FILTER (WHERE payout_minor = 0 AND carried_out_minor > 0)::text AS under_minimum
       FROM settlement.batches`,
    );
    expect(Number(kinds[0]?.held)).to.be.greaterThan(50);
    expect(Number(kinds[0]?.carried_negative)).to.be.greaterThan(50);
    expect(Number(kinds[0]?.under_minimum)).to.be.greaterThan(10);

    // Every item a batch could take was taken (merchantsDue listed every due merchant).
    const left = await paged.ds.query<{ n: string }[]>(
      `SELECT count(*)::text AS n FROM settlement.items i LEFT JOIN settlement.profiles p USING (merchant_id)
       WHERE i.batch_id IS NULL AND i.settle_on <= $1 AND (i.confirmed OR NOT COALESCE(p.hold_unconfirmed, false))`,
      [DAY_1],
    );
    expect(left[0]?.n).to.equal('0');
    const held = await paged.ds.query<{ n: string }[]>(
      'SELECT count(*)::text AS n FROM settlement.items WHERE batch_id IS NULL AND settle_on <= $1',
      [DAY_1],
    );
    expect(Number(held[0]?.n)).to.be.greaterThan(0);

    // The manual merchant is not due; a rerun under a new id creates nothing, a replay answers the first run.
    expect(a.batches.some((r) => r['merchant_id'] === MANUAL)).to.equal(false);
    const again = await batchesOf(paged.store).runDay('run-day-1-again', DAY_1);
    expect(again.created).to.equal(0n);
    expect(await batchesOf(paged.store).runDay('run-day-1', DAY_1)).to.deep.equal(run);
    expect(await snapshot(paged)).to.deep.equal(a);
  });

  it('carries into the next day and converges after a crash in the middle of a page', async () => {
    for (const side of [paged, single]) await seed(side, seededRandom(SEED + 1), '2026-06-04', DAY_2, 'd2');
    const expected = await settleOneByOne(single, DAY_2);

    const crashing = batchesOf(failingOnce(paged.store, 2));
    let crash: unknown;
    await crashing.runDay('run-day-2', DAY_2).catch((error: unknown) => (crash = error));
    expect(String(crash)).to.contain('crash in the middle of page 2');
    const afterCrash = await paged.ds.query<{ n: string }[]>(
      'SELECT count(*)::text AS n FROM settlement.batches WHERE settlement_date = $1',
      [DAY_2],
    );
    // Page 1 committed; page 2 rolled back whole.
    expect(Number(afterCrash[0]?.n)).to.equal(500);

    const rerun = await batchesOf(paged.store).runDay('run-day-2', DAY_2);
    expect(Number(rerun.created)).to.equal(expected - 500);

    const a = await snapshot(paged);
    const b = await snapshot(single);
    expect(a.batches).to.deep.equal(b.batches);
    expect(a.shares).to.deep.equal(b.shares);
    expect(a.items).to.deep.equal(b.items);
    expect(a.due).to.deep.equal(b.due);
    const released = await paged.ds.query<{ n: string }[]>(
      `SELECT count(*)::text AS n FROM settlement.batches b2 JOIN settlement.batches b1
         ON b1.merchant_id = b2.merchant_id AND b1.settlement_date = $1 AND b2.settlement_date = $2
       WHERE b1.release_on = $2 AND b2.carried_in_minor = b1.carried_out_minor`,
      [DAY_1, DAY_2],
    );
    expect(Number(released[0]?.n)).to.be.greaterThan(50);

    // The manual merchant settles on request through the same decisions on both
    // sides: its items of both days (no settlement date, booked by the date).
    for (const side of [paged, single]) {
      const batch = await batchesOf(side.store).requestSettlement('manual-1', MANUAL, DAY_2);
      expect(batch.grossMinor).to.equal(2n * 12_345n);
      expect(batch.itemCount).to.equal(2n);
    }
    expect(await snapshot(paged)).to.deep.equal(await snapshot(single));
  });
});
