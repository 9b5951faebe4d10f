/**
 * Proves the routing decision (issue 5, item 3): a daily cap, a maintenance
 * window, amount limits and a tripped breaker each remove a route and say
 * why; the strategies order what is left (priority, lowest cost); and
 * WEIGHTED splits 10,000 seeded decisions in proportion to the weights within
 * a tolerance of four standard deviations, so the test fails on a real bias
 * but not by chance. Everything is pure input → output; no clock, no I/O.
 */
import { expect } from 'chai';
import type { ChannelNumberConfig, RouteConfig } from './model';
import { choose, judge, usageKey, type RoutingInput } from './routing';

function channel(channelNo: string): ChannelNumberConfig {
  return {
    channelNo,
    name: channelNo,
    protocol: 'BANK',
    status: 'ENABLED',
    baseUrl: 'http://bank.invalid',
    closeAfterSeconds: 900,
    hasCredentials: true,
  };
}

function route(channelNo: string, overrides: Partial<RouteConfig> = {}): RouteConfig {
  return {
    payChannel: '3001',
    channelNo,
    feeRate: '0.006',
    roundingMode: 'ROUND_HALF_UP',
    currency: 'CNY',
    minAmount: 1n,
    maxAmount: 1_000_000n,
    dailyCap: 0n,
    weight: 1,
    priority: 10,
    status: 'ENABLED',
    maintenanceWindows: [],
    supportedActions: ['PAY', 'QUERY', 'REFUND', 'CLOSE'],
    ...overrides,
  };
}

const NOW = Date.UTC(2024, 0, 2, 3, 0, 0);

function input(routes: RouteConfig[], overrides: Partial<RoutingInput> = {}): RoutingInput {
  return {
    routes,
    channels: new Map(routes.map((r) => [r.channelNo, channel(r.channelNo)])),
    amount: 10_000n,
    action: 'PAY',
    nowMs: NOW,
    usedToday: new Map(),
    circuitOpen: new Set(),
    ...overrides,
  };
}

/** A deterministic PRNG (mulberry32) so the weighted test is reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('routing', () => {
  const a = route('300001', { priority: 1 });
  const b = route('300002', { priority: 2 });

  it('PRIORITY takes the lowest priority number among eligible routes', () => {
    expect(choose(judge(input([b, a])), 'PRIORITY', Math.random)?.route.channelNo).to.equal('300001');
  });

  it('a daily cap that this amount would exceed moves the decision to the next route', () => {
    const capped = route('300001', { priority: 1, dailyCap: 50_000n });
    const under = input([capped, b], { usedToday: new Map([[usageKey('3001', '300001'), 40_000n]]) });
    expect(choose(judge(under), 'PRIORITY', Math.random)?.route.channelNo).to.equal('300001');
    const over = input([capped, b], { usedToday: new Map([[usageKey('3001', '300001'), 40_001n]]) });
    const judged = judge(over);
    expect(judged.find((c) => c.route.channelNo === '300001')?.reason).to.equal('DAILY_CAP');
    expect(choose(judged, 'PRIORITY', Math.random)?.route.channelNo).to.equal('300002');
  });

  it('a maintenance window excludes a route only while it lasts (half-open interval)', () => {
    const window = { startMs: NOW - 1000, endMs: NOW + 1000 };
    const maintained = route('300001', { priority: 1, maintenanceWindows: [window] });
    expect(judge(input([maintained, b]))[0]?.reason).to.equal('MAINTENANCE');
    expect(choose(judge(input([maintained, b])), 'PRIORITY', Math.random)?.route.channelNo).to.equal(
      '300002',
    );
    expect(judge(input([maintained], { nowMs: NOW + 1000 }))[0]?.reason).to.equal('ELIGIBLE');
    expect(judge(input([maintained], { nowMs: NOW - 1000 }))[0]?.reason).to.equal('MAINTENANCE');
  });

  it('amount limits are inclusive and exclude amounts outside them', () => {
    const limited = route('300001', { priority: 1, minAmount: 100n, maxAmount: 5_000n });
    expect(judge(input([limited], { amount: 100n }))[0]?.reason).to.equal('ELIGIBLE');
    expect(judge(input([limited], { amount: 5_000n }))[0]?.reason).to.equal('ELIGIBLE');
    expect(judge(input([limited], { amount: 99n }))[0]?.reason).to.equal('BELOW_MIN_AMOUNT');
    expect(judge(input([limited], { amount: 5_001n }))[0]?.reason).to.equal('ABOVE_MAX_AMOUNT');
    expect(
      choose(judge(input([limited, b], { amount: 5_001n })), 'PRIORITY', Math.random)?.route.channelNo,
    ).to.equal('300002');
  });

  it('a tripped breaker excludes every route of its channel number', () => {
    const judged = judge(input([a, b], { circuitOpen: new Set(['300001']) }));
    expect(judged[0]?.reason).to.equal('CIRCUIT_OPEN');
    expect(choose(judged, 'PRIORITY', Math.random)?.route.channelNo).to.equal('300002');
    expect(choose(judge(input([a], { circuitOpen: new Set(['300001']) })), 'PRIORITY', Math.random)).to.equal(
      undefined,
    );
  });

  it('disabled routes and channels, missing credentials and unsupported actions are skipped with their reason', () => {
    const disabled = route('300001', { status: 'DISABLED' });
    expect(judge(input([disabled]))[0]?.reason).to.equal('DISABLED');
    const channels = new Map([['300001', { ...channel('300001'), status: 'DISABLED' as const }]]);
    expect(judge(input([a], { channels }))[0]?.reason).to.equal('CHANNEL_DISABLED');
    const noKeys = new Map([['300001', { ...channel('300001'), hasCredentials: false }]]);
    expect(judge(input([a], { channels: noKeys }))[0]?.reason).to.equal('NO_CREDENTIALS');
    expect(judge(input([a], { action: 'PAYOUT' }))[0]?.reason).to.equal('ACTION_UNSUPPORTED');
  });

  it('LOWEST_COST takes the cheapest fee for the amount, priority breaking ties', () => {
    const dear = route('300001', { priority: 1, feeRate: '0.006' });
    const cheap = route('300002', { priority: 9, feeRate: '0.0038' });
    const judged = judge(input([dear, cheap], { amount: 10_000n }));
    expect(judged.map((c) => c.feeMinor)).to.deep.equal([60n, 38n]);
    expect(choose(judged, 'LOWEST_COST', Math.random)?.route.channelNo).to.equal('300002');
    // At 1 fen both fees round to 0: equal cost, so priority decides.
    expect(
      choose(judge(input([dear, cheap], { amount: 1n })), 'LOWEST_COST', Math.random)?.route.channelNo,
    ).to.equal('300001');
  });

  it('WEIGHTED follows the weights over 10,000 decisions within 4 standard deviations', () => {
    const routes = [
      route('300001', { weight: 1 }),
      route('300002', { weight: 3 }),
      route('300003', { weight: 6 }),
      route('300004', { weight: 0 }),
    ];
    const judged = judge(input(routes));
    const random = seeded(20240102);
    const counts = new Map<string, number>();
    const decisions = 10_000;
    for (let i = 0; i < decisions; i += 1) {
      const chosen = choose(judged, 'WEIGHTED', random)?.route.channelNo ?? 'none';
      counts.set(chosen, (counts.get(chosen) ?? 0) + 1);
    }
    expect(counts.get('300004') ?? 0, 'weight 0 is never chosen').to.equal(0);
    for (const [channelNo, weight] of [
      ['300001', 1],
      ['300002', 3],
      ['300003', 6],
    ] as const) {
      const p = weight / 10;
      const expected = decisions * p;
      const sigma = Math.sqrt(decisions * p * (1 - p));
      expect(Math.abs((counts.get(channelNo) ?? 0) - expected), channelNo).to.be.below(4 * sigma);
    }
    // The tolerance is not vacuous: with a skewed source the split leaves it.
    const skewed = seeded(7);
    let first = 0;
    for (let i = 0; i < decisions; i += 1) {
      if (choose(judged, 'WEIGHTED', () => skewed() * 0.5)?.route.channelNo === '300001') first += 1;
    }
    expect(Math.abs(first - 1_000)).to.be.above(4 * Math.sqrt(decisions * 0.1 * 0.9));
  });

  it('WEIGHTED skips ineligible routes before weighing', () => {
    const routes = [route('300001', { weight: 9, status: 'DISABLED' }), route('300002', { weight: 1 })];
    const judged = judge(input(routes));
    for (let i = 0; i < 100; i += 1)
      expect(choose(judged, 'WEIGHTED', Math.random)?.route.channelNo).to.equal('300002');
  });
});
