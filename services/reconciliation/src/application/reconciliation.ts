/**
 * The reconciliation use cases. A day's run is three recorded steps so that
 * a process killed anywhere resumes where it was and ends with the same
 * result:
 *   1. import + match (one transaction): the file, its lines (COPY), the run,
 *      the row-level results, the differences and their DifferenceOpened
 *      events, or none of it;
 *   2. handle: rules (query the channel; apply its outcome), suspense
 *      postings through account — each external call is idempotent by a key
 *      derived from the difference and is recorded after it answers;
 *   3. report: DayReconciled and the run REPORTED (one transaction).
 * A replay of ReconcileDay (same request id) or the resume worker continues a
 * run from its recorded state.
 */
import { createHash, randomUUID } from 'node:crypto';
import { peekClaim, type OutboxEvent } from '@paycore/platform';
import type { Logger } from 'pino';
import {
  adjustCode,
  CLEARING_SUBJECTS,
  suspenseLegs,
  SUSPENSE_LONG_SUBJECT,
  SUSPENSE_SHORT_SUBJECT,
  writeOffLegs,
} from '../domain/suspense';
import type { ChannelSettings } from '../domain/channels';
import { invalidField, ReconError } from '../domain/errors';
import { statementReader, type StatementFormat } from '../domain/statements';
import type { StatementLine } from '../domain/model';
import { NO_LEASE_CHECK, RunLeases, type HeldLease, type LeaseSettings } from './lease';
import type {
  AccountPort,
  ChannelPort,
  DayFigures,
  DifferenceRow,
  EventFactory,
  MatchOutcome,
  ReconStore,
  ReconTx,
  RunRow,
} from './ports';

export interface ReconSettings {
  readonly channels: ReadonlyMap<string, ChannelSettings>;
  readonly holdWindowMinutes: number;
  /** ImportStatement's bound (one message), and GENERIC_CSV's on any path (parsed whole). */
  readonly uploadBytesMax: number;
  /** UploadStatement's bound (streamed; never held whole). */
  readonly streamUploadBytesMax: number;
  readonly currency: string;
  readonly lease: LeaseSettings;
}

/** UploadStatement: the metadata of the first message and the bytes of the later ones. */
export interface StatementUpload {
  readonly requestId: string;
  readonly channelNo: string;
  readonly billDate: string;
  readonly format: string;
  readonly operator: string;
  readonly checksumSha256: string;
  readonly sizeBytes: number;
  readonly chunks: AsyncIterable<Buffer>;
}

export interface DayResult {
  readonly run: RunRow;
  readonly figures: DayFigures;
  readonly checksumSha256: string;
  readonly lineCount: number;
  readonly statedAmountMinor: bigint;
  readonly statedFeeMinor: bigint;
}

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const HANDLE_BATCH_MAX = 200_000;
export const RULE_APPLY_CHANNEL_OUTCOME = 'apply_channel_outcome';
export const RULE_QUERY_THEN_HOLD = 'query_then_hold';
export const RULE_SUSPENSE = 'suspense';
export const RULE_EXCEPTION = 'exception';

export function assertBillDate(value: string, field = 'bill_date'): string {
  if (!DATE_PATTERN.test(value)) throw invalidField(field, 'must be YYYY-MM-DD');
  const parsed = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== value)
    throw invalidField(field, 'no such date');
  return value;
}

export class Reconciliation {
  private readonly leases: RunLeases;

  constructor(
    private readonly store: ReconStore,
    private readonly channel: ChannelPort,
    private readonly account: AccountPort,
    private readonly events: EventFactory<OutboxEvent>,
    private readonly logger: Logger,
    readonly settings: ReconSettings,
  ) {
    this.leases = new RunLeases(store.leases, settings.lease);
  }

  channelSettings(channelNo: string): ChannelSettings {
    if (!/^\d{6}$/.test(channelNo)) throw invalidField('channel_no', 'must be 6 digits');
    const settings = this.settings.channels.get(channelNo);
    if (settings === undefined)
      throw new ReconError(
        'CHANNEL_NOT_CONFIGURED',
        `channel number ${channelNo} has no reconciliation settings`,
        {
          field: 'channel_no',
        },
      );
    return settings;
  }

  /** ReconcileDay: download through channel-router, then import and run, holding the day's lease. */
  async reconcileDay(input: { requestId: string; channelNo: string; billDate: string }): Promise<DayResult> {
    const settings = this.channelSettings(input.channelNo);
    assertBillDate(input.billDate);
    const request = {
      requestId: input.requestId,
      operation: 'reconciliation.ReconcileDay',
      payload: { channelNo: input.channelNo, billDate: input.billDate },
    };
    // The id is answered before the bill is downloaded: a replay downloads
    // nothing, and a reused id is refused whether or not the bill is ready.
    const peeked = await peekClaim<{ runId: string }>(this.store, 'reconciliation.replay_check', request);
    if (peeked.kind === 'replay') return this.resume(peeked.response.runId);
    return this.leases.hold(input.channelNo, input.billDate, async (lease) => {
      const bill = await this.channel.downloadStatement(input.channelNo, input.billDate);
      if (bill === undefined)
        throw new ReconError('BILL_NOT_READY', `no bill of ${input.channelNo} for ${input.billDate} yet`);
      return this.importAndRun(
        {
          ...request,
          settings,
          billDate: input.billDate,
          format: settings.format,
          checksum: sha256(bill.content),
          sizeBytes: bill.content.length,
          chunks: [bill.content],
          source: 'DOWNLOAD',
          operator: 'schedule',
        },
        lease,
      );
    });
  }

  /** ImportStatement: an operator's upload of a bill (any configured format) in one message. */
  async importStatement(input: {
    requestId: string;
    channelNo: string;
    billDate: string;
    format: string;
    content: Buffer;
    operator: string;
  }): Promise<DayResult> {
    const settings = this.checkUpload(input, input.content.length, this.settings.uploadBytesMax);
    const checksum = sha256(input.content);
    return this.leases.hold(input.channelNo, input.billDate, (lease) =>
      this.importAndRun(
        {
          requestId: input.requestId,
          operation: 'reconciliation.ImportStatement',
          payload: {
            channelNo: input.channelNo,
            billDate: input.billDate,
            format: input.format,
            // The file's bytes by their digest, under the request field's name.
            content: checksum,
            operator: input.operator,
          },
          settings,
          billDate: input.billDate,
          format: settings.format,
          checksum,
          sizeBytes: input.content.length,
          chunks: [input.content],
          source: 'UPLOAD',
          operator: input.operator,
        },
        lease,
      ),
    );
  }

  /**
   * UploadStatement: the same import with the bytes streamed. The declared
   * checksum makes the claim and the replay check possible before any byte
   * is read; the bytes are then read into the import as they arrive, bounded,
   * and the declared size and checksum are checked at the end (a mismatch
   * rolls the import back).
   */
  async uploadStatement(input: StatementUpload): Promise<DayResult> {
    if (!/^[0-9a-f]{64}$/.test(input.checksumSha256))
      throw invalidField('checksum_sha256', '64 lowercase hex digits');
    if (!Number.isSafeInteger(input.sizeBytes) || input.sizeBytes < 1)
      throw invalidField('size_bytes', 'a positive number of bytes');
    const settings = this.channelSettings(input.channelNo);
    const bytesMax =
      settings.format === 'GENERIC_CSV' ? this.settings.uploadBytesMax : this.settings.streamUploadBytesMax;
    this.checkUpload(input, input.sizeBytes, bytesMax);
    return this.leases.hold(input.channelNo, input.billDate, (lease) =>
      this.importAndRun(
        {
          requestId: input.requestId,
          operation: 'reconciliation.UploadStatement',
          payload: {
            channelNo: input.channelNo,
            billDate: input.billDate,
            format: input.format,
            checksumSha256: input.checksumSha256,
            sizeBytes: String(input.sizeBytes),
            operator: input.operator,
          },
          settings,
          billDate: input.billDate,
          format: settings.format,
          checksum: input.checksumSha256,
          sizeBytes: input.sizeBytes,
          chunks: input.chunks,
          source: 'UPLOAD',
          operator: input.operator,
        },
        lease,
      ),
    );
  }

  private checkUpload(
    input: { channelNo: string; billDate: string; format: string; operator: string },
    sizeBytes: number,
    bytesMax: number,
  ): ChannelSettings {
    const settings = this.channelSettings(input.channelNo);
    assertBillDate(input.billDate);
    if (input.format !== settings.format)
      throw invalidField('format', `channel ${input.channelNo} bills are ${settings.format}`);
    if (sizeBytes > bytesMax) throw tooLarge(bytesMax);
    if (!/^.{1,64}$/.test(input.operator)) throw invalidField('operator', '1..64 characters');
    return settings;
  }

  // eslint-disable-next-line max-lines-per-function -- the import transaction in its order: claim, replay checks, file, streamed lines, run, matching, events
  private async importAndRun(
    input: {
      requestId: string;
      operation: string;
      payload: Record<string, string>;
      settings: ChannelSettings;
      billDate: string;
      format: StatementFormat;
      checksum: string;
      sizeBytes: number;
      chunks: AsyncIterable<Buffer> | Iterable<Buffer>;
      source: 'DOWNLOAD' | 'UPLOAD';
      operator: string;
    },
    lease: HeldLease,
  ): Promise<DayResult> {
    const checksum = input.checksum;
    const fileName = `${input.settings.channelNo}_${input.billDate}_${checksum.slice(0, 12)}`;
    const request = { requestId: input.requestId, operation: input.operation, payload: input.payload };
    // eslint-disable-next-line max-lines-per-function -- the transaction of the use case above, step by step
    const runId = await this.store.transaction('reconciliation.import', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ runId: string }>(request);
      if (claim.kind === 'replay') return claim.response.runId;
      await tx.runs.lockDay(input.settings.channelNo, input.billDate);
      const existing = await tx.runs.byDay(input.settings.channelNo, input.billDate);
      if (existing !== null) {
        const file = await tx.files.byChecksum(input.settings.channelNo, input.billDate, checksum);
        if (file === null || file.fileId !== existing.fileId)
          throw new ReconError(
            'DAY_ALREADY_RECONCILED',
            `${input.settings.channelNo} ${input.billDate} was reconciled from another file`,
            { metadata: { run_id: existing.runId } },
          );
        // The same bytes again: a replay of the import (the bytes are not read).
        await tx.remember(request, { runId: existing.runId });
        return existing.runId;
      }
      const file = {
        fileId: randomUUID(),
        channelNo: input.settings.channelNo,
        billDate: input.billDate,
        format: input.format,
        checksumSha256: checksum,
        sizeBytes: input.sizeBytes,
        lineCount: 0,
        statedAmountMinor: 0n,
        statedFeeMinor: 0n,
        source: input.source,
        operator: input.operator,
      };
      await tx.files.insert(file);
      const startedMs = Date.now();
      // Read, checked and copied as the bytes arrive; any refusal rolls all of it back.
      const read = readStatement(
        statementReader(input.format, fileName, input.settings.mapping),
        input.chunks,
        { checksum, sizeBytes: input.sizeBytes },
      );
      const lineCount = await tx.files.copyLineBatches(file, read.batches);
      const footer = read.footer();
      await tx.files.complete(file.fileId, { ...footer, lineCount });
      const copiedMs = Date.now();
      lease.assertHeld();
      const run = {
        runId: randomUUID(),
        channelNo: file.channelNo,
        billDate: file.billDate,
        fileId: file.fileId,
      };
      await tx.runs.insert(run);
      const outcome = await tx.matching.matchDay(
        { ...run, state: 'MATCHED', finishedAt: null },
        { holdDays: input.settings.holdDays, windowMinutes: this.settings.holdWindowMinutes },
      );
      const matchedMs = Date.now();
      await this.announce(tx, run.runId, run.billDate, outcome);
      lease.assertHeld();
      await tx.remember(request, { runId: run.runId });
      this.logger.info(
        {
          run_id: run.runId,
          channel_no: run.channelNo,
          bill_date: run.billDate,
          lines: lineCount,
          differences: outcome.opened.length,
          read_copy_ms: copiedMs - startedMs,
          match_ms: matchedMs - copiedMs,
          events_ms: Date.now() - matchedMs,
        },
        'statement imported and matched',
      );
      return run.runId;
    });
    return this.resume(runId, lease);
  }

  /** The import's events and audit rows: new differences opened, held ones matched or expired. */
  private async announce(tx: ReconTx, runId: string, billDate: string, outcome: MatchOutcome): Promise<void> {
    const run = { runId, billDate };
    const now = new Date();
    for (const difference of outcome.opened) await tx.publish(this.events.differenceOpened(difference));
    for (const difference of outcome.heldMatched) {
      await tx.differences.logRule({
        runId: run.runId,
        differenceId: difference.differenceId,
        rule: 'held_matched_later',
        outcome: 'RESOLVED',
        detail: `held since ${difference.billDate}, matched by ${run.billDate}`,
      });
      await tx.publish(this.events.differenceResolved(difference, now));
    }
    for (const difference of outcome.heldExpired) {
      await tx.differences.logRule({
        runId: run.runId,
        differenceId: difference.differenceId,
        rule: 'hold_expired',
        outcome: 'OPENED',
        detail: `held since ${difference.billDate}, hold ended before ${run.billDate}`,
      });
    }
  }

  /** The resume worker: continues a run holding its day's lease; a held lease means a live holder (skipped). */
  async resumeLeased(run: RunRow): Promise<DayResult | undefined> {
    try {
      return await new RunLeases(this.store.leases, { ...this.settings.lease, waitMs: 0 }).hold(
        run.channelNo,
        run.billDate,
        (lease) => this.resume(run.runId, lease),
      );
    } catch (err) {
      if (err instanceof ReconError && err.reason === 'RUN_IN_PROGRESS') return undefined;
      throw err;
    }
  }

  /** Continues a run from its recorded state to REPORTED and returns the day's result. */
  async resume(runId: string, lease: HeldLease = NO_LEASE_CHECK): Promise<DayResult> {
    let run = await this.runById(runId);
    if (run.state === 'MATCHED') {
      await this.handle(run, lease);
      run = await this.runById(runId);
    }
    if (run.state === 'HANDLED') {
      await this.report(run);
      run = await this.runById(runId);
    }
    return this.dayResult(run);
  }

  private runById(runId: string): Promise<RunRow> {
    return this.store.transaction('reconciliation.run', 'READ COMMITTED', async (tx) => {
      const run = await tx.runs.byId(runId);
      if (run === null) throw new Error(`run ${runId} vanished`);
      return run;
    });
  }

  async dayResult(run: RunRow): Promise<DayResult> {
    return this.store.transaction('reconciliation.figures', 'REPEATABLE READ', async (tx) => {
      const figures = await tx.matching.figures(run);
      const file = await tx.files.byId(run.fileId);
      if (file === null) throw new Error(`file of run ${run.runId} vanished`);
      return {
        run,
        figures,
        checksumSha256: file.checksumSha256,
        lineCount: file.lineCount,
        statedAmountMinor: file.statedAmountMinor,
        statedFeeMinor: file.statedFeeMinor,
      };
    });
  }

  async dayByDate(channelNo: string, billDate: string): Promise<DayResult> {
    this.channelSettings(channelNo);
    assertBillDate(billDate);
    const run = await this.store.transaction('reconciliation.day', 'READ COMMITTED', (tx) =>
      tx.runs.byDay(channelNo, billDate),
    );
    if (run === null)
      throw new ReconError('DAY_NOT_RECONCILED', `${channelNo} ${billDate} has not been reconciled`);
    return this.dayResult(run);
  }

  /** Step 2: rules and suspense; each difference's external calls are keyed by the difference. */
  private async handle(run: RunRow, lease: HeldLease): Promise<void> {
    const differences = await this.store.transaction('reconciliation.to_handle', 'READ COMMITTED', (tx) =>
      tx.differences.toHandle(run),
    );
    if (differences.length >= HANDLE_BATCH_MAX)
      this.logger.warn(
        { run_id: run.runId, count: differences.length },
        'more differences than one pass handles',
      );
    for (const difference of differences) {
      lease.assertHeld();
      await this.handleOne(run, difference);
    }
    lease.assertHeld();
    await this.store.transaction('reconciliation.handled', 'READ COMMITTED', (tx) =>
      tx.runs.moveTo(run.runId, 'HANDLED'),
    );
  }

  private async handleOne(run: RunRow, difference: DifferenceRow): Promise<void> {
    const pending = difference.platformState === 'PROCESSING' || difference.platformState === 'UNKNOWN';
    if (difference.differenceClass === 'STATUS_MISMATCH' && difference.direction === 'OVER' && pending) {
      if (await this.applyChannelOutcome(run, difference)) return;
    }
    if (difference.differenceClass === 'CHANNEL_MISSING' && difference.state === 'HELD') {
      await this.queryThenHold(run, difference);
      return;
    }
    if (difference.state === 'OPEN' && difference.deltaMinor !== 0n && difference.suspenseMinor === 0n) {
      await this.postSuspense(run, difference);
    }
  }

  private async ruleDone(differenceId: string, rule: string): Promise<boolean> {
    return this.store.transaction('reconciliation.rule_done', 'READ COMMITTED', (tx) =>
      tx.differences.ruleApplied(differenceId, rule),
    );
  }

  /** Channel success + paycore processing/unknown: channel-router queries the channel and applies its outcome. */
  private async applyChannelOutcome(run: RunRow, difference: DifferenceRow): Promise<boolean> {
    if (await this.ruleDone(difference.differenceId, RULE_APPLY_CHANNEL_OUTCOME)) return false;
    const answer = await this.channel.queryPayment(difference.platformTxnId);
    const settled = answer.state === 'SUCCESS' && answer.amountMinor === difference.channelAmountMinor;
    await this.store.transaction('reconciliation.apply_outcome', 'READ COMMITTED', async (tx) => {
      await tx.differences.logRule({
        runId: run.runId,
        differenceId: difference.differenceId,
        rule: RULE_APPLY_CHANNEL_OUTCOME,
        outcome: settled ? 'RESOLVED' : `CHANNEL_${answer.state}`,
        detail: `channel-router now has ${answer.state} for ${answer.amountMinor} minor units`,
      });
      if (!settled) return;
      const resolved = await tx.differences.resolve(
        difference.differenceId,
        'AUTO_RULE',
        `rule:${RULE_APPLY_CHANNEL_OUTCOME}`,
        'the channel had it as paid; channel-router applied the outcome',
      );
      if (resolved !== null) await tx.publish(this.events.differenceResolved(resolved, new Date()));
    });
    return settled;
  }

  /** paycore success + channel missing: ask the channel (and channel-router), then keep it held. */
  private async queryThenHold(run: RunRow, difference: DifferenceRow): Promise<void> {
    if (
      difference.platformTxnId === '' ||
      (await this.ruleDone(difference.differenceId, RULE_QUERY_THEN_HOLD))
    )
      return;
    const answer = await this.channel.queryPayment(difference.platformTxnId);
    await this.store.transaction('reconciliation.query_then_hold', 'READ COMMITTED', (tx) =>
      tx.differences.logRule({
        runId: run.runId,
        differenceId: difference.differenceId,
        rule: RULE_QUERY_THEN_HOLD,
        outcome: `HELD_CHANNEL_${answer.state}`,
        detail: `held until ${difference.holdUntil ?? '?'}; the channel answers ${answer.state}`,
      }),
    );
  }

  private async suspenseAccounts(
    channelNo: string,
  ): Promise<{ clearing: string; long: string; short: string }> {
    const clearingSubject = CLEARING_SUBJECTS[channelNo];
    if (clearingSubject === undefined)
      throw new ReconError('CHANNEL_NOT_CONFIGURED', `no pending-clearing subject for channel ${channelNo}`);
    const currency = this.settings.currency;
    const [clearing, long, short] = await Promise.all([
      this.account.internalAccount(
        clearingSubject,
        'DEBIT',
        currency,
        `recon-open:${clearingSubject}:${currency}`,
      ),
      this.account.internalAccount(
        SUSPENSE_LONG_SUBJECT,
        'CREDIT',
        currency,
        `recon-open:${SUSPENSE_LONG_SUBJECT}:${currency}`,
      ),
      this.account.internalAccount(
        SUSPENSE_SHORT_SUBJECT,
        'DEBIT',
        currency,
        `recon-open:${SUSPENSE_SHORT_SUBJECT}:${currency}`,
      ),
    ]);
    return { clearing, long, short };
  }

  private payChannelOf(difference: DifferenceRow): string {
    return /^\d{20}$/.test(difference.bizCode)
      ? difference.bizCode.slice(10, 14)
      : this.channelSettings(difference.channelNo).payChannel;
  }

  /** 挂账: Transfer action 08 on the suspense long / short subject, keyed by the difference. */
  private async postSuspense(run: RunRow, difference: DifferenceRow): Promise<void> {
    const posting = suspenseLegs(difference.deltaMinor, await this.suspenseAccounts(difference.channelNo));
    if (posting === undefined) return;
    const requestId = `recon-suspense:${difference.differenceId}`;
    const code = adjustCode(this.payChannelOf(difference), difference.channelNo);
    const transferId = await this.account.transfer(
      requestId,
      code,
      posting.legs,
      `suspense ${difference.differenceClass} ${difference.merchantOrderNo}`,
    );
    await this.store.transaction('reconciliation.suspense', 'READ COMMITTED', async (tx) => {
      await tx.suspense.record(
        {
          requestId,
          differenceId: difference.differenceId,
          kind: 'POST',
          subjectCode: posting.subjectCode,
          amountMinor: posting.amountMinor,
        },
        transferId,
      );
      await tx.differences.setSuspense(difference.differenceId, posting.amountMinor);
      await tx.differences.logRule({
        runId: run.runId,
        differenceId: difference.differenceId,
        rule: RULE_SUSPENSE,
        outcome: posting.subjectCode === SUSPENSE_LONG_SUBJECT ? 'POSTED_LONG' : 'POSTED_SHORT',
        detail: `${posting.amountMinor} minor units, transfer ${transferId}`,
      });
      if (difference.differenceClass === 'PLATFORM_MISSING')
        await tx.differences.logRule({
          runId: run.runId,
          differenceId: difference.differenceId,
          rule: RULE_EXCEPTION,
          outcome: 'OPENED',
          detail: 'money at the channel for no paycore order: an operator must decide',
        });
    });
  }

  /** Step 3: DayReconciled and REPORTED, once. */
  private async report(run: RunRow): Promise<void> {
    const settings = this.channelSettings(run.channelNo);
    await this.store.transaction('reconciliation.report', 'READ COMMITTED', async (tx) => {
      const figures = await tx.matching.figures(run);
      if (!(await tx.runs.moveTo(run.runId, 'REPORTED'))) return;
      await tx.publish(
        this.events.dayReconciled({
          run,
          payChannel: settings.format === 'GENERIC_CSV' ? settings.payChannel : '',
          currency: this.settings.currency,
          figures,
          reconciledAt: new Date(),
        }),
      );
    });
  }

  /** ResolveDifferences: operator decisions; a posted suspense is written off by the opposite posting. */
  async resolveDifferences(input: {
    requestId: string;
    operator: string;
    decisions: readonly { differenceId: string; resolution: string; reason: string }[];
  }): Promise<DifferenceRow[]> {
    if (!/^.{1,64}$/.test(input.operator)) throw invalidField('operator', '1..64 characters');
    if (input.decisions.length < 1 || input.decisions.length > 1000)
      throw invalidField('decisions', '1..1000 decisions');
    const seen = new Set<string>();
    input.decisions.forEach((decision, index) => {
      if (!['CHANNEL_IS_RIGHT', 'PLATFORM_IS_RIGHT', 'WRITTEN_OFF'].includes(decision.resolution))
        throw invalidField(
          `decisions[${index}].resolution`,
          'CHANNEL_IS_RIGHT, PLATFORM_IS_RIGHT or WRITTEN_OFF',
        );
      if (decision.reason.length < 1 || decision.reason.length > 500)
        throw invalidField(`decisions[${index}].reason`, '1..500 characters');
      if (seen.has(decision.differenceId))
        throw invalidField(`decisions[${index}].difference_id`, 'repeated');
      seen.add(decision.differenceId);
    });
    const request = {
      requestId: input.requestId,
      operation: 'reconciliation.ResolveDifferences',
      payload: input,
    };
    const peeked = await peekClaim<{ ids: string[] }>(this.store, 'reconciliation.replay_check', request);
    if (peeked.kind === 'replay') return this.differencesById(peeked.response.ids);
    const targets = await this.differencesById(
      input.decisions.map((decision) => decision.differenceId),
      true,
    );
    // Write-offs first (outside the transaction, idempotent per difference), then every decision at once.
    for (const target of targets) if (target.suspenseMinor > 0n) await this.writeOff(target);
    return this.store.transaction('reconciliation.resolve', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ ids: string[] }>(request);
      if (claim.kind === 'replay') return this.readDifferences(tx, claim.response.ids);
      const now = new Date();
      const out: DifferenceRow[] = [];
      for (const [index, decision] of input.decisions.entries()) {
        const resolved = await tx.differences.resolve(
          decision.differenceId,
          decision.resolution,
          input.operator,
          decision.reason,
        );
        if (resolved === null) {
          const current = await tx.differences.byId(decision.differenceId);
          if (current === null) throw notFound(decision.differenceId, index);
          throw new ReconError(
            'DIFFERENCE_ALREADY_RESOLVED',
            `difference ${decision.differenceId} is already resolved`,
            {
              field: `decisions[${index}].difference_id`,
              metadata: { resolution: current.resolution ?? '' },
            },
          );
        }
        const posted = await tx.suspense.byDifference(decision.differenceId);
        if (posted.some((posting) => posting.kind === 'WRITE_OFF'))
          await tx.differences.setSuspense(decision.differenceId, 0n);
        await tx.publish(this.events.differenceResolved(resolved, now));
        out.push({ ...resolved, suspenseMinor: 0n });
      }
      await tx.remember(request, { ids: out.map((row) => row.differenceId) });
      return out;
    });
  }

  private async differencesById(ids: readonly string[], forResolution = false): Promise<DifferenceRow[]> {
    return this.store.transaction('reconciliation.differences', 'READ COMMITTED', async (tx) => {
      const rows = await this.readDifferences(tx, ids);
      if (forResolution) {
        rows.forEach((row, index) => {
          if (row.state === 'RESOLVED')
            throw new ReconError(
              'DIFFERENCE_ALREADY_RESOLVED',
              `difference ${row.differenceId} is already resolved`,
              {
                field: `decisions[${index}].difference_id`,
                metadata: { resolution: row.resolution ?? '' },
              },
            );
        });
      }
      return rows;
    });
  }

  private async readDifferences(tx: ReconTx, ids: readonly string[]): Promise<DifferenceRow[]> {
    const rows: DifferenceRow[] = [];
    for (const [index, id] of ids.entries()) {
      const row = await tx.differences.byId(id);
      if (row === null) throw notFound(id, index);
      rows.push(row);
    }
    return rows;
  }

  /** 销账: the opposite of the suspense posting, keyed by the difference (at most once, whoever resolves). */
  private async writeOff(difference: DifferenceRow): Promise<void> {
    const posting = suspenseLegs(difference.deltaMinor, await this.suspenseAccounts(difference.channelNo));
    if (posting === undefined) return;
    const reverse = writeOffLegs(posting);
    const requestId = `recon-writeoff:${difference.differenceId}`;
    const transferId = await this.account.transfer(
      requestId,
      adjustCode(this.payChannelOf(difference), difference.channelNo),
      reverse.legs,
      `write-off ${difference.differenceClass} ${difference.merchantOrderNo}`,
    );
    await this.store.transaction('reconciliation.write_off', 'READ COMMITTED', (tx) =>
      tx.suspense.record(
        {
          requestId,
          differenceId: difference.differenceId,
          kind: 'WRITE_OFF',
          subjectCode: reverse.subjectCode,
          amountMinor: reverse.amountMinor,
        },
        transferId,
      ),
    );
  }
}

function tooLarge(bytesMax: number): ReconError {
  return new ReconError('STATEMENT_TOO_LARGE', `files are at most ${bytesMax} bytes`, {
    metadata: { size_bytes_max: String(bytesMax) },
  });
}

/**
 * The statement's lines as batches while its bytes are read: the size bound
 * is checked before each chunk is parsed (so no more than one chunk past
 * the declared size is ever read), the SHA-256 and the size at the end.
 * `footer()` answers once the batches are exhausted.
 */
function readStatement(
  reader: ReturnType<typeof statementReader>,
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
  declared: { checksum: string; sizeBytes: number },
): {
  batches: AsyncIterable<readonly StatementLine[]>;
  footer(): { sizeBytes: number; statedAmountMinor: bigint; statedFeeMinor: bigint };
} {
  let footer: { sizeBytes: number; statedAmountMinor: bigint; statedFeeMinor: bigint } | undefined;
  async function* batches(): AsyncGenerator<readonly StatementLine[]> {
    const hash = createHash('sha256');
    let sizeBytes = 0;
    for await (const chunk of chunks) {
      sizeBytes += chunk.length;
      if (sizeBytes > declared.sizeBytes) throw tooLargeForDeclared(declared.sizeBytes);
      hash.update(chunk);
      const lines = reader.push(chunk);
      if (lines.length > 0) yield lines;
    }
    if (sizeBytes !== declared.sizeBytes)
      throw invalidField('size_bytes', `declared ${declared.sizeBytes} bytes, received ${sizeBytes}`);
    const digest = hash.digest('hex');
    if (digest !== declared.checksum)
      throw invalidField('checksum_sha256', `declared ${declared.checksum}, the bytes hash to ${digest}`);
    const last = reader.end();
    if (last.lines.length > 0) yield last.lines;
    footer = { sizeBytes, statedAmountMinor: last.statedAmountMinor, statedFeeMinor: last.statedFeeMinor };
  }
  return {
    batches: batches(),
    footer: () => {
      if (footer === undefined) throw new Error('the statement was not read to its end');
      return footer;
    },
  };
}

function tooLargeForDeclared(sizeBytes: number): ReconError {
  return new ReconError('STATEMENT_TOO_LARGE', `more bytes than the declared ${sizeBytes}`, {
    metadata: { size_bytes_max: String(sizeBytes) },
  });
}

function notFound(id: string, index: number): ReconError {
  return new ReconError('DIFFERENCE_NOT_FOUND', `no difference ${id}`, {
    field: `decisions[${index}].difference_id`,
  });
}

export function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}
