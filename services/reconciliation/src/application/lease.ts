/**
 * Run leases: one replica at a time works on a (channel number, date). The
 * holder renews its lease every third of its time to live while it works and
 * releases it at the end; a holder that dies (SIGKILL) stops renewing, its
 * lease runs out, and the next caller — a retried RPC or the resume worker —
 * takes the day over and continues the run from its recorded state (every
 * step is idempotent, so what the dead holder did is not done twice). A
 * caller that finds the lease held waits for it, polling, at most `waitMs`,
 * and is then refused with RUN_IN_PROGRESS (retry with the same request id).
 * A holder whose renewal finds the lease taken by another (it was paused
 * longer than the time to live) stops at its next step.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ReconError } from '../domain/errors';
import type { LeasePort } from './ports';

export interface LeaseSettings {
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly pollMs: number;
}

/** What a holder checks between steps. */
export interface HeldLease {
  /** Throws RUN_IN_PROGRESS when a renewal found another holder. */
  assertHeld(): void;
}

export const NO_LEASE_CHECK: HeldLease = { assertHeld: () => undefined };

export class RunLeases {
  private readonly process = `${hostname()}:${process.pid}`;

  constructor(
    private readonly port: LeasePort,
    private readonly settings: LeaseSettings,
  ) {}

  /** Runs `fn` holding the day's lease, waiting for it up to `waitMs` (0: try once). */
  async hold<T>(channelNo: string, billDate: string, fn: (lease: HeldLease) => Promise<T>): Promise<T> {
    const owner = `${this.process}:${randomUUID()}`;
    const started = Date.now();
    for (;;) {
      const state = await this.port.take(channelNo, billDate, owner, this.settings.ttlMs);
      if (state.taken) break;
      if (Date.now() - started >= this.settings.waitMs)
        throw new ReconError(
          'RUN_IN_PROGRESS',
          `${channelNo} ${billDate} is being reconciled by another replica`,
          {
            metadata: { lease_expires_at: state.expiresAt.toISOString() },
          },
        );
      await sleep(this.settings.pollMs);
    }
    let lost: Error | undefined;
    // The renewal in flight, awaited before the release (else it could take the lease again after it).
    let renewing: Promise<void> = Promise.resolve();
    const renew = setInterval(
      () => {
        // Chained: one renewal at a time, however slow the database answers.
        renewing = renewing
          .then(async () => this.port.take(channelNo, billDate, owner, this.settings.ttlMs))
          .then(
            (state) => {
              if (!state.taken)
                lost = new ReconError(
                  'RUN_IN_PROGRESS',
                  `the lease of ${channelNo} ${billDate} was taken over`,
                );
            },
            // A failed renewal is retried at the next tick; the lease lasts three of them.
            () => undefined,
          );
      },
      Math.max(100, Math.floor(this.settings.ttlMs / 3)),
    );
    renew.unref();
    const lease: HeldLease = {
      assertHeld: () => {
        if (lost !== undefined) throw lost;
      },
    };
    try {
      return await fn(lease);
    } finally {
      clearInterval(renew);
      await renewing;
      await this.port.release(channelNo, billDate, owner).catch(() => undefined);
    }
  }
}
