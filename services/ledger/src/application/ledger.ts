/**
 * The ledger's use cases. Each one is a named transaction over the store
 * port; the rules come from the pure domain. Telemetry and transport wrap
 * these from outside (adapters), so nothing here logs or knows gRPC.
 */
import assert from 'node:assert/strict';
import { atLevel, dayBalances, rollUp, type SubjectDayBalance } from '../domain/balances';
import { addDays, assertIsoDate, naturalAccountingDate, type AccountingDayRule } from '@paycore/calendar';
import { checkDay, type SealedTotal } from '../domain/close-check';
import {
  CheckReportNotFoundError,
  CloseCheckFailedError,
  DayClosedError,
  DayNotClosableError,
  DayNotSealedError,
  IdempotencyKeyReusedError,
  InvalidFieldError,
  LedgerError,
  ParentHasPostingsError,
  SubjectNotFoundError,
} from '../domain/errors';
import { Chart, parentOf, validateNewSubject } from '../domain/subjects';
import { trialBalance, type TrialBalanceTotals } from '../domain/trial-balance';
import type { Side } from '@paycore/money';
import type { Subject, Voucher, VoucherLine } from '../domain/types';
import { REASON_LENGTH_MAX, validateVoucherLines } from '../domain/vouchers';
import { peekClaim, type IdempotentRequest } from '@paycore/platform';
import type {
  AccountDailyBalances,
  CheckReport,
  DayStatus,
  LedgerStore,
  LedgerTx,
  LedgerUnitTx,
} from './ports';

/** A posted transfer as the ledger needs it (decoded from account.transfer_posted). */
export interface TransferPostedFact {
  readonly transferId: string;
  readonly bizCode: string;
  readonly accountingDate: string;
  readonly legs: readonly {
    readonly accountId: string;
    readonly subjectCode: string;
    readonly side: Side;
    readonly amountMinor: bigint;
    readonly currency: string;
  }[];
}

/** account.day_sealed as the ledger needs it. */
export interface DaySealedFact {
  readonly accountingDate: string;
  readonly totals: readonly SealedTotal[];
  readonly accountCount: bigint;
  readonly sealedAt: Date;
}

export interface ManualVoucherInput {
  readonly requestId: string;
  readonly bizCode: string;
  /** Empty for today's date in the accounting calendar. */
  readonly accountingDate: string;
  readonly lines: readonly Omit<VoucherLine, 'accountId'>[];
  readonly reason: string;
  readonly operator: string;
}

export interface BalanceTable {
  readonly accountingDate: string;
  readonly rows: readonly SubjectDayBalance[];
  readonly totals: readonly TrialBalanceTotals[];
  readonly provisional: boolean;
  readonly chart: Chart;
}

export interface CloseResult {
  readonly accountingDate: string;
  readonly report: CheckReport;
  readonly closedAt: Date;
}

/** Differences named in the error itself; the report holds all of them. */
const DIFFERENCES_IN_ERROR_MAX = 5;

export class LedgerApp {
  constructor(
    private readonly store: LedgerStore,
    private readonly accounts: AccountDailyBalances,
    private readonly calendar: AccountingDayRule,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * One voucher per transfer. A transfer that cannot become a voucher (its
   * date is closed, a subject is unknown, not a leaf or not account-kept) is
   * recorded as an exception for operators instead, never dropped. Runs in
   * the inbox transaction; the unique transfer id makes a duplicate that got
   * past the inbox a no-op.
   */
  async recordTransferPosted(
    tx: LedgerTx,
    fact: TransferPostedFact,
    payload: Uint8Array,
  ): Promise<'RECORDED' | 'DUPLICATE' | 'EXCEPTION'> {
    if (fact.transferId === '' || fact.transferId.length > 128)
      throw new Error('transfer_posted without a usable transfer_id');
    const exception = async (reason: string, detail: string): Promise<'EXCEPTION'> => {
      await tx.recordException({
        transferId: fact.transferId,
        bizCode: fact.bizCode,
        accountingDate: fact.accountingDate,
        reason,
        detail,
        payload,
      });
      return 'EXCEPTION';
    };
    try {
      assertIsoDate(fact.accountingDate, 'accounting_date');
    } catch (err) {
      return exception('INVALID_FIELD', (err as Error).message);
    }
    await tx.lockChart('SHARED');
    const day = await tx.lockDay(fact.accountingDate, 'SHARE');
    if (day.status === 'CLOSED')
      return exception('DAY_CLOSED', `accounting date ${fact.accountingDate} is closed`);
    const lines: VoucherLine[] = fact.legs.map((leg) => ({ ...leg }));
    try {
      validateVoucherLines(lines, new Chart(await tx.loadChart()), 'TRANSFER', 'legs');
    } catch (err) {
      if (err instanceof LedgerError) return exception(err.reason, err.message);
      throw err;
    }
    const voucher = await tx.insertVoucher({
      source: 'TRANSFER',
      transferId: fact.transferId,
      requestId: null,
      bizCode: fact.bizCode,
      accountingDate: fact.accountingDate,
      lines,
      reason: '',
      operator: '',
    });
    return voucher === null ? 'DUPLICATE' : 'RECORDED';
  }

  async recordDaySealed(tx: LedgerTx, fact: DaySealedFact): Promise<void> {
    assertIsoDate(fact.accountingDate, 'accounting_date');
    await tx.lockDay(fact.accountingDate, 'UPDATE');
    await tx.markSealed(fact.accountingDate, fact.accountCount, fact.sealedAt, fact.totals);
  }

  async createSubject(requestId: string, subject: Subject): Promise<Subject> {
    const request: IdempotentRequest = { requestId, operation: 'ledger.CreateSubject', payload: subject };
    return this.store.transaction('create-subject', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ code: string }>(request);
      await tx.lockChart('EXCLUSIVE');
      const chart = new Chart(await tx.loadChart());
      if (claim.kind === 'replay') {
        const stored = chart.get(claim.response.code);
        if (stored === undefined) throw new SubjectNotFoundError(`subject ${claim.response.code} is gone`);
        return stored;
      }
      validateNewSubject(chart, subject);
      const parent = parentOf(subject.code);
      if (parent !== null && chart.isLeaf(parent) && (await tx.subjectHasLines(parent))) {
        throw new ParentHasPostingsError(
          `subject ${parent} already carries voucher lines and must stay a leaf`,
          {
            field: 'code',
          },
        );
      }
      await tx.insertSubject(subject);
      await tx.remember(request, { code: subject.code });
      return subject;
    });
  }

  async getSubject(code: string): Promise<{ subject: Subject; leaf: boolean }> {
    const chart = await this.chart();
    const subject = chart.get(code);
    if (subject === undefined)
      throw new SubjectNotFoundError(`subject ${code.slice(0, 16)} is not in the chart`);
    return { subject, leaf: chart.isLeaf(code) };
  }

  chart(): Promise<Chart> {
    return this.store.transaction(
      'load-chart',
      'READ COMMITTED',
      async (tx) => new Chart(await tx.loadChart()),
    );
  }

  /** A balanced adjusting voucher on ledger-only leaves; nothing is written when any rule fails. */
  async postManualVoucher(input: ManualVoucherInput): Promise<Voucher> {
    if (input.reason.trim().length === 0 || input.reason.length > REASON_LENGTH_MAX) {
      throw new InvalidFieldError(`reason must be 1 to ${REASON_LENGTH_MAX} characters`, { field: 'reason' });
    }
    const accountingDate =
      input.accountingDate === ''
        ? naturalAccountingDate(this.now(), this.calendar)
        : assertIsoDate(input.accountingDate, 'accounting_date');
    const lines: VoucherLine[] = input.lines.map((line) => ({ ...line, accountId: null }));
    const payload = {
      accountingDate: input.accountingDate,
      lines,
      reason: input.reason,
      bizCode: input.bizCode,
      operator: input.operator,
    };
    const request: IdempotentRequest = {
      requestId: input.requestId,
      operation: 'ledger.PostManualVoucher',
      payload,
    };
    return this.store.transaction('post-manual-voucher', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ voucherId: string }>(request);
      if (claim.kind === 'replay') {
        const stored = await this.store.findManualVoucher(input.requestId);
        if (stored === null) throw new Error(`voucher of request ${input.requestId} is gone`);
        return stored;
      }
      await tx.lockChart('SHARED');
      validateVoucherLines(lines, new Chart(await tx.loadChart()), 'MANUAL');
      const day = await tx.lockDay(accountingDate, 'SHARE');
      if (day.status === 'CLOSED') {
        throw new DayClosedError(
          `accounting date ${accountingDate} is closed; post the adjustment on an open date`,
          {
            field: 'accounting_date',
            metadata: { accounting_date: accountingDate },
          },
        );
      }
      const voucher = await tx.insertVoucher({
        source: 'MANUAL',
        transferId: null,
        requestId: input.requestId,
        bizCode: input.bizCode,
        accountingDate,
        lines,
        reason: input.reason,
        operator: input.operator,
      });
      if (voucher === null)
        throw new IdempotencyKeyReusedError(`request_id ${input.requestId} is taken`, {
          field: 'request_id',
        });
      await tx.remember(request, { voucherId: voucher.voucherId });
      return voucher;
    });
  }

  /**
   * Leaf rows of a date: frozen ones for a closed date, otherwise computed
   * from the last closed date's closings plus every line since.
   */
  private async leafRows(
    tx: LedgerTx,
    date: string,
  ): Promise<{ rows: SubjectDayBalance[]; provisional: boolean }> {
    const day = await tx.findDay(date);
    if (day?.status === 'CLOSED') return { rows: await tx.frozenBalances(date), provisional: false };
    const lastClosed = await tx.lastClosedDate();
    const base = lastClosed !== null && lastClosed < date ? lastClosed : null;
    const openings = [
      ...(base === null ? [] : await tx.closingsOf(base)),
      ...(await tx.netOfLinesBetween(base, date)),
    ];
    return { rows: dayBalances(openings, await tx.lineTotals(date, null)), provisional: true };
  }

  /** The 科目日计表 at one level (0 = leaves), with the trial balance totals of the date. */
  async balanceTable(date: string, level: number): Promise<BalanceTable> {
    assertIsoDate(date, 'accounting_date');
    if (!Number.isInteger(level) || level < 0 || level > 3) {
      throw new InvalidFieldError(`level must be 0 to 3, got ${level}`, { field: 'level' });
    }
    return this.store.transaction('balance-table', 'READ COMMITTED', async (tx) => {
      const chart = new Chart(await tx.loadChart());
      const { rows, provisional } = await this.leafRows(tx, date);
      const rolled = rollUp(rows);
      return {
        accountingDate: date,
        rows: atLevel(rolled, chart, level),
        totals: trialBalance(rolled),
        provisional,
        chart,
      };
    });
  }

  async checkReport(date: string): Promise<{ report: CheckReport; dayStatus: DayStatus }> {
    assertIsoDate(date, 'accounting_date');
    return this.store.transaction('check-report', 'READ COMMITTED', async (tx) => {
      const report = await tx.checkReport(date);
      if (report === null) throw new CheckReportNotFoundError(`no close check has run for ${date}`);
      return { report, dayStatus: (await tx.findDay(date))?.status ?? 'OPEN' };
    });
  }

  /**
   * Closes a sealed date after the checks pass (see domain/close-check.ts).
   * Account's daily rows are read before the transaction: a sealed date's
   * rows never change, and no remote call may run inside a transaction that
   * can be retried. The report of a failed check is committed before the
   * refusal is raised, so operators can read it.
   */
  async closeDay(requestId: string, date: string): Promise<CloseResult> {
    assertIsoDate(date, 'accounting_date');
    const request: IdempotentRequest = {
      requestId,
      operation: 'ledger.CloseDay',
      payload: { accountingDate: date },
    };
    // The id is answered before account is asked or the date's state is read:
    // a malformed or reused id is refused as such, whatever state the date is in.
    await peekClaim(this.store, 'close-day-claim', request);
    // Read-only: whether account's rows are needed (a closed date needs none).
    const precheck = await this.store.transaction('close-day-precheck', 'READ COMMITTED', (tx) =>
      this.closable(tx, date),
    );
    const accountClosings = precheck === null ? await this.accounts.dailyClosings(date) : [];
    const outcome = await this.store.transaction('close-day', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ date: string }>(request);
      // Re-checked under the day's lock: another close may have won meanwhile.
      await tx.lockDay(date, 'UPDATE');
      const done = await this.closable(tx, date);
      // A replay answers from the date's current state: closed, or the failed report of the first try.
      if (claim.kind === 'replay') return done ?? (await this.failedReport(tx, date));
      if (done !== null) {
        await tx.remember(request, { date });
        return done;
      }
      assert.equal(precheck, null, `${date} was closed and is open again`);
      const result = await this.checkAndClose(tx, date, accountClosings);
      await tx.remember(request, { date });
      return result;
    });
    if ('closedAt' in outcome) return outcome;
    const shown = outcome.differences.slice(0, DIFFERENCES_IN_ERROR_MAX).map((d) => d.description);
    throw new CloseCheckFailedError(
      `accounting date ${date} does not close: ${outcome.differences.length} difference(s): ${shown.join('; ')}`,
      {
        metadata: {
          accounting_date: date,
          difference_count: String(outcome.differences.length),
          differences: shown.join('; '),
        },
      },
    );
  }

  /** Checks a sealed date against account and closes it when nothing differs; the report either way. */
  private async checkAndClose(
    tx: LedgerUnitTx,
    date: string,
    accountClosings: Awaited<ReturnType<AccountDailyBalances['dailyClosings']>>,
  ): Promise<CloseResult | CheckReport> {
    const chart = new Chart(await tx.loadChart());
    const { rows } = await this.leafRows(tx, date);
    const totals = trialBalance(rollUp(rows));
    const differences = checkDay({
      transferLineTotals: await tx.lineTotals(date, 'TRANSFER'),
      sealedTotals: await tx.sealedTotals(date),
      leafBalances: rows,
      isAccountKept: (code) => chart.get(code)?.accountKept ?? false,
      accountClosings,
      trialBalance: totals,
    });
    const voucherCount = await tx.voucherCount(date);
    const report: CheckReport = {
      accountingDate: date,
      status: differences.length === 0 ? 'PASSED' : 'FAILED',
      differences,
      voucherCount,
      accountBalanceCount: BigInt(accountClosings.length),
      checkedAt: this.now(),
    };
    await tx.saveCheckReport(report);
    if (differences.length > 0) return report;
    const closedAt = await tx.closeDay(date, rows, voucherCount);
    await tx.publishDayClosed({ accountingDate: date, voucherCount, totals, closedAt });
    return { accountingDate: date, report, closedAt };
  }

  /** The failed check report a replayed CloseDay answers with when the date is still not closed. */
  private async failedReport(tx: LedgerTx, date: string): Promise<CheckReport> {
    const report = await tx.checkReport(date);
    assert.ok(
      report !== null && report.status === 'FAILED',
      `CloseDay of ${date} was answered without a report`,
    );
    return report;
  }

  /** The first result when already closed; null when the date may close now; a typed refusal otherwise. */
  private async closable(tx: LedgerTx, date: string): Promise<CloseResult | null> {
    const day = await tx.findDay(date);
    if (day?.status === 'CLOSED' && day.closedAt !== null) {
      const report = await tx.checkReport(date);
      if (report === null) throw new Error(`closed date ${date} has no check report`);
      return { accountingDate: date, report, closedAt: day.closedAt };
    }
    if (day === null || day.status === 'OPEN') {
      throw new DayNotSealedError(`account has not sealed ${date} yet`, {
        metadata: { accounting_date: date },
      });
    }
    const lastClosed = await tx.lastClosedDate();
    if (lastClosed !== null && date !== addDays(lastClosed, 1)) {
      throw new DayNotClosableError(`${date} is not the day after the last closed date ${lastClosed}`, {
        metadata: { accounting_date: date, last_closed: lastClosed },
      });
    }
    return null;
  }
}
