/**
 * Proves the day rules: the accounting day follows its zone and cut-over
 * exactly at the millisecond around local midnight and around the cut-over,
 * a sealed date pushes postings to D+1, bad settings are refused, and a
 * channel's day uses its own rule or China's natural day. Property tests
 * (fast-check, seed from CALENDAR_SEED or random, printed) check in
 * DST-free zones (Asia/Shanghai, UTC, Asia/Kolkata +05:30, Asia/Kathmandu
 * +05:45) that the day equals plain offset arithmetic for every cut-over, is
 * monotonic in time, and that China's natural day equals the `+8h` formula
 * that cashier and channel-router hard-code today.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  accountingDateFor,
  accountingDayRuleFrom,
  ChannelDays,
  CHINA_NATURAL_DAY,
  chinaDayOf,
  dayOf,
  DEFAULT_ACCOUNTING_DAY,
  naturalAccountingDate,
  validateDayRule,
} from './index';

const SEED = Number(process.env.CALENDAR_SEED ?? Math.floor(Math.random() * 2 ** 31));

function reasonAndField(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    const { reason, field } = error as { reason?: string; field?: string };
    return { reason, field };
  }
  throw new Error('expected a throw');
}

const at = (iso: string): Date => new Date(iso);

describe('accounting day', () => {
  before(() => console.log(`      day-rule properties: CALENDAR_SEED=${SEED}`));

  it('turns at local midnight in Asia/Shanghai by default, to the millisecond', () => {
    expect(DEFAULT_ACCOUNTING_DAY).to.deep.equal({ timeZone: 'Asia/Shanghai', cutoverMinutes: 0 });
    expect(naturalAccountingDate(at('2026-09-30T15:59:59.999Z'), DEFAULT_ACCOUNTING_DAY)).to.equal(
      '2026-09-30',
    );
    expect(naturalAccountingDate(at('2026-09-30T16:00:00.000Z'), DEFAULT_ACCOUNTING_DAY)).to.equal(
      '2026-10-01',
    );
    expect(naturalAccountingDate(at('2026-12-31T16:00:00.000Z'), DEFAULT_ACCOUNTING_DAY)).to.equal(
      '2027-01-01',
    );
  });

  it('with a 23:00 cut-over, 23:00 local already belongs to tomorrow', () => {
    const at2300 = { timeZone: 'Asia/Shanghai', cutoverMinutes: 23 * 60 };
    expect(naturalAccountingDate(at('2025-03-01T14:59:59.999Z'), at2300)).to.equal('2025-03-01');
    expect(naturalAccountingDate(at('2025-03-01T15:00:00.000Z'), at2300)).to.equal('2025-03-02');
    // and local midnight is not a boundary any more
    expect(naturalAccountingDate(at('2025-03-01T16:00:00.000Z'), at2300)).to.equal('2025-03-02');
  });

  it('labels the day D from the cut-over on D−1 up to the cut-over on D (the rule account had)', () => {
    // Cut-over 00:01: local 00:00:30 on 2 March is still in the day labelled 2 March, 00:01 starts 3 March.
    // The rule suits evening cut-overs (23:00); ADR 0016 says why it is kept as it was.
    const at0001 = { timeZone: 'Asia/Shanghai', cutoverMinutes: 1 };
    expect(naturalAccountingDate(at('2025-03-01T16:00:59.999Z'), at0001)).to.equal('2025-03-02');
    expect(naturalAccountingDate(at('2025-03-01T16:01:00.000Z'), at0001)).to.equal('2025-03-03');
    const at2359 = { timeZone: 'UTC', cutoverMinutes: 1439 };
    expect(naturalAccountingDate(at('2024-02-28T23:58:59.999Z'), at2359)).to.equal('2024-02-28');
    expect(naturalAccountingDate(at('2024-02-28T23:59:00.000Z'), at2359)).to.equal('2024-02-29');
  });

  it('in a half-hour zone the day turns at its own midnight', () => {
    const kolkata = { timeZone: 'Asia/Kolkata', cutoverMinutes: 0 };
    expect(naturalAccountingDate(at('2025-03-01T18:29:59.999Z'), kolkata)).to.equal('2025-03-01');
    expect(naturalAccountingDate(at('2025-03-01T18:30:00.000Z'), kolkata)).to.equal('2025-03-02');
  });

  it('dates a posting into a sealed day on the day after the last sealed one', () => {
    const instant = at('2025-03-01T04:00:00Z');
    expect(accountingDateFor(instant, DEFAULT_ACCOUNTING_DAY, null)).to.equal('2025-03-01');
    expect(accountingDateFor(instant, DEFAULT_ACCOUNTING_DAY, '2025-02-28')).to.equal('2025-03-01');
    expect(accountingDateFor(instant, DEFAULT_ACCOUNTING_DAY, '2025-03-01')).to.equal('2025-03-02');
    expect(accountingDateFor(instant.getTime(), DEFAULT_ACCOUNTING_DAY, '2025-03-03')).to.equal('2025-03-04');
  });

  it('reads the shared ACCOUNT_TIME_ZONE / ACCOUNT_CUTOVER_MINUTES settings', () => {
    const rule = accountingDayRuleFrom({ ACCOUNT_TIME_ZONE: 'UTC', ACCOUNT_CUTOVER_MINUTES: 90 });
    expect(rule).to.deep.equal({ timeZone: 'UTC', cutoverMinutes: 90 });
  });

  it('refuses an out-of-range cut-over or an unknown zone, naming the setting', () => {
    for (const cutoverMinutes of [-1, 1440, 1.5]) {
      expect(reasonAndField(() => validateDayRule({ timeZone: 'UTC', cutoverMinutes }))).to.deep.equal({
        reason: 'INVALID_FIELD',
        field: 'cutoverMinutes',
      });
    }
    expect(
      reasonAndField(() => validateDayRule({ timeZone: 'Mars/Olympus', cutoverMinutes: 0 })),
    ).to.deep.equal({ reason: 'INVALID_FIELD', field: 'timeZone' });
  });
});

describe('channel day', () => {
  it("uses China's natural day for a channel with no rule of its own", () => {
    const days = new ChannelDays({ '300001': { timeZone: 'Asia/Shanghai', cutoverMinutes: 23 * 60 } });
    expect(days.ruleFor('100001')).to.deep.equal(CHINA_NATURAL_DAY);
    expect(days.dayOf('100001', at('2026-05-01T15:30:00Z'))).to.equal('2026-05-01');
    // bank A closes its bill at 23:00: 23:30 local is the next bill day
    expect(days.dayOf('300001', at('2026-05-01T15:30:00Z'))).to.equal('2026-05-02');
  });

  it('refuses a malformed channel number or rule at construction', () => {
    expect(() => new ChannelDays({ '12': CHINA_NATURAL_DAY })).to.throw(/not 6 digits/);
    expect(() => new ChannelDays({ '100001': { timeZone: 'UTC', cutoverMinutes: 2000 } })).to.throw(
      /cut-over/,
    );
  });
});

describe('day-rule properties in zones without daylight saving', () => {
  const zones = [
    { timeZone: 'Asia/Shanghai', offsetMinutes: 480 },
    { timeZone: 'UTC', offsetMinutes: 0 },
    { timeZone: 'Asia/Kolkata', offsetMinutes: 330 },
    { timeZone: 'Asia/Kathmandu', offsetMinutes: 345 },
  ];
  // 2000-01-01 … 2099-12-31
  const instantArb = fc.integer({ min: 946_684_800_000, max: 4_102_444_799_999 });
  const zoneArb = fc.constantFrom(...zones);
  const cutoverArb = fc.integer({ min: 0, max: 1439 });
  const options = { seed: SEED, numRuns: 1000 };

  it('the day is the UTC date of instant + offset + (1440 − cut-over) mod 1440', () => {
    fc.assert(
      fc.property(instantArb, zoneArb, cutoverArb, (instantMs, zone, cutoverMinutes) => {
        const shiftMinutes = zone.offsetMinutes + ((1440 - cutoverMinutes) % 1440);
        const expected = new Date(instantMs + shiftMinutes * 60_000).toISOString().slice(0, 10);
        return dayOf(instantMs, { timeZone: zone.timeZone, cutoverMinutes }) === expected;
      }),
      options,
    );
  });

  it('never goes backwards in time', () => {
    fc.assert(
      fc.property(instantArb, instantArb, zoneArb, cutoverArb, (a, b, zone, cutoverMinutes) => {
        const rule = { timeZone: zone.timeZone, cutoverMinutes };
        return dayOf(Math.min(a, b), rule) <= dayOf(Math.max(a, b), rule);
      }),
      options,
    );
  });

  it('in Asia/Shanghai the day arithmetic agrees with the time-zone database, from 1992 on', () => {
    const intl = new Intl.DateTimeFormat('en-CA', {
      timeZone: 'Asia/Shanghai',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    // 1992-01-01 (China's last daylight saving ended in 1991) … 2099-12-31
    const sinceArb = fc.integer({ min: 694_224_000_000, max: 4_102_444_799_999 });
    fc.assert(
      fc.property(sinceArb, cutoverArb, (instantMs, cutoverMinutes) => {
        const shiftMs = ((1440 - cutoverMinutes) % 1440) * 60_000;
        const expected = intl.format(new Date(instantMs + shiftMs));
        return dayOf(instantMs, { timeZone: 'Asia/Shanghai', cutoverMinutes }) === expected;
      }),
      options,
    );
    // Before 1992 Shanghai kept summer time some years: the database answers, not the arithmetic.
    const summer1990 = Date.UTC(1990, 6, 1, 15, 30);
    expect(chinaDayOf(summer1990)).to.equal(intl.format(new Date(summer1990)));
    expect(chinaDayOf(summer1990)).to.equal('1990-07-02');
  });

  it("China's natural day equals the +8h formula cashier and channel-router use today", () => {
    fc.assert(
      fc.property(instantArb, (instantMs) => {
        return chinaDayOf(instantMs) === new Date(instantMs + 8 * 3_600_000).toISOString().slice(0, 10);
      }),
      options,
    );
  });
});
