/**
 * Proves the stored-value lot rules without I/O.
 *
 * Examples: a consumption of 200 across a lot with 10 left and a lot with
 * 1,000 left draws 10 then 190, each at its own fair value; a package lot is
 * never drawn for another consumption type; the draw order (earliest expiry,
 * promotional before paid, oldest); the residual carried by a lot's last
 * units; refunds and releases landing in expired when the lot expired.
 *
 * Property (fast-check, seed from PAYCORE_SEED or a fixed constant, printed):
 * over random purchases (paid and promotional lots, coins and packages),
 * one-shot and two-phase consumptions, refunds, expiries, freezes and
 * reactivations, recognised revenue + breakage (both summed from the
 * movements the operations report, not from the lot buckets) + remaining
 * value (read from the lots) equals the paid amount exactly, per contract and
 * in total; and each lot's buckets still partition its quantity and value.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  createLot,
  expireLot,
  freezeUnits,
  movePortion,
  planConsumption,
  planRefund,
  reactivateLot,
  releaseTarget,
  remainingOf,
  unfreezeUnits,
  type Draw,
  type Lot,
  type NewLot,
  type RecordedDraw,
} from './lots';
import { InsufficientStoredValueError } from './stored-value-errors';

const SEED = Number(process.env['PAYCORE_SEED'] ?? 20261202);
const DAY_MS = 86_400_000;
const T0 = new Date('2026-01-01T00:00:00Z');

function lot(overrides: Partial<NewLot> & { lotId: string }): Lot {
  return createLot({
    contractId: `c-${overrides.lotId}`,
    ownerId: 'm1',
    asset: 'ADCOIN',
    currency: 'CNY',
    category: 'PAID',
    consumptionType: null,
    quantity: 100n,
    paidMinor: 10_000n,
    effectiveAt: T0,
    expiresAt: new Date(T0.getTime() + 30 * DAY_MS),
    createdSeq: 1n,
    ...overrides,
  });
}

/** Takes `units` of a lot as if they had been consumed before (setting up "10 left"). */
function consumeDirectly(l: Lot, units: bigint): Lot {
  const [draw] = planConsumption([l], { asset: l.asset, consumptionType: 'any', quantity: units, now: T0 });
  if (draw === undefined) throw new Error('no draw');
  return movePortion(l, 'available', 'consumed', draw);
}

describe('stored-value lots', () => {
  it('draws 200 as 10 from the lot with 10 left, then 190 from the lot with 1,000 left, each at its fair value', () => {
    // Lot A: 1,000 coins for 500.00 (50 fen per coin), 990 already consumed; expires first.
    const a = consumeDirectly(
      lot({
        lotId: 'A',
        quantity: 1_000n,
        paidMinor: 50_000n,
        expiresAt: new Date(T0.getTime() + 10 * DAY_MS),
      }),
      990n,
    );
    // Lot B: 1,000 coins for 800.00 (80 fen per coin).
    const b = lot({ lotId: 'B', quantity: 1_000n, paidMinor: 80_000n, createdSeq: 2n });
    expect(a.available).to.deep.equal({ quantity: 10n, valueMinor: 500n });
    const draws = planConsumption([b, a], {
      asset: 'ADCOIN',
      consumptionType: 'LISTING_BOOST',
      quantity: 200n,
      now: T0,
    });
    expect(draws).to.deep.equal([
      { lotId: 'A', quantity: 10n, valueMinor: 500n },
      { lotId: 'B', quantity: 190n, valueMinor: 15_200n },
    ]);
  });

  it('never draws a package lot for another consumption type', () => {
    const pkg = lot({
      lotId: 'P',
      consumptionType: 'TOP_LISTING',
      expiresAt: new Date(T0.getTime() + DAY_MS),
    });
    const coins = lot({ lotId: 'C', quantity: 50n, paidMinor: 5_000n });
    const other = planConsumption([pkg, coins], {
      asset: 'ADCOIN',
      consumptionType: 'BOOST',
      quantity: 50n,
      now: T0,
    });
    expect(other.map((d) => d.lotId)).to.deep.equal(['C']);
    expect(() =>
      planConsumption([pkg, coins], { asset: 'ADCOIN', consumptionType: 'BOOST', quantity: 51n, now: T0 }),
    ).to.throw(InsufficientStoredValueError);
    const same = planConsumption([pkg, coins], {
      asset: 'ADCOIN',
      consumptionType: 'TOP_LISTING',
      quantity: 120n,
      now: T0,
    });
    expect(same.map((d) => [d.lotId, d.quantity])).to.deep.equal([
      ['P', 100n],
      ['C', 20n],
    ]);
  });

  it('orders by earliest expiry, then promotional before paid, then oldest; skips lots not yet effective or past expiry', () => {
    const expiry = new Date(T0.getTime() + 5 * DAY_MS);
    const paidOld = lot({ lotId: 'paid-old', expiresAt: expiry, createdSeq: 1n });
    const paidNew = lot({ lotId: 'paid-new', expiresAt: expiry, createdSeq: 3n });
    const promo = lot({
      lotId: 'promo',
      expiresAt: expiry,
      createdSeq: 2n,
      category: 'PROMOTIONAL',
      paidMinor: 0n,
    });
    const later = lot({ lotId: 'later', expiresAt: new Date(T0.getTime() + 9 * DAY_MS) });
    const future = lot({ lotId: 'future', effectiveAt: new Date(T0.getTime() + DAY_MS), expiresAt: expiry });
    const gone = lot({ lotId: 'gone', effectiveAt: new Date(T0.getTime() - 9 * DAY_MS), expiresAt: T0 });
    const draws = planConsumption([later, paidNew, gone, future, paidOld, promo], {
      asset: 'ADCOIN',
      consumptionType: 'X',
      quantity: 350n,
      now: T0,
    });
    expect(draws.map((d) => d.lotId)).to.deep.equal(['promo', 'paid-old', 'paid-new', 'later']);
    expect(draws[0]?.valueMinor).to.equal(0n);
  });

  it('keeps the rounding residual on the lot: its last units exhaust its value exactly', () => {
    // 100.00 for 3 coins: 3,333.33333333 fen per coin; per-draw rounding leaves the last coin 3,334.
    const l = lot({ lotId: 'R', quantity: 3n, paidMinor: 10_000n });
    expect(l.fairValuePerUnit).to.equal('3333.33333333');
    expect(l.residualMinor).to.equal(0n);
    let current = l;
    const values: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      const [d] = planConsumption([current], {
        asset: 'ADCOIN',
        consumptionType: 'X',
        quantity: 1n,
        now: T0,
      });
      if (d === undefined) throw new Error('no draw');
      values.push(d.valueMinor);
      current = movePortion(current, 'available', 'consumed', d);
    }
    expect(values).to.deep.equal([3_333n, 3_333n, 3_334n]);
    expect(current.consumed).to.deep.equal({ quantity: 3n, valueMinor: 10_000n });
    // 1 fen for 3,000,000,000 units: the fair value rounds to 0 at 8 places, so
    // the whole fen is the residual and the lot's last unit carries it.
    let tiny = lot({ lotId: 'T', quantity: 3_000_000_000n, paidMinor: 1n });
    expect([tiny.fairValuePerUnit, tiny.residualMinor]).to.deep.equal(['0.00000000', 1n]);
    const take = (quantity: bigint): bigint => {
      const [d] = planConsumption([tiny], { asset: 'ADCOIN', consumptionType: 'X', quantity, now: T0 });
      if (d === undefined) throw new Error('no draw');
      tiny = movePortion(tiny, 'available', 'consumed', d);
      return d.valueMinor;
    };
    expect([take(2_999_999_999n), take(1n)]).to.deep.equal([0n, 1n]);
  });

  it('returns refunds and releases of an expired lot to expired, and reactivation brings them back', () => {
    let l = lot({ lotId: 'E' });
    const [d] = planConsumption([l], { asset: 'ADCOIN', consumptionType: 'X', quantity: 40n, now: T0 });
    if (d === undefined) throw new Error('no draw');
    l = movePortion(l, 'available', 'consumed', d);
    l = freezeUnits(l, 10n).lot;
    l = expireLot(l).lot;
    expect(l.expired).to.deep.equal({ quantity: 50n, valueMinor: 5_000n });
    const [refund] = planRefund(
      new Map([[l.lotId, l]]),
      [{ ...d, refunded: { quantity: 0n, valueMinor: 0n } }],
      15n,
    );
    if (refund === undefined) throw new Error('no refund');
    l = movePortion(l, 'consumed', releaseTarget(l), refund.part);
    l = unfreezeUnits(l, 10n).lot;
    expect(l.expired).to.deep.equal({ quantity: 75n, valueMinor: 7_500n });
    expect(l.consumed).to.deep.equal({ quantity: 25n, valueMinor: 2_500n });
    l = reactivateLot(l, new Date(T0.getTime() + 90 * DAY_MS)).lot;
    expect(l.available).to.deep.equal({ quantity: 75n, valueMinor: 7_500n });
    expect(l.state).to.equal('ACTIVE');
  });
});

/** A simulated account holder's lots with the movements each operation reported. */
interface Books {
  lots: Map<string, Lot>;
  consumptions: { draws: RecordedDraw[]; state: 'TRIED' | 'CONFIRMED' | 'CANCELLED' }[];
  paid: Map<string, bigint>;
  revenue: Map<string, bigint>;
  breakage: Map<string, bigint>;
}

type Op =
  | {
      kind: 'purchase';
      quantity: bigint;
      paidMinor: bigint;
      promoQuantity: bigint;
      pkg: boolean;
      days: number;
    }
  | { kind: 'consume'; quantity: bigint; twoPhase: boolean; type: 'BOOST' | 'TOP' }
  | { kind: 'resolve'; pick: number; confirm: boolean }
  | { kind: 'refund'; pick: number; quantity: bigint }
  | { kind: 'advance'; days: number }
  | { kind: 'freeze'; pick: number; quantity: bigint; release: boolean }
  | { kind: 'reactivate'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('purchase' as const),
    quantity: fc.bigInt({ min: 1n, max: 5_000n }),
    paidMinor: fc.bigInt({ min: 0n, max: 2_000_000n }),
    promoQuantity: fc.bigInt({ min: 0n, max: 300n }),
    pkg: fc.boolean(),
    days: fc.integer({ min: 1, max: 60 }),
  }),
  fc.record({
    kind: fc.constant('consume' as const),
    quantity: fc.bigInt({ min: 1n, max: 3_000n }),
    twoPhase: fc.boolean(),
    type: fc.constantFrom('BOOST' as const, 'TOP' as const),
  }),
  fc.record({ kind: fc.constant('resolve' as const), pick: fc.nat(), confirm: fc.boolean() }),
  fc.record({
    kind: fc.constant('refund' as const),
    pick: fc.nat(),
    quantity: fc.bigInt({ min: 1n, max: 2_000n }),
  }),
  fc.record({ kind: fc.constant('advance' as const), days: fc.integer({ min: 1, max: 20 }) }),
  fc.record({
    kind: fc.constant('freeze' as const),
    pick: fc.nat(),
    quantity: fc.bigInt({ min: 1n, max: 500n }),
    release: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('reactivate' as const), pick: fc.nat() }),
);

function add(map: Map<string, bigint>, key: string, delta: bigint): void {
  map.set(key, (map.get(key) ?? 0n) + delta);
}

function pickOf<T>(items: readonly T[], pick: number): T | undefined {
  return items.length === 0 ? undefined : items[pick % items.length];
}

/** Where a release (cancel, refund, unfreeze) landed: expired moves value into breakage. */
function released(books: Books, l: Lot, value: bigint, fromRevenue: boolean): void {
  if (fromRevenue) add(books.revenue, l.contractId, -value);
  if (l.state === 'EXPIRED') add(books.breakage, l.contractId, value);
}

function apply(books: Books, op: Op, clock: { now: Date; seq: bigint }): void {
  const now = clock.now;
  switch (op.kind) {
    case 'purchase': {
      clock.seq += 1n;
      const contractId = `k${clock.seq}`;
      const expiresAt = new Date(now.getTime() + op.days * DAY_MS);
      const base = {
        contractId,
        ownerId: 'm1',
        asset: 'ADCOIN',
        currency: 'CNY',
        effectiveAt: now,
        expiresAt,
      };
      const paidLot = createLot({
        ...base,
        lotId: `${contractId}-paid`,
        category: 'PAID',
        consumptionType: op.pkg ? 'TOP' : null,
        quantity: op.quantity,
        paidMinor: op.paidMinor,
        createdSeq: clock.seq,
      });
      books.lots.set(paidLot.lotId, paidLot);
      if (op.promoQuantity > 0n) {
        const promo = createLot({
          ...base,
          lotId: `${contractId}-promo`,
          category: 'PROMOTIONAL',
          consumptionType: null,
          quantity: op.promoQuantity,
          paidMinor: 0n,
          createdSeq: clock.seq,
        });
        books.lots.set(promo.lotId, promo);
      }
      add(books.paid, contractId, op.paidMinor);
      return;
    }
    case 'consume': {
      let draws: Draw[];
      try {
        draws = planConsumption([...books.lots.values()], {
          asset: 'ADCOIN',
          consumptionType: op.type,
          quantity: op.quantity,
          now,
        });
      } catch (error) {
        if (error instanceof InsufficientStoredValueError) return;
        throw error;
      }
      const to = op.twoPhase ? 'held' : 'consumed';
      for (const draw of draws) {
        const l = books.lots.get(draw.lotId);
        if (l === undefined) throw new Error('drawn lot missing');
        if (op.type !== 'TOP') expect(l.consumptionType).to.equal(null);
        books.lots.set(l.lotId, movePortion(l, 'available', to, draw));
        if (!op.twoPhase) add(books.revenue, l.contractId, draw.valueMinor);
      }
      books.consumptions.push({
        draws: draws.map((d) => ({ ...d, refunded: { quantity: 0n, valueMinor: 0n } })),
        state: op.twoPhase ? 'TRIED' : 'CONFIRMED',
      });
      return;
    }
    case 'resolve': {
      const c = pickOf(
        books.consumptions.filter((x) => x.state === 'TRIED'),
        op.pick,
      );
      if (c === undefined) return;
      c.state = op.confirm ? 'CONFIRMED' : 'CANCELLED';
      for (const draw of c.draws) {
        const l = books.lots.get(draw.lotId);
        if (l === undefined) throw new Error('lot missing');
        if (op.confirm) {
          books.lots.set(l.lotId, movePortion(l, 'held', 'consumed', draw));
          add(books.revenue, l.contractId, draw.valueMinor);
        } else {
          books.lots.set(l.lotId, movePortion(l, 'held', releaseTarget(l), draw));
          released(books, l, draw.valueMinor, false);
        }
      }
      return;
    }
    case 'refund': {
      const c = pickOf(
        books.consumptions.filter((x) => x.state === 'CONFIRMED'),
        op.pick,
      );
      if (c === undefined) return;
      const refundable = c.draws.reduce((s, d) => s + d.quantity - d.refunded.quantity, 0n);
      if (refundable === 0n) return;
      const quantity = op.quantity > refundable ? refundable : op.quantity;
      for (const { index, part } of planRefund(books.lots, c.draws, quantity)) {
        const draw = c.draws[index];
        if (draw === undefined) throw new Error('draw missing');
        const l = books.lots.get(draw.lotId);
        if (l === undefined) throw new Error('lot missing');
        c.draws[index] = {
          ...draw,
          refunded: {
            quantity: draw.refunded.quantity + part.quantity,
            valueMinor: draw.refunded.valueMinor + part.valueMinor,
          },
        };
        books.lots.set(l.lotId, movePortion(l, 'consumed', releaseTarget(l), part));
        released(books, l, part.valueMinor, true);
      }
      return;
    }
    case 'advance': {
      clock.now = new Date(now.getTime() + op.days * DAY_MS);
      for (const l of books.lots.values()) {
        if (l.state === 'ACTIVE' && l.expiresAt.getTime() <= clock.now.getTime()) {
          const expired = expireLot(l);
          books.lots.set(l.lotId, expired.lot);
          add(books.breakage, l.contractId, expired.part.valueMinor);
        }
      }
      return;
    }
    case 'freeze': {
      const l = pickOf([...books.lots.values()], op.pick);
      if (l === undefined) return;
      if (op.release) {
        if (l.frozen.quantity === 0n) return;
        const q = op.quantity > l.frozen.quantity ? l.frozen.quantity : op.quantity;
        const moved = unfreezeUnits(l, q);
        books.lots.set(l.lotId, moved.lot);
        released(books, l, moved.part.valueMinor, false);
      } else {
        if (l.available.quantity === 0n) return;
        const q = op.quantity > l.available.quantity ? l.available.quantity : op.quantity;
        books.lots.set(l.lotId, freezeUnits(l, q).lot);
      }
      return;
    }
    case 'reactivate': {
      const l = pickOf(
        [...books.lots.values()].filter((x) => x.state === 'EXPIRED'),
        op.pick,
      );
      if (l === undefined) return;
      const moved = reactivateLot(l, new Date(now.getTime() + 10 * DAY_MS));
      books.lots.set(l.lotId, moved.lot);
      add(books.breakage, l.contractId, -moved.part.valueMinor);
      return;
    }
  }
}

describe('stored-value conservation (property)', () => {
  before(() => {
    console.log(`stored-value property seed: ${SEED} (set PAYCORE_SEED to reproduce)`);
  });

  it('recognised revenue + breakage + remaining value = paid, exactly, per contract and in total', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 120 }), (ops) => {
        const books: Books = {
          lots: new Map(),
          consumptions: [],
          paid: new Map(),
          revenue: new Map(),
          breakage: new Map(),
        };
        const clock = { now: T0, seq: 0n };
        for (const op of ops) apply(books, op, clock);
        const remaining = new Map<string, bigint>();
        for (const l of books.lots.values()) add(remaining, l.contractId, remainingOf(l).valueMinor);
        let totals = { paid: 0n, sum: 0n };
        for (const [contractId, paid] of books.paid) {
          const sum =
            (books.revenue.get(contractId) ?? 0n) +
            (books.breakage.get(contractId) ?? 0n) +
            (remaining.get(contractId) ?? 0n);
          expect(sum, `contract ${contractId}`).to.equal(paid);
          totals = { paid: totals.paid + paid, sum: totals.sum + sum };
        }
        expect(totals.sum).to.equal(totals.paid);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
