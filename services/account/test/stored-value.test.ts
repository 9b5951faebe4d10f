/**
 * Proves stored value on real Postgres, through the use cases over the
 * platform unit of work and account's posting:
 * - a purchase creates the contract and its lots and posts Dr the funding
 *   account / Cr stored-value unearned revenue (240101), once per request id;
 * - a consumption of 200 across a lot with 10 left and a lot with 1,000 left
 *   draws 10 then 190, each at its own fair value; a package lot is never
 *   drawn for another consumption type;
 * - two-phase consumption: a lot expiring while a try holds part of it sends
 *   the held part to expired on cancel and consumes it on confirm; the
 *   expiry posts its breakage Dr 240101 / Cr 605103;
 * - a cancel before its try is an empty rollback and the late try is
 *   refused; refunds return units to the same lots (to expired for an
 *   expired lot); freeze, unfreeze and the audited reactivation;
 * - monthly recognition of each contract's net consumption, once;
 * - after all of it, per contract, consumed + expired + remaining value =
 *   paid, and the unearned revenue account holds paid − breakage − revenue;
 * - the daily reconciliation finds injected differences (units and value
 *   from nowhere) in the configured classes, writes an event per classed
 *   scope, balances the EXTREME one against suspense (once: the next day it
 *   counts as explained).
 * The clock the use cases read is moved by the test (no sleeps).
 */
import { expect } from 'chai';
import { addDays, DEFAULT_ACCOUNTING_DAY } from '@paycore/calendar';
import { loadCatalogue, defaultCataloguePath } from '@paycore/context';
import { StoredValueJobs, StoredValueService } from '../src/application/stored-value';
import { StoredValueReconciliation } from '../src/application/stored-value-recon';
import { DEFAULT_CLASS_RULES, parseClassRules } from '../src/domain/sv-reconciliation';
import { AccountEvents } from '../src/adapters/pg/events';
import { internalAccountId } from '../src/adapters/pg/lots-postings';
import { PgStoredValueStore } from '../src/adapters/pg/lots-store';
import { invariantViolations, openAccount, rid, startHarness, type Harness } from './harness';

const BIZ_TOP_UP = '10030103030000000000';
const BIZ_CONSUME = '10030103070003000000';
const BIZ_ADJUST = '10030103080003000000';
const DAY_MS = 86_400_000;

function reasonOf(error: unknown): string {
  return (error as { reason?: string }).reason ?? String(error);
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return reasonOf(error);
  }
  throw new Error('expected a refusal');
}

describe('stored value (Postgres)', function () {
  this.timeout(120_000);
  let h: Harness;
  let sv: StoredValueService;
  let bank: string;
  const clock = { offsetMs: 0 };
  const now = (): Date => new Date(Date.now() + clock.offsetMs);

  before(async () => {
    h = await startHarness();
    sv = new StoredValueService({
      store: new PgStoredValueStore({
        dataSource: h.dataSource,
        events: new AccountEvents(''),
        calendar: DEFAULT_ACCOUNTING_DAY,
        now,
      }),
      catalogue: loadCatalogue(defaultCataloguePath()),
      now,
    });
    bank = await openAccount(h, 'DEBIT', { allowOverdraft: true, subjectCode: '100201' });
  });
  after(async () => {
    expect(await invariantViolations(h)).to.deep.equal([]);
    await h.close();
  });

  const purchase = (
    owner: string,
    contractId: string,
    quantity: bigint,
    paidMinor: bigint,
    expiresInDays: number,
    extra: { consumptionType?: string; promotionalQuantity?: bigint; requestId?: string } = {},
  ): ReturnType<StoredValueService['purchase']> =>
    sv.purchase({
      requestId: extra.requestId ?? rid('buy'),
      bizCode: BIZ_TOP_UP,
      contractId,
      ownerId: owner,
      asset: 'ADCOIN',
      quantity,
      paidMinor,
      currency: 'CNY',
      promotionalQuantity: extra.promotionalQuantity ?? 0n,
      consumptionType: extra.consumptionType ?? '',
      effectiveAt: new Date(now().getTime() - 1_000),
      expiresAt: new Date(now().getTime() + expiresInDays * DAY_MS),
      fundingAccountId: bank,
    });

  const consume = (owner: string, quantity: bigint, type = 'LISTING_BOOST', consumptionId = rid('c')) =>
    sv.consume({
      requestId: rid('req'),
      bizCode: BIZ_CONSUME,
      consumptionId,
      ownerId: owner,
      asset: 'ADCOIN',
      consumptionType: type,
      quantity,
    });

  const tryConsume = (owner: string, quantity: bigint, consumptionId: string) =>
    sv.tryConsume({
      requestId: rid('req'),
      bizCode: BIZ_CONSUME,
      consumptionId,
      ownerId: owner,
      asset: 'ADCOIN',
      consumptionType: 'LISTING_BOOST',
      quantity,
      timeoutMs: DAY_MS,
    });

  /** An internal account's balance; 0 before its first posting opened it. */
  const balanceOf = async (id: string): Promise<bigint> => {
    const found = await h.dataSource.query<{ available: string }[]>(
      'SELECT available::text FROM accounts WHERE id = $1',
      [id],
    );
    return BigInt(found[0]?.available ?? '0');
  };

  it('purchases post Dr funding / Cr unearned revenue once per request id', async () => {
    const requestId = rid('buy-once');
    const command = {
      requestId,
      bizCode: BIZ_TOP_UP,
      contractId: 'K-P1',
      ownerId: 'member-p',
      asset: 'ADCOIN',
      quantity: 1_000n,
      paidMinor: 80_000n,
      currency: 'CNY',
      promotionalQuantity: 100n,
      consumptionType: '',
      effectiveAt: undefined,
      expiresAt: new Date(now().getTime() + 30 * DAY_MS),
      fundingAccountId: bank,
    };
    const first = await sv.purchase(command);
    const again = await sv.purchase(command);
    expect(await refusal(sv.purchase({ ...command, quantity: 999n }))).to.equal('IDEMPOTENCY_KEY_REUSED');
    expect(again.contract.purchaseTransferId).to.equal(first.contract.purchaseTransferId);
    expect(first.lots.map((l) => [l.category, l.quantity, l.paidMinor, l.fairValuePerUnit])).to.deep.equal([
      ['PAID', 1_000n, 80_000n, '80.00000000'],
      ['PROMOTIONAL', 100n, 0n, '0.00000000'],
    ]);
    expect(await balanceOf(internalAccountId('240101', 'CNY'))).to.equal(80_000n);
    expect(await refusal(purchase('member-p', 'K-P1', 5n, 5n, 30))).to.equal('CONTRACT_ID_IN_USE');
    const transfers = await h.dataSource.query<{ n: string }[]>(
      `SELECT count(*)::text n FROM transfers WHERE request_id = $1`,
      [`sv-purchase:${requestId}`],
    );
    expect(transfers[0]?.n).to.equal('1');
  });

  it('draws 200 as 10 from the lot with 10 left, then 190 from the lot with 1,000 left, each at its fair value', async () => {
    const a = await purchase('member-a', 'K-A1', 1_000n, 50_000n, 10);
    const b = await purchase('member-a', 'K-A2', 1_000n, 80_000n, 20);
    await consume('member-a', 990n);
    const c = await consume('member-a', 200n);
    expect(c.draws.map((d) => [d.lotId, d.quantity, d.valueMinor])).to.deep.equal([
      [a.lots[0]?.lotId, 10n, 500n],
      [b.lots[0]?.lotId, 190n, 15_200n],
    ]);
    expect(c.valueMinor).to.equal(15_700n);
    const replay = await consume('member-a', 200n, 'LISTING_BOOST', c.consumptionId);
    expect(replay.draws).to.deep.equal(c.draws);
    expect(await refusal(consume('member-a', 201n, 'LISTING_BOOST', c.consumptionId))).to.equal(
      'CONSUMPTION_ID_IN_USE',
    );
  });

  it('never draws a package lot for another consumption type', async () => {
    await purchase('member-k', 'K-K1', 100n, 10_000n, 5, { consumptionType: 'TOP_LISTING' });
    expect(await refusal(consume('member-k', 1n, 'LISTING_BOOST'))).to.equal('INSUFFICIENT_STORED_VALUE');
    const own = await consume('member-k', 100n, 'TOP_LISTING');
    expect(own.quantity).to.equal(100n);
  });

  it('a lot expiring while a try holds part of it: the held part goes to expired on cancel, to consumed on confirm', async () => {
    const x = await purchase('member-x', 'K-X1', 100n, 10_000n, 0.5);
    const y = await purchase('member-y', 'K-Y1', 100n, 10_000n, 0.5);
    const xLot = x.lots[0]?.lotId ?? '';
    const yLot = y.lots[0]?.lotId ?? '';
    await tryConsume('member-x', 30n, 'try-x');
    await tryConsume('member-y', 30n, 'try-y');
    const breakageBefore = await balanceOf(internalAccountId('605103', 'CNY'));
    // Past the lots' expiry, within the tries' one-day timeout.
    clock.offsetMs += 0.6 * DAY_MS;
    const expired = await sv.expireDue(BIZ_ADJUST);
    expect(expired).to.equal(2);
    // 70 available units of each lot became breakage at 100 fen each.
    expect((await balanceOf(internalAccountId('605103', 'CNY'))) - breakageBefore).to.equal(14_000n);
    const cancelled = await sv.cancelConsume({
      requestId: rid('cancel'),
      bizCode: BIZ_CONSUME,
      consumptionId: 'try-x',
    });
    const confirmed = await sv.confirmConsume({
      requestId: rid('confirm'),
      bizCode: BIZ_CONSUME,
      consumptionId: 'try-y',
    });
    expect([cancelled.state, confirmed.state]).to.deep.equal(['CANCELLED', 'CONFIRMED']);
    // The cancelled hold of 30 units joined the breakage; the confirmed one did not.
    expect((await balanceOf(internalAccountId('605103', 'CNY'))) - breakageBefore).to.equal(17_000n);
    const [xs] = (await sv.getContractStatement('K-X1')).lots;
    const [ys] = (await sv.getContractStatement('K-Y1')).lots;
    expect(xs?.lotId).to.equal(xLot);
    expect([xs?.state, xs?.held.quantity, xs?.expired, xs?.consumed.quantity]).to.deep.equal([
      'EXPIRED',
      0n,
      { quantity: 100n, valueMinor: 10_000n },
      0n,
    ]);
    expect(ys?.lotId).to.equal(yLot);
    expect([ys?.held.quantity, ys?.expired, ys?.consumed]).to.deep.equal([
      0n,
      { quantity: 70n, valueMinor: 7_000n },
      { quantity: 30n, valueMinor: 3_000n },
    ]);
    const statement = await sv.getContractStatement('K-X1');
    expect(statement.movements.map((m) => m.kind)).to.deep.equal(['PURCHASE', 'TRY', 'EXPIRE', 'CANCEL']);
    expect(statement.movements[2]?.transferId).to.be.a('string');
    // A second run finds nothing left to expire.
    expect(await sv.expireDue(BIZ_ADJUST)).to.equal(0);
  });

  it('an early cancel is an empty rollback and refuses its late try; a second confirm returns the first', async () => {
    await purchase('member-h', 'K-H1', 50n, 5_000n, 30);
    const empty = await sv.cancelConsume({
      requestId: rid('cancel'),
      bizCode: BIZ_CONSUME,
      consumptionId: 'hang-1',
    });
    expect(empty.state).to.equal('CANCELLED_EMPTY');
    expect(await refusal(tryConsume('member-h', 5n, 'hang-1'))).to.equal('TRY_AFTER_CANCEL');
    await tryConsume('member-h', 5n, 'two-1');
    const first = await sv.confirmConsume({
      requestId: rid('confirm'),
      bizCode: BIZ_CONSUME,
      consumptionId: 'two-1',
    });
    const second = await sv.confirmConsume({
      requestId: rid('confirm'),
      bizCode: BIZ_CONSUME,
      consumptionId: 'two-1',
    });
    expect(second).to.deep.equal(first);
    expect(
      await refusal(
        sv.cancelConsume({ requestId: rid('cancel'), bizCode: BIZ_CONSUME, consumptionId: 'two-1' }),
      ),
    ).to.equal('CONSUMPTION_ALREADY_RESOLVED');
  });

  it('refunds to the same lots, freezes and unfreezes, and an audited reactivation reverses breakage', async () => {
    const r = await purchase('member-r', 'K-R1', 100n, 10_000n, 2);
    const lotId = r.lots[0]?.lotId ?? '';
    const c = await consume('member-r', 40n);
    const refund = await sv.refundConsumption({
      requestId: rid('refund'),
      bizCode: BIZ_CONSUME,
      consumptionId: c.consumptionId,
      quantity: 15n,
    });
    expect(refund.movements.map((m) => [m.lotId, m.toBucket, m.part])).to.deep.equal([
      [lotId, 'available', { quantity: 15n, valueMinor: 1_500n }],
    ]);
    expect(
      await refusal(
        sv.refundConsumption({
          requestId: rid('refund'),
          bizCode: BIZ_CONSUME,
          consumptionId: c.consumptionId,
          quantity: 26n,
        }),
      ),
    ).to.equal('REFUND_EXCEEDS_CONSUMPTION');
    const frozen = await sv.freezeLot({
      requestId: rid('freeze'),
      bizCode: BIZ_ADJUST,
      lotId,
      quantity: 10n,
      reason: 'dispute',
    });
    expect(frozen.frozen).to.deep.equal({ quantity: 10n, valueMinor: 1_000n });
    clock.offsetMs += 3 * DAY_MS;
    await sv.expireDue(BIZ_ADJUST);
    // Released after expiry: the refund and the unfreeze land in expired.
    await sv.refundConsumption({
      requestId: rid('refund'),
      bizCode: BIZ_CONSUME,
      consumptionId: c.consumptionId,
      quantity: 5n,
    });
    const unfrozen = await sv.unfreezeLot({
      requestId: rid('unfreeze'),
      bizCode: BIZ_ADJUST,
      lotId,
      quantity: 10n,
      reason: '',
    });
    expect(unfrozen.expired).to.deep.equal({ quantity: 80n, valueMinor: 8_000n });
    expect(unfrozen.consumed).to.deep.equal({ quantity: 20n, valueMinor: 2_000n });
    const back = await sv.reactivate({
      requestId: rid('reactivate'),
      bizCode: BIZ_ADJUST,
      lotId,
      expiresAt: new Date(now().getTime() + 30 * DAY_MS),
      operator: 'ops-1',
      reason: 'customer complaint upheld',
    });
    expect([back.state, back.available, back.expired.quantity]).to.deep.equal([
      'ACTIVE',
      { quantity: 80n, valueMinor: 8_000n },
      0n,
    ]);
    const audit = await h.dataSource.query<{ operator: string }[]>(
      `SELECT operator FROM sv_audit WHERE lot_id = $1`,
      [lotId],
    );
    expect(audit.map((a) => a.operator)).to.deep.equal(['ops-1']);
    expect(
      await refusal(
        sv.reactivate({
          requestId: rid('reactivate'),
          bizCode: BIZ_ADJUST,
          lotId,
          expiresAt: new Date(now().getTime() + 30 * DAY_MS),
          operator: 'ops-1',
          reason: 'again',
        }),
      ),
    ).to.equal('LOT_NOT_EXPIRED');
  });

  it('refuses malformed input with INVALID_FIELD naming the field, before any claim', async () => {
    const fieldOf = async (promise: Promise<unknown>): Promise<string> => {
      try {
        await promise;
      } catch (error) {
        const e = error as { reason?: string; field?: string };
        return `${e.reason ?? '?'}:${e.field ?? '?'}`;
      }
      throw new Error('expected a refusal');
    };
    const good = {
      requestId: rid('bad'),
      bizCode: BIZ_TOP_UP,
      contractId: 'K-BAD',
      ownerId: 'member-b',
      asset: 'ADCOIN',
      quantity: 10n,
      paidMinor: 100n,
      currency: 'CNY',
      promotionalQuantity: 0n,
      consumptionType: '',
      effectiveAt: undefined,
      expiresAt: new Date(now().getTime() + DAY_MS),
      fundingAccountId: bank,
    };
    expect(await fieldOf(sv.purchase({ ...good, quantity: 0n }))).to.equal('INVALID_FIELD:quantity');
    expect(await fieldOf(sv.purchase({ ...good, paidMinor: -1n }))).to.equal(
      'INVALID_FIELD:paid.amount_minor',
    );
    expect(await fieldOf(sv.purchase({ ...good, asset: 'coin' }))).to.equal('INVALID_FIELD:asset');
    expect(await fieldOf(sv.purchase({ ...good, currency: 'XXX' }))).to.equal('INVALID_FIELD:paid.currency');
    expect(await fieldOf(sv.purchase({ ...good, expiresAt: new Date(now().getTime() - DAY_MS) }))).to.equal(
      'INVALID_FIELD:expire_time',
    );
    expect(await fieldOf(sv.purchase({ ...good, fundingAccountId: '' }))).to.equal(
      'INVALID_FIELD:funding_account_id',
    );
    expect(await fieldOf(sv.purchase({ ...good, fundingAccountId: 'not-an-account' }))).to.match(
      /^ACCOUNT_NOT_FOUND/,
    );
    expect(
      await fieldOf(
        sv.tryConsume({
          requestId: rid('bad'),
          bizCode: BIZ_CONSUME,
          consumptionId: 'bad-1',
          ownerId: 'member-b',
          asset: 'ADCOIN',
          consumptionType: 'LISTING_BOOST',
          quantity: 1n,
          timeoutMs: 10,
        }),
      ),
    ).to.equal('INVALID_FIELD:timeout');
    expect(
      await fieldOf(
        sv.listLots({
          ownerId: 'member-b',
          asset: 'ADCOIN',
          includeSpent: false,
          pageSize: 10,
          pageToken: 'x',
        }),
      ),
    ).to.equal('INVALID_FIELD:page.page_token');
    // Nothing was written for any of them.
    const contracts = await h.dataSource.query<{ n: string }[]>(
      `SELECT count(*)::text n FROM sv_contracts WHERE contract_id = 'K-BAD'`,
    );
    expect(contracts[0]?.n).to.equal('0');
  });

  it('concurrent consumptions never overdraw a lot; concurrent first tries of one id make one hold', async () => {
    await purchase('member-c', 'K-C1', 100n, 10_000n, 30);
    const outcomes = await Promise.allSettled(Array.from({ length: 14 }, () => consume('member-c', 10n)));
    const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => reasonOf(o.reason));
    expect(outcomes.length - refused.length).to.equal(10);
    expect(new Set(refused)).to.deep.equal(new Set(['INSUFFICIENT_STORED_VALUE']));
    await purchase('member-d', 'K-D1', 100n, 10_000n, 30);
    const tries = await Promise.all(Array.from({ length: 4 }, () => tryConsume('member-d', 25n, 'same-try')));
    expect(new Set(tries.map((t) => t.state))).to.deep.equal(new Set(['TRIED']));
    const [lot] = (await sv.getContractStatement('K-D1')).lots;
    expect([lot?.held.quantity, lot?.available.quantity]).to.deep.equal([25n, 75n]);
  });

  it('releases a try whose timeout passed, and refuses its late confirm', async () => {
    await purchase('member-t', 'K-T1', 100n, 10_000n, 30);
    await tryConsume('member-t', 40n, 'timeout-1');
    clock.offsetMs += DAY_MS + 1_000;
    expect(await sv.releaseTimedOut(BIZ_ADJUST)).to.be.at.least(1);
    const [lot] = (await sv.getContractStatement('K-T1')).lots;
    expect([lot?.held.quantity, lot?.available.quantity]).to.deep.equal([0n, 100n]);
    expect(
      await refusal(
        sv.confirmConsume({ requestId: rid('confirm'), bizCode: BIZ_CONSUME, consumptionId: 'timeout-1' }),
      ),
    ).to.equal('CONSUMPTION_ALREADY_RESOLVED');
    expect(await sv.releaseTimedOut(BIZ_ADJUST)).to.equal(0);
  });

  it('recognises the net consumption of each month per contract once the month is over, once', async () => {
    const found = await h.dataSource.query<{ month: string }[]>(
      `SELECT DISTINCT to_char(accounting_date, 'YYYY-MM') AS month FROM sv_movements ORDER BY 1`,
    );
    const months = found.map((r) => r.month);
    const open = months[months.length - 1] ?? '';
    // Not yet: the month is still open.
    expect(await sv.recogniseRevenue(open, BIZ_ADJUST)).to.equal(0);
    // Forty days on, every month is over.
    clock.offsetMs += 40 * DAY_MS;
    let recognised = 0;
    for (const month of months) recognised += await sv.recogniseRevenue(month, BIZ_ADJUST);
    expect(recognised).to.be.at.least(5);
    for (const month of months) expect(await sv.recogniseRevenue(month, BIZ_ADJUST)).to.equal(0);
    const rows = await h.dataSource.query<{ contract_id: string; value: string }[]>(
      `SELECT contract_id, sum(value_minor)::text AS value FROM sv_recognitions GROUP BY contract_id`,
    );
    const byContract = new Map(rows.map((r) => [r.contract_id, BigInt(r.value)]));
    // K-A1: 990 + 10 coins at 50 fen; K-A2: 190 at 80 fen; K-R1: 40 consumed, 20 refunded, at 100 fen.
    expect([byContract.get('K-A1'), byContract.get('K-A2'), byContract.get('K-R1')]).to.deep.equal([
      50_000n,
      15_200n,
      2_000n,
    ]);
    const total = [...byContract.values()].reduce((a, b) => a + b, 0n);
    expect(await balanceOf(internalAccountId('605102', 'CNY'))).to.equal(total);
  });

  it('per contract, consumed + expired + remaining value = paid; unearned revenue = paid − breakage − revenue', async () => {
    const rows = await h.dataSource.query<{ contract_id: string; paid: string; sum: string }[]>(
      `SELECT c.contract_id, c.paid_minor::text AS paid,
              sum(l.available_value + l.held_value + l.frozen_value + l.consumed_value + l.expired_value)::text AS sum
         FROM sv_contracts c JOIN sv_lots l USING (contract_id) GROUP BY c.contract_id, c.paid_minor`,
    );
    expect(rows.length).to.be.at.least(8);
    for (const row of rows) expect(row.sum, row.contract_id).to.equal(row.paid);
    const [totals] = await h.dataSource.query<{ paid: string; expired: string }[]>(
      `SELECT (SELECT sum(paid_minor) FROM sv_contracts)::text AS paid, (SELECT sum(expired_value) FROM sv_lots)::text AS expired`,
    );
    const unearned = await balanceOf(internalAccountId('240101', 'CNY'));
    const breakage = await balanceOf(internalAccountId('605103', 'CNY'));
    const revenue = await balanceOf(internalAccountId('605102', 'CNY'));
    expect(unearned).to.equal(BigInt(totals?.paid ?? '0') - BigInt(totals?.expired ?? '0') - revenue);
    expect(breakage).to.equal(BigInt(totals?.expired ?? '0'));
  });
  it('the daily reconciliation finds injected differences in the right class, alarms, and balances per configuration', async () => {
    const recon = new StoredValueReconciliation({
      store: new PgStoredValueStore({
        dataSource: h.dataSource,
        events: new AccountEvents(''),
        calendar: DEFAULT_ACCOUNTING_DAY,
        now,
      }),
      rules: parseClassRules(
        'GENERAL:VALUE:<:10000:ALARM,LARGE:VALUE:>=:10000:ALARM,EXTREME:VALUE:>=:1000000:BALANCE',
      ),
      bizCode: BIZ_ADJUST,
    });
    const q = await purchase('member-q', 'K-Q1', 100n, 10_000n, 30);
    const l = await purchase('member-l', 'K-L1', 100n, 10_000n, 30);
    const e = await purchase('member-e', 'K-E1', 100n, 10_000n, 30);
    // Injected faults, bypassing the use cases: five coins from nowhere, 200.00 and 20,000.00 of value from nowhere.
    await h.dataSource.query(
      `UPDATE sv_lots SET quantity = quantity + 5, available_quantity = available_quantity + 5 WHERE lot_id = $1`,
      [q.lots[0]?.lotId],
    );
    for (const [lot, value] of [
      [l.lots[0]?.lotId, 20_000],
      [e.lots[0]?.lotId, 2_000_000],
    ] as const) {
      await h.dataSource.query(
        `UPDATE sv_lots SET paid_minor = paid_minor + $2, available_value = available_value + $2 WHERE lot_id = $1`,
        [lot, value],
      );
    }
    const date = await sv.accountingDate();
    const unearnedBefore = await balanceOf(internalAccountId('240101', 'CNY'));
    expect(await recon.reconcile(date)).to.equal(7);
    expect(await recon.reconcile(date)).to.equal(-1);
    const report = await recon.report(date);
    const rows = new Map(report.rows.map((r) => [`${r.level}:${r.scopeKey}`, r]));
    const brief = (key: string): unknown[] => {
      const r = rows.get(key);
      return [r?.klass, r?.action, r?.difference, r?.transferId !== null];
    };
    expect(brief('CONTRACT:K-Q1')).to.deep.equal([
      'GENERAL',
      'ALARM',
      { quantity: -5n, valueMinor: 0n },
      false,
    ]);
    expect(brief('CONTRACT:K-L1')).to.deep.equal([
      'LARGE',
      'ALARM',
      { quantity: 0n, valueMinor: -20_000n },
      false,
    ]);
    expect(brief('CONTRACT:K-E1')).to.deep.equal([
      'EXTREME',
      'BALANCE',
      { quantity: 0n, valueMinor: -2_000_000n },
      true,
    ]);
    expect(brief('MEMBER:member-e')).to.deep.equal([
      'EXTREME',
      'ALARM',
      { quantity: 0n, valueMinor: -2_000_000n },
      false,
    ]);
    expect(brief('PLATFORM:platform')).to.deep.equal([
      'EXTREME',
      'ALARM',
      { quantity: -5n, valueMinor: -2_020_000n },
      false,
    ]);
    expect(report.rows[0]?.level).to.equal('PLATFORM');
    expect(report.classCounts['GENERAL']).to.equal(2n);
    // The balancing: Dr suspense short / Cr unearned revenue for the extra value the lots hold.
    expect(await balanceOf(internalAccountId('122102', 'CNY'))).to.equal(2_000_000n);
    expect((await balanceOf(internalAccountId('240101', 'CNY'))) - unearnedBefore).to.equal(2_000_000n);
    const events = await h.dataSource.query<{ n: string }[]>(
      `SELECT count(*)::text AS n FROM outbox WHERE subject LIKE '%.account.stored_value_difference.v1'`,
    );
    expect(events[0]?.n).to.equal('7');
    // The next day the balanced difference counts as explained; the others are still there.
    const next = addDays(date, 1);
    await recon.reconcile(next);
    const later = new Map((await recon.report(next)).rows.map((r) => [`${r.level}:${r.scopeKey}`, r.klass]));
    expect([
      later.get('CONTRACT:K-E1'),
      later.get('CONTRACT:K-L1'),
      later.get('CONTRACT:K-Q1'),
    ]).to.deep.equal([undefined, 'LARGE', 'GENERAL']);
    expect(await refusal(recon.report('2001-01-01'))).to.equal('RECONCILIATION_NOT_FOUND');
  });
  it('the jobs run expiry, timeouts, recognition of the last month and reconciliation of yesterday, each once', async () => {
    const recon = new StoredValueReconciliation({
      store: new PgStoredValueStore({
        dataSource: h.dataSource,
        events: new AccountEvents(''),
        calendar: DEFAULT_ACCOUNTING_DAY,
        now,
      }),
      rules: parseClassRules(DEFAULT_CLASS_RULES),
      bizCode: BIZ_ADJUST,
    });
    const reconciled: string[] = [];
    const jobs = new StoredValueJobs(sv, {
      tickMs: 60_000,
      bizCode: BIZ_ADJUST,
      recognitionDay: 1,
      accountingDate: () => sv.accountingDate(),
      reconcile: async (date) => {
        reconciled.push(date);
        return recon.reconcile(date);
      },
      onError: (error) => {
        throw error;
      },
    });
    await purchase('member-j', 'K-J1', 10n, 1_000n, 1);
    clock.offsetMs += 2 * DAY_MS;
    const first = await jobs.runOnce();
    expect(first.expired).to.be.at.least(1);
    const second = await jobs.runOnce();
    expect([second.expired, second.released, second.recognised]).to.deep.equal([0, 0, 0]);
    const yesterday = addDays(await sv.accountingDate(), -1);
    expect(reconciled).to.deep.equal([yesterday]);
    expect((await recon.report(yesterday)).rows[0]?.level).to.equal('PLATFORM');
  });
});
