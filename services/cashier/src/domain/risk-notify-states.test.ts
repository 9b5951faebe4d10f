/**
 * Proves the small pure rules: risk limits refuse with RISK_LIMIT_EXCEEDED
 * naming the limit (and a zero limit means none); the notification signature
 * verifies for the exact body and timestamp and fails for any change
 * (fast-check); the retry schedule is 5 s … 15 h scaled by the time factor
 * and ends after nine attempts; only a 2xx `success` acknowledges; the state
 * tables allow exactly the documented transitions.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { NO_RISK_LIMITS } from './model';
import {
  isAcknowledged,
  nextNotifyDelayMs,
  NOTIFY_ATTEMPTS_MAX,
  signNotification,
  verifyNotification,
} from './notify';
import { checkRisk } from './risk';
import { canPayment, decideFromChannel, orderStateAfterRefund } from './states';

const usage = { merchantDailyMinor: 0n, payerDailyMinor: 0n, payerPaymentsThisMinute: 0 };

describe('risk limits', () => {
  it('names the limit that refuses', () => {
    const limits = { ...NO_RISK_LIMITS, perTransactionMaxMinor: 100n };
    expect(checkRisk(limits, usage, 100n)).to.equal(undefined);
    expect(checkRisk(limits, usage, 101n)?.metadata['limit']).to.equal('PER_TRANSACTION');
    const daily = { ...NO_RISK_LIMITS, merchantDailyMaxMinor: 1000n };
    expect(checkRisk(daily, { ...usage, merchantDailyMinor: 900n }, 100n)).to.equal(undefined);
    expect(checkRisk(daily, { ...usage, merchantDailyMinor: 900n }, 101n)?.reason).to.equal(
      'RISK_LIMIT_EXCEEDED',
    );
    const payer = { ...NO_RISK_LIMITS, payerDailyMaxMinor: 50n };
    expect(checkRisk(payer, { ...usage, payerDailyMinor: 50n }, 1n)?.metadata['limit']).to.equal(
      'PAYER_DAILY',
    );
    const velocity = { ...NO_RISK_LIMITS, payerPaymentsPerMinuteMax: 3 };
    expect(checkRisk(velocity, { ...usage, payerPaymentsThisMinute: 2 }, 1n)).to.equal(undefined);
    expect(checkRisk(velocity, { ...usage, payerPaymentsThisMinute: 3 }, 1n)?.metadata['limit']).to.equal(
      'PAYER_VELOCITY',
    );
    expect(
      checkRisk(
        NO_RISK_LIMITS,
        { merchantDailyMinor: 10n ** 15n, payerDailyMinor: 10n ** 15n, payerPaymentsThisMinute: 10_000 },
        10n ** 12n,
      ),
    ).to.equal(undefined);
  });
});

describe('merchant notifications', () => {
  it('a signature verifies for the exact body and timestamp only', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 16, maxLength: 40 }),
        fc.string(),
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.string({ minLength: 1 }),
        (key, body, ts, extra) => {
          const header = `v1=${signNotification(key, ts, body)}`;
          expect(verifyNotification(key, ts, body, header)).to.equal(true);
          expect(verifyNotification(key, ts + 1, body, header)).to.equal(false);
          expect(verifyNotification(key, ts, body + extra, header)).to.equal(false);
          expect(verifyNotification(`${key}x`, ts, body, header)).to.equal(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('retries 5 s, 2 m, 10 m, 15 m, 1 h, 2 h, 6 h, 15 h, scaled, then stops', () => {
    const minutes = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => nextNotifyDelayMs(n, 1));
    expect(minutes).to.deep.equal([
      5_000, 120_000, 600_000, 900_000, 3_600_000, 7_200_000, 21_600_000, 54_000_000,
    ]);
    expect(nextNotifyDelayMs(9, 1)).to.equal(undefined);
    expect(NOTIFY_ATTEMPTS_MAX).to.equal(9);
    expect(nextNotifyDelayMs(1, 1000)).to.equal(5);
    expect(nextNotifyDelayMs(8, 1000)).to.equal(54_000);
  });

  it('only a 2xx "success" acknowledges', () => {
    expect(isAcknowledged(200, 'success')).to.equal(true);
    expect(isAcknowledged(200, ' success\n')).to.equal(true);
    expect(isAcknowledged(200, 'ok')).to.equal(false);
    expect(isAcknowledged(500, 'success')).to.equal(false);
  });
});

describe('state machines', () => {
  it('payments go forward only, and each decision is final', () => {
    expect(canPayment('TRYING', 'PROCESSING')).to.equal(true);
    expect(canPayment('PROCESSING', 'CONFIRMING')).to.equal(true);
    expect(canPayment('CONFIRMING', 'CANCELLING')).to.equal(true); // an operator's FAILED on a payment the channel did not take
    expect(canPayment('CONFIRMING', 'PROCESSING')).to.equal(false);
    expect(canPayment('CANCELLING', 'CONFIRMING')).to.equal(false);
    expect(canPayment('SUCCEEDED', 'FAILED')).to.equal(false);
    expect(decideFromChannel('SUCCESS')).to.equal('CONFIRM');
    expect(decideFromChannel('CLOSED')).to.equal('CANCEL');
    expect(decideFromChannel('UNKNOWN')).to.equal('WAIT');
    expect(orderStateAfterRefund(100n, 99n)).to.equal('PAID');
    expect(orderStateAfterRefund(100n, 100n)).to.equal('REFUNDED');
  });
});
