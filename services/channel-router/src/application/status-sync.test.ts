/**
 * Proves that status sync, idle on its production backstop (5 s), still reacts
 * at once to a new transaction: the worker runs against a fake router with
 * nothing due and a real wake-up (the one the store signals after a
 * transaction commits); after it has gone to sleep, a signal makes it claim
 * again within a fraction of the backstop, and with no signal it stays asleep.
 */
import { expect } from 'chai';
import pino from 'pino';
import { Wakeup, signalWakeup, wakeupChannel } from '@paycore/platform';
import type { ChannelRouter } from './channel-router';
import { StatusSyncWorker } from './status-sync';

const BACKSTOP_MS = 5_000;

describe('status sync wake-up', () => {
  it('claims again promptly when signalled while idle on a 5 s backstop', async () => {
    const channel = wakeupChannel('channel', 'status_sync_test');
    const claims: number[] = [];
    const router: Pick<ChannelRouter, 'claimDue' | 'nextSyncDueAt'> = {
      claimDue: () => {
        claims.push(Date.now());
        return Promise.resolve([]);
      },
      nextSyncDueAt: () => Promise.resolve(undefined),
    };
    const wake = new Wakeup(channel, { backstopIntervalMs: BACKSTOP_MS });
    const worker = new StatusSyncWorker(
      router as ChannelRouter,
      wake,
      { tickMs: BACKSTOP_MS, batchSizeMax: 10, concurrencyMax: 2, leaseMs: 30_000 },
      pino({ level: 'silent' }),
    );
    worker.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(claims.length, 'one pass at start, then asleep').to.equal(1);
      const signalledAt = Date.now();
      signalWakeup(channel);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(claims.length, 'the signal woke one more pass').to.equal(2);
      expect((claims[1] ?? Infinity) - signalledAt).to.be.below(250);
    } finally {
      await worker.stop();
    }
  });
});
