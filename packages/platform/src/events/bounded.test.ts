/**
 * The relay's concurrency helper and backoff (pure): calls start in item
 * order, never more than the bound run at once, every failure is reported in
 * its slot; backoff stays within [step/2, step] and under the cap.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs, mapSettledBounded, Sleeper } from './bounded';

describe('mapSettledBounded', () => {
  it('starts calls in order, bounds concurrency and reports each outcome in place', async () => {
    const started: number[] = [];
    let inFlight = 0;
    let inFlightMax = 0;
    const items = Array.from({ length: 50 }, (_, i) => i);
    const results = await mapSettledBounded(items, 7, async (i) => {
      started.push(i);
      inFlight++;
      inFlightMax = Math.max(inFlightMax, inFlight);
      await sleep((i * 7) % 5);
      inFlight--;
      if (i % 10 === 3) throw new Error(`fail ${i}`);
      return i * 2;
    });
    expect(started).to.deep.equal(items);
    expect(inFlightMax).to.equal(7);
    results.forEach((result, i) => {
      if (i % 10 === 3) expect(result.ok).to.equal(false);
      else expect(result).to.deep.equal({ ok: true, value: i * 2 });
    });
  });

  it('handles an empty list', async () => {
    expect(await mapSettledBounded([], 4, () => Promise.resolve(1))).to.deep.equal([]);
  });
});

describe('backoffDelayMs', () => {
  it('stays between half the step and the step, under the cap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        (failures, r) => {
          const delay = backoffDelayMs(failures, 50, 2_000, () => r);
          const step = Math.min(2_000, 50 * 2 ** Math.min(failures, 20));
          expect(delay).to.be.at.least(Math.max(1, Math.floor(step / 2)));
          expect(delay).to.be.at.most(step);
        },
      ),
    );
  });
});

describe('Sleeper', () => {
  it('can be interrupted', async () => {
    const sleeper = new Sleeper();
    const started = Date.now();
    const sleeping = sleeper.sleep(10_000);
    sleeper.interrupt();
    await sleeping;
    expect(Date.now() - started).to.be.lessThan(1_000);
  });
});
