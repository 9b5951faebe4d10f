/**
 * What the ledger's use cases need from the outside world. The pg adapter
 * implements LedgerStore and LedgerTx; the gRPC adapter implements
 * AccountDailyBalances. Use cases hold the rules (with the pure domain); the
 * adapters only read and write.
 */
import type { IsolationLevel, TxPort } from '@paycore/platform';
import type { LineTotal, OpeningNet, SubjectDayBalance } from '../domain/balances';
import type { AccountDailyClosing, CheckDifference, SealedTotal } from '../domain/close-check';
import type { Subject, Voucher, VoucherLine, VoucherSource } from '../domain/types';
import type { TrialBalanceTotals } from '../domain/trial-balance';

export type DayStatus = 'OPEN' | 'SEALED' | 'CLOSED';

export interface DayRow {
  readonly accountingDate: string;
  readonly status: DayStatus;
  readonly closedAt: Date | null;
}

export interface CheckReport {
  readonly accountingDate: string;
  readonly status: 'PASSED' | 'FAILED';
  readonly differences: readonly CheckDifference[];
  readonly voucherCount: bigint;
  readonly accountBalanceCount: bigint;
  readonly checkedAt: Date;
}

export interface NewVoucher {
  readonly source: VoucherSource;
  readonly transferId: string | null;
  readonly requestId: string | null;
  readonly bizCode: string;
  readonly accountingDate: string;
  readonly lines: readonly VoucherLine[];
  readonly reason: string;
  readonly operator: string;
}

export interface VoucherException {
  readonly transferId: string;
  readonly bizCode: string;
  readonly accountingDate: string;
  readonly reason: string;
  readonly detail: string;
  readonly payload: Uint8Array;
}

export interface DayClosedFact {
  readonly accountingDate: string;
  readonly voucherCount: bigint;
  readonly totals: readonly TrialBalanceTotals[];
  readonly closedAt: Date;
}

/** Reads and writes inside one database transaction. */
export interface LedgerTx {
  loadChart(): Promise<Subject[]>;
  /** Serialises chart changes against postings that read the chart. */
  lockChart(mode: 'SHARED' | 'EXCLUSIVE'): Promise<void>;
  insertSubject(subject: Subject): Promise<void>;
  subjectHasLines(code: string): Promise<boolean>;

  /** Creates the day row when missing and locks it (share for postings, update for the close). */
  lockDay(accountingDate: string, mode: 'SHARE' | 'UPDATE'): Promise<DayRow>;
  markSealed(
    accountingDate: string,
    accountCount: bigint,
    sealedAt: Date,
    totals: readonly SealedTotal[],
  ): Promise<void>;
  lastClosedDate(): Promise<string | null>;
  findDay(accountingDate: string): Promise<DayRow | null>;

  /** Inserts the voucher unless its transfer id or request id is taken; null when taken. */
  insertVoucher(voucher: NewVoucher): Promise<Voucher | null>;
  recordException(exception: VoucherException): Promise<void>;

  /** Leaf closings of a closed date, as openings of the next. */
  closingsOf(accountingDate: string): Promise<OpeningNet[]>;
  /** Net per leaf and currency of every line dated after `after` (or from the beginning) and before `before`. */
  netOfLinesBetween(after: string | null, before: string): Promise<OpeningNet[]>;
  lineTotals(accountingDate: string, source: VoucherSource | null): Promise<LineTotal[]>;
  frozenBalances(accountingDate: string): Promise<SubjectDayBalance[]>;
  sealedTotals(accountingDate: string): Promise<SealedTotal[]>;
  voucherCount(accountingDate: string): Promise<bigint>;

  saveCheckReport(report: CheckReport): Promise<void>;
  checkReport(accountingDate: string): Promise<CheckReport | null>;
  closeDay(
    accountingDate: string,
    leafRows: readonly SubjectDayBalance[],
    voucherCount: bigint,
  ): Promise<Date>;
  publishDayClosed(fact: DayClosedFact): Promise<void>;
}

/**
 * The transaction a use case opens: the ledger's reads and writes plus the
 * platform's idempotency claim / remember and outbox publish (one table,
 * one canonical hash for every service). Event consumers get a plain
 * LedgerTx inside their inbox transaction: they are idempotent by the inbox.
 */
export interface LedgerUnitTx extends LedgerTx, TxPort {}

export interface ListVouchersQuery {
  readonly accountingDate: string;
  readonly subjectCode: string | null;
  readonly bizCode: string | null;
  readonly afterSeq: bigint;
  readonly limit: number;
}

/** Reads that need no transaction, and the way into one. */
export interface LedgerStore {
  /** One named transaction at an explicit isolation level; retried whole on 40001 / 40P01. */
  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: LedgerUnitTx) => Promise<T>): Promise<T>;
  getVoucher(voucherId: string): Promise<Voucher | null>;
  findManualVoucher(requestId: string): Promise<Voucher | null>;
  listVouchers(query: ListVouchersQuery): Promise<{ vouchers: Voucher[]; lastSeq: bigint | null }>;
  listSubjects(
    level: number,
    parentCode: string | null,
    afterCode: string,
    limit: number,
  ): Promise<Subject[]>;
  listExceptions(
    beforeSeq: bigint | null,
    limit: number,
  ): Promise<(VoucherException & { seq: bigint; recordedAt: Date })[]>;
}

/** Account's daily rows of a sealed date (GetDailyBalances, every page). */
export interface AccountDailyBalances {
  dailyClosings(accountingDate: string): Promise<AccountDailyClosing[]>;
}
