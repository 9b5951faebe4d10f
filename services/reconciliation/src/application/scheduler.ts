/**
 * Background work: the daily schedule (each downloadable channel's bill of
 * the previous China day, once the configured minute of the day has passed)
 * and the resume pass (runs a killed process left between steps, and bank
 * purchase claims left PENDING between their record and account's answer). All are
 * idempotent: the schedule's request id is derived from (channel, date),
 * every step of a run is keyed by the run or the difference, and a claim's
 * posting by the claim's request id.
 */
import type { Logger } from 'pino';
import { ReconError } from '../domain/errors';
import type { BankClaims } from './bank';
import type { Reconciliation } from './reconciliation';
import type { ReconStore } from './ports';

export const RESUME_BATCH_MAX = 20;
const CHINA_OFFSET_MS = 8 * 3_600_000;

export interface ScheduleOptions {
  /** False: no daily schedule, only the resume pass. */
  readonly enabled: boolean;
  /** Minute of the China day after which yesterday's bills are fetched (Alipay and WeChat publish them by 09:00). */
  readonly minuteOfDay: number;
  /** A run untouched this long is resumed by the worker. */
  readonly resumeAfterMs: number;
  readonly nowMs: () => number;
}

export class Scheduler {
  constructor(
    private readonly recon: Reconciliation,
    private readonly store: ReconStore,
    private readonly logger: Logger,
    private readonly options: ScheduleOptions,
    private readonly bank?: BankClaims,
  ) {}

  /** One pass: resume what was interrupted, then start what is due. */
  async pass(): Promise<void> {
    await this.resumeInterrupted();
    await this.resumeClaims();
    if (this.options.enabled) await this.runDue();
  }

  /** Bank purchase claims recorded but not posted for longer than resumeAfterMs. */
  async resumeClaims(): Promise<void> {
    if (this.bank === undefined) return;
    const before = new Date(this.options.nowMs() - this.options.resumeAfterMs);
    const counts = await this.bank.resumePending(before, RESUME_BATCH_MAX);
    if (counts.posted + counts.refused + counts.failed > 0)
      this.logger.info(counts, 'resumed pending bank claims');
  }

  async resumeInterrupted(): Promise<void> {
    const before = new Date(this.options.nowMs() - this.options.resumeAfterMs);
    const runs = await this.store.transaction('reconciliation.unfinished', 'READ COMMITTED', (tx) =>
      tx.runs.unfinished(before, RESUME_BATCH_MAX),
    );
    for (const run of runs) {
      this.logger.info({ run_id: run.runId, state: run.state }, 'resuming an interrupted run');
      await this.recon.resumeLeased(run);
    }
  }

  async runDue(): Promise<void> {
    const chinaNow = new Date(this.options.nowMs() + CHINA_OFFSET_MS);
    const minute = chinaNow.getUTCHours() * 60 + chinaNow.getUTCMinutes();
    if (minute < this.options.minuteOfDay) return;
    const billDate = new Date(chinaNow.getTime() - 86_400_000).toISOString().slice(0, 10);
    for (const settings of this.recon.settings.channels.values()) {
      if (settings.format === 'GENERIC_CSV') continue; // uploaded by operators
      const done = await this.store.transaction('reconciliation.scheduled', 'READ COMMITTED', (tx) =>
        tx.runs.byDay(settings.channelNo, billDate),
      );
      if (done !== null) continue;
      try {
        await this.recon.reconcileDay({
          requestId: `schedule:${settings.channelNo}:${billDate}`,
          channelNo: settings.channelNo,
          billDate,
        });
        this.logger.info(
          { channel_no: settings.channelNo, bill_date: billDate },
          'scheduled reconciliation done',
        );
      } catch (err) {
        if (err instanceof ReconError && err.reason === 'BILL_NOT_READY') continue;
        this.logger.warn(
          { err, channel_no: settings.channelNo, bill_date: billDate },
          'scheduled reconciliation failed',
        );
      }
    }
  }
}

/** Runs `pass` every `tickMs`, one pass at a time; stop waits for the pass in flight. */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly tickMs: number,
    private readonly work: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.work()
        .catch((err: unknown) =>
          this.logger.warn({ err, worker: this.name }, 'pass failed; next tick retries'),
        )
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }
}
