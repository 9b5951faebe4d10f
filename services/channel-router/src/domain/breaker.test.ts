/**
 * Proves the circuit breaker with an injected clock: it opens only when the
 * failure rate over the window reaches the threshold with enough calls,
 * forgets failures that left the window, half-opens after the open period
 * with a bounded number of probes, closes on a successful probe and reopens
 * on a failed one; and BreakerBoard reports open channels for routing.
 */
import { expect } from 'chai';
import { BreakerBoard, CircuitBreaker, type BreakerOptions } from './breaker';

describe('circuit breaker', () => {
  let now = 0;
  const options: BreakerOptions = {
    windowMs: 10_000,
    minimumCalls: 4,
    failureRateThreshold: 0.5,
    openMs: 5_000,
    halfOpenProbesMax: 1,
    nowMs: () => now,
  };
  beforeEach(() => {
    now = 1_000_000;
  });

  it('stays closed below the minimum number of calls and below the rate', () => {
    const few = new CircuitBreaker(options);
    for (const ok of [false, false, false]) few.record(ok);
    expect(few.current(), '3 calls < minimumCalls').to.equal('CLOSED');
    const breaker = new CircuitBreaker(options);
    for (const ok of [true, true, true, true, false, false, false]) breaker.record(ok);
    expect(breaker.current(), '3 of 7 failed').to.equal('CLOSED');
  });

  it('opens at the threshold, half-opens after openMs, closes on a good probe', () => {
    const breaker = new CircuitBreaker(options);
    for (const ok of [true, false, true, false]) breaker.record(ok);
    expect(breaker.current()).to.equal('OPEN');
    expect(breaker.tryAcquire()).to.equal(false);
    now += 4_999;
    expect(breaker.current()).to.equal('OPEN');
    now += 1;
    expect(breaker.current()).to.equal('HALF_OPEN');
    expect(breaker.tryAcquire()).to.equal(true);
    expect(breaker.tryAcquire(), 'one probe at a time').to.equal(false);
    breaker.record(true);
    expect(breaker.current()).to.equal('CLOSED');
  });

  it('a failed probe opens it again for another full period', () => {
    const breaker = new CircuitBreaker(options);
    for (let i = 0; i < 4; i += 1) breaker.record(false);
    now += 5_000;
    expect(breaker.tryAcquire()).to.equal(true);
    breaker.record(false);
    expect(breaker.current()).to.equal('OPEN');
    now += 4_999;
    expect(breaker.current()).to.equal('OPEN');
  });

  it('failures that left the window do not count', () => {
    const breaker = new CircuitBreaker(options);
    breaker.record(false);
    breaker.record(false);
    breaker.record(false);
    now += 10_000;
    breaker.record(false);
    expect(breaker.current(), 'only one failure inside the window').to.equal('CLOSED');
  });

  it('the board lists open channel numbers', () => {
    const board = new BreakerBoard(options);
    for (let i = 0; i < 4; i += 1) board.of('100001').record(false);
    board.of('200001').record(true);
    expect([...board.openChannels()]).to.deep.equal(['100001']);
  });
});
