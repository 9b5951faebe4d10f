/**
 * The event-loop delay histogram samples at the configured interval: its
 * gauges read the time between samples (interval plus delay), so the
 * smallest sample shows which interval the process runs at. One that
 * silently kept prom-client's own 10 ms would wake every idle process 100
 * times a second.
 */
import { expect } from 'chai';
import { createMetrics, EVENT_LOOP_RESOLUTION_MS_DEFAULT } from './metrics';

async function smallestSampleSeconds(eventLoopResolutionMs: number | undefined, waitMs: number) {
  const metrics = createMetrics(
    'metrics-test',
    eventLoopResolutionMs === undefined ? {} : { eventLoopResolutionMs },
  );
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  const gauge = (await metrics.registry.getMetricsAsJSON()).find(
    (m) => m.name === 'nodejs_eventloop_lag_min_seconds',
  );
  const value = gauge?.values[0]?.value;
  expect(value, 'nodejs_eventloop_lag_min_seconds is reported').to.be.a('number');
  return value as number;
}

describe('process metrics', () => {
  it('samples the event loop at the default interval unless told otherwise', async () => {
    const seconds = await smallestSampleSeconds(undefined, 6 * EVENT_LOOP_RESOLUTION_MS_DEFAULT);
    // A timer fires at most a millisecond or so early; never at a tenth of its interval.
    expect(seconds).to.be.at.least((EVENT_LOOP_RESOLUTION_MS_DEFAULT * 0.9) / 1000);
  });

  it('samples at the interval it is given', async () => {
    const seconds = await smallestSampleSeconds(20, 600);
    expect(seconds).to.be.at.least(0.018);
    expect(seconds).to.be.below((EVENT_LOOP_RESOLUTION_MS_DEFAULT * 0.9) / 1000);
  });
});
