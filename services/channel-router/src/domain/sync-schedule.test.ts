/**
 * Proves the status-sync schedule (ADR 0063): a transaction created now is
 * queried every 250 ms for its first 4 s, then 5 s, 10 s, 20 s … apart up to
 * the cap; the slots are counted from creation, so a late pass skips what it
 * missed instead of drifting or catching up; two queries are never closer
 * than half the dense interval; without a dense phase it is the old 5 s /
 * doubling schedule; never past the close deadline (the last query lands
 * exactly on it), and an exception once the deadline has been reached.
 * The random walk takes a seed (SYNC_SCHEDULE_SEED) and prints it.
 */
import { expect } from 'chai';
import {
  DEFAULT_SYNC_SCHEDULE,
  nextSync,
  nextSyncAtMs,
  queryGapMinMs,
  syncDelayMs,
  type SyncSchedule,
} from './sync-schedule';

const CREATED_MS = 1_700_000_000_000;
const NO_DENSE: SyncSchedule = { ...DEFAULT_SYNC_SCHEDULE, denseIntervalMs: 0, denseWindowMs: 0 };

/** The slots (ages after creation) a worker that always runs on time would query. */
function onTimeAges(schedule: SyncSchedule, count: number): number[] {
  const ages: number[] = [];
  let nowMs = CREATED_MS;
  for (let i = 0; i < count; i++) {
    nowMs = nextSyncAtMs(schedule, CREATED_MS, nowMs);
    ages.push(nowMs - CREATED_MS);
  }
  return ages;
}

/** mulberry32: a small seeded generator, so a failing walk can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('status sync schedule', () => {
  it('is dense for the first seconds after creation, then backs off from 5 s to the cap', () => {
    const dense = Array.from({ length: 16 }, (_, i) => (i + 1) * 250);
    expect(onTimeAges(DEFAULT_SYNC_SCHEDULE, 20)).to.deep.equal([...dense, 9_000, 19_000, 39_000, 79_000]);
    const delays = [0, 1, 2, 3, 4, 10, 1000].map((attempt) => syncDelayMs(DEFAULT_SYNC_SCHEDULE, attempt));
    expect(delays).to.deep.equal([5_000, 10_000, 20_000, 40_000, 80_000, 600_000, 600_000]);
    const late = onTimeAges(DEFAULT_SYNC_SCHEDULE, 40).slice(-3);
    expect(late[2]! - late[1]!).to.equal(600_000);
    expect(late[1]! - late[0]!).to.equal(600_000);
  });

  it('without a dense phase keeps the 5 s, 15 s, 35 s … schedule', () => {
    expect(onTimeAges(NO_DENSE, 5)).to.deep.equal([5_000, 15_000, 35_000, 75_000, 155_000]);
  });

  it('a late pass skips the slots it missed and keeps the gap', () => {
    // Queried 150 ms late for the 500 ms slot: 750 is only 100 ms away (gap 125), so the next is 1 000.
    expect(nextSyncAtMs(DEFAULT_SYNC_SCHEDULE, CREATED_MS, CREATED_MS + 650) - CREATED_MS).to.equal(1_000);
    // Queried 7 s late in the back-off phase: on to the slot after, not a burst of missed ones.
    expect(nextSyncAtMs(DEFAULT_SYNC_SCHEDULE, CREATED_MS, CREATED_MS + 16_000) - CREATED_MS).to.equal(
      19_000,
    );
    // A creation stamp a little in the future (clocks of two hosts) still gives the first dense slot.
    expect(nextSyncAtMs(DEFAULT_SYNC_SCHEDULE, CREATED_MS + 30, CREATED_MS) - CREATED_MS).to.equal(280);
  });

  it('never schedules two queries closer than the gap, whatever the lateness (seeded walk)', () => {
    const seed = Number(process.env['SYNC_SCHEDULE_SEED'] ?? Date.now() % 1_000_000);
    process.stdout.write(`      seed ${seed}\n`);
    const random = seeded(seed);
    for (const schedule of [
      DEFAULT_SYNC_SCHEDULE,
      NO_DENSE,
      { ...DEFAULT_SYNC_SCHEDULE, denseIntervalMs: 400 },
    ]) {
      const gapMs = queryGapMinMs(schedule);
      let nowMs = CREATED_MS + Math.floor(random() * 100);
      for (let step = 0; step < 500; step++) {
        const atMs = nextSyncAtMs(schedule, CREATED_MS, nowMs);
        expect(atMs - nowMs, `seed ${seed}, step ${step}`).to.be.greaterThan(gapMs);
        // The pass runs on time or up to two dense intervals (or 10 s in back-off) late.
        nowMs = atMs + Math.floor(random() * (atMs - CREATED_MS < 4_000 ? 800 : 10_000));
      }
    }
  });

  it('clamps the next query to the close deadline, then hands over to the exception list', () => {
    const deadline = CREATED_MS + 12_000;
    expect(nextSync(DEFAULT_SYNC_SCHEDULE, CREATED_MS, CREATED_MS + 250, deadline)).to.deep.equal({
      kind: 'QUERY_AT',
      atMs: CREATED_MS + 500,
    });
    expect(nextSync(DEFAULT_SYNC_SCHEDULE, CREATED_MS, CREATED_MS + 9_000, deadline)).to.deep.equal({
      kind: 'QUERY_AT',
      atMs: deadline,
    });
    expect(nextSync(DEFAULT_SYNC_SCHEDULE, CREATED_MS, deadline, deadline)).to.deep.equal({
      kind: 'EXCEPTION',
    });
  });
});
