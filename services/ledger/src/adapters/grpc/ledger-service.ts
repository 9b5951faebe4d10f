/**
 * gRPC handlers of paycore.ledger.v1.LedgerService: validate the request's
 * shape, call the use case, map the result to protobuf. Business rules live
 * in the application and domain; errors are typed and mapped by the kit.
 */
import { invalidArgument, type Handlers, type RpcContext, type Specs } from '@paycore/platform';
import type { Money } from '@paycore/proto/paycore/common/v1/money';
import {
  BalanceDirection,
  CheckStatus,
  DayStatus,
  DifferenceKind,
  EntrySide,
  LedgerServiceService,
  NormalSide,
  SubjectCategory,
  VoucherSource,
  type CheckReport as CheckReportPb,
  type SubjectBalance,
  type Subject as SubjectPb,
  type TrialBalanceTotals as TrialBalanceTotalsPb,
  type Voucher as VoucherPb,
} from '@paycore/proto/paycore/ledger/v1/ledger_service';
import type { Side } from '@paycore/money';
import type { LedgerApp } from '../../application/ledger';
import type { CheckReport, DayStatus as DayStatusName, LedgerStore } from '../../application/ports';
import { closingOf, type SubjectDayBalance } from '../../domain/balances';
import { assertAccountingDate } from '../../domain/calendar';
import { InvalidPageTokenError, VoucherNotFoundError } from '../../domain/errors';
import { levelOf, type Chart } from '../../domain/subjects';
import type { TrialBalanceTotals } from '../../domain/trial-balance';
import {
  directionOf,
  type Category,
  type NormalSide as Normal,
  type Subject,
  type Voucher,
} from '../../domain/types';

type Definition = typeof LedgerServiceService;

const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;
const PAGE = {
  subjects: { default: 100, max: 1_000 },
  vouchers: { default: 50, max: 500 },
  exceptions: { default: 50, max: 500 },
};

const CATEGORIES: readonly [SubjectCategory, Category][] = [
  [SubjectCategory.SUBJECT_CATEGORY_ASSET, 'ASSET'],
  [SubjectCategory.SUBJECT_CATEGORY_LIABILITY, 'LIABILITY'],
  [SubjectCategory.SUBJECT_CATEGORY_COMMON, 'COMMON'],
  [SubjectCategory.SUBJECT_CATEGORY_EQUITY, 'EQUITY'],
  [SubjectCategory.SUBJECT_CATEGORY_COST, 'COST'],
  [SubjectCategory.SUBJECT_CATEGORY_PROFIT_AND_LOSS, 'PROFIT_AND_LOSS'],
];
const NORMAL_SIDES: readonly [NormalSide, Normal][] = [
  [NormalSide.NORMAL_SIDE_DEBIT, 'DEBIT'],
  [NormalSide.NORMAL_SIDE_CREDIT, 'CREDIT'],
  [NormalSide.NORMAL_SIDE_BOTH, 'BOTH'],
];
const DIRECTIONS = {
  DEBIT: BalanceDirection.BALANCE_DIRECTION_DEBIT,
  CREDIT: BalanceDirection.BALANCE_DIRECTION_CREDIT,
  FLAT: BalanceDirection.BALANCE_DIRECTION_FLAT,
} as const;
const DAY_STATUSES: Readonly<Record<DayStatusName, DayStatus>> = {
  OPEN: DayStatus.DAY_STATUS_OPEN,
  SEALED: DayStatus.DAY_STATUS_SEALED,
  CLOSED: DayStatus.DAY_STATUS_CLOSED,
};
const KINDS = {
  ENTRY_COUNT: DifferenceKind.DIFFERENCE_KIND_ENTRY_COUNT,
  DEBIT_TOTAL: DifferenceKind.DIFFERENCE_KIND_DEBIT_TOTAL,
  CREDIT_TOTAL: DifferenceKind.DIFFERENCE_KIND_CREDIT_TOTAL,
  CLOSING_BALANCE: DifferenceKind.DIFFERENCE_KIND_CLOSING_BALANCE,
  TRIAL_BALANCE: DifferenceKind.DIFFERENCE_KIND_TRIAL_BALANCE,
} as const;

function money(amountMinor: bigint, currency: string): Money {
  return { amountMinor, currency };
}

function requestId(value: string): string {
  if (!REQUEST_ID_PATTERN.test(value)) {
    throw invalidArgument([
      { field: 'request_id', description: 'must be 1 to 128 printable ASCII characters' },
    ]);
  }
  return value;
}

function entrySide(side: EntrySide, field: string): Side {
  if (side === EntrySide.ENTRY_SIDE_DEBIT) return 'DEBIT';
  if (side === EntrySide.ENTRY_SIDE_CREDIT) return 'CREDIT';
  throw invalidArgument([{ field, description: 'must be DEBIT or CREDIT' }]);
}

/** Page tokens are opaque: base64url JSON of the position and the filters they were issued for. */
function encodeToken(position: string, filters: string): string {
  return Buffer.from(JSON.stringify({ p: position, f: filters })).toString('base64url');
}
function decodeToken(token: string, filters: string): string | null {
  if (token === '') return null;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      p?: unknown;
      f?: unknown;
    };
    if (typeof parsed.p === 'string' && parsed.f === filters) return parsed.p;
  } catch {
    // fall through to the refusal
  }
  throw new InvalidPageTokenError('page_token is malformed or was issued for other filters', {
    field: 'page.page_token',
  });
}
function pageSize(requested: number | undefined, limits: { default: number; max: number }): number {
  if (requested === undefined || requested === 0) return limits.default;
  if (requested < 0)
    throw invalidArgument([{ field: 'page.page_size', description: 'must not be negative' }]);
  return Math.min(requested, limits.max);
}
function digits(value: bigint): string {
  if (value < 0n) throw new InvalidPageTokenError('page_token is malformed', { field: 'page.page_token' });
  return value.toString();
}
function parseSeq(text: string): bigint {
  if (!/^\d{1,19}$/.test(text))
    throw new InvalidPageTokenError('page_token is malformed', { field: 'page.page_token' });
  return BigInt(text);
}

export function subjectToPb(subject: Subject, chart: Chart, createdAt?: Date): SubjectPb {
  return {
    code: subject.code,
    name: subject.name,
    level: levelOf(subject.code),
    parentCode: subject.code.length > 4 ? subject.code.slice(0, -2) : '',
    category:
      CATEGORIES.find(([, c]) => c === subject.category)?.[0] ?? SubjectCategory.SUBJECT_CATEGORY_UNSPECIFIED,
    normalSide:
      NORMAL_SIDES.find(([, n]) => n === subject.normalSide)?.[0] ?? NormalSide.NORMAL_SIDE_UNSPECIFIED,
    leaf: chart.isLeaf(subject.code) || chart.get(subject.code) === undefined,
    accountKept: subject.accountKept,
    createdAt,
  };
}

export function voucherToPb(voucher: Voucher): VoucherPb {
  return {
    voucherId: voucher.voucherId,
    source:
      voucher.source === 'TRANSFER'
        ? VoucherSource.VOUCHER_SOURCE_TRANSFER
        : VoucherSource.VOUCHER_SOURCE_MANUAL,
    transferId: voucher.transferId ?? '',
    bizCode: voucher.bizCode,
    accountingDate: voucher.accountingDate,
    lines: voucher.lines.map((line, index) => ({
      lineNo: index + 1,
      subjectCode: line.subjectCode,
      side: line.side === 'DEBIT' ? EntrySide.ENTRY_SIDE_DEBIT : EntrySide.ENTRY_SIDE_CREDIT,
      amount: money(line.amountMinor, line.currency),
      accountId: line.accountId ?? '',
    })),
    reason: voucher.reason,
    operator: voucher.operator,
    createdAt: voucher.createdAt,
  };
}

function balanceToPb(row: SubjectDayBalance, chart: Chart): SubjectBalance {
  const opening = directionOf(row.openingMinor);
  const closing = directionOf(closingOf(row));
  return {
    subjectCode: row.subjectCode,
    subjectName: chart.get(row.subjectCode)?.name ?? '',
    level: levelOf(row.subjectCode),
    currency: row.currency,
    openingDirection: DIRECTIONS[opening.direction],
    opening: money(opening.amountMinor, row.currency),
    debitTotal: money(row.debitMinor, row.currency),
    creditTotal: money(row.creditMinor, row.currency),
    closingDirection: DIRECTIONS[closing.direction],
    closing: money(closing.amountMinor, row.currency),
    lineCount: row.lineCount,
  };
}

function totalsToPb(t: TrialBalanceTotals): TrialBalanceTotalsPb {
  return {
    currency: t.currency,
    openingDebit: money(t.openingDebitMinor, t.currency),
    openingCredit: money(t.openingCreditMinor, t.currency),
    periodDebit: money(t.periodDebitMinor, t.currency),
    periodCredit: money(t.periodCreditMinor, t.currency),
    closingDebit: money(t.closingDebitMinor, t.currency),
    closingCredit: money(t.closingCreditMinor, t.currency),
    balanced: t.balanced,
  };
}

function reportToPb(report: CheckReport): CheckReportPb {
  return {
    accountingDate: report.accountingDate,
    status: report.status === 'PASSED' ? CheckStatus.CHECK_STATUS_PASSED : CheckStatus.CHECK_STATUS_FAILED,
    differences: report.differences.map((d) => ({
      kind: KINDS[d.kind],
      subjectCode: d.subjectCode,
      currency: d.currency,
      ledgerValue: d.ledgerValue,
      accountValue: d.accountValue,
      difference: d.difference,
      description: d.description,
    })),
    voucherCount: report.voucherCount,
    accountBalanceCount: report.accountBalanceCount,
    checkedAt: report.checkedAt,
  };
}

function bizCodeOf(req: { bizContext?: { code: string } | undefined }, ctx: RpcContext): string {
  const code = req.bizContext?.code ?? ctx.bizCode ?? '';
  if (code === '') throw invalidArgument([{ field: 'biz_context', description: 'is required' }]);
  return code;
}

// eslint-disable-next-line max-lines-per-function -- a table of thin RPC handlers, one entry each
export function ledgerHandlers(app: LedgerApp, store: LedgerStore): Handlers<Definition> {
  return {
    createSubject: async (req) => {
      const category = CATEGORIES.find(([c]) => c === req.category)?.[1];
      const normalSide = NORMAL_SIDES.find(([n]) => n === req.normalSide)?.[1];
      if (category === undefined) throw invalidArgument([{ field: 'category', description: 'is required' }]);
      if (normalSide === undefined)
        throw invalidArgument([{ field: 'normal_side', description: 'is required' }]);
      const subject = await app.createSubject(requestId(req.requestId), {
        code: req.code,
        name: req.name,
        category,
        normalSide,
        accountKept: req.accountKept,
      });
      return { subject: subjectToPb(subject, await app.chart()) };
    },
    getSubject: async (req) => {
      const { subject } = await app.getSubject(req.code);
      return { subject: subjectToPb(subject, await app.chart()) };
    },
    listSubjects: async (req) => {
      if (req.level < 0 || req.level > 3)
        throw invalidArgument([{ field: 'level', description: 'must be 0 to 3' }]);
      const filters = `${req.level}|${req.parentCode}`;
      const after = decodeToken(req.page?.pageToken ?? '', filters) ?? '';
      const limit = pageSize(req.page?.pageSize, PAGE.subjects);
      const subjects = await store.listSubjects(
        req.level,
        req.parentCode === '' ? null : req.parentCode,
        after,
        limit,
      );
      const chart = await app.chart();
      const last = subjects[subjects.length - 1];
      return {
        subjects: subjects.map((s) => subjectToPb(s, chart)),
        page: {
          nextPageToken:
            subjects.length === limit && last !== undefined ? encodeToken(last.code, filters) : '',
        },
      };
    },
    getVoucher: async (req) => {
      const voucher = await store.getVoucher(req.voucherId);
      if (voucher === null)
        throw new VoucherNotFoundError(`voucher ${req.voucherId.slice(0, 64)} does not exist`);
      return { voucher: voucherToPb(voucher) };
    },
    listVouchers: async (req) => {
      assertAccountingDate(req.accountingDate);
      const filters = `${req.accountingDate}|${req.subjectCode}|${req.bizCode}`;
      const after = decodeToken(req.page?.pageToken ?? '', filters);
      const limit = pageSize(req.page?.pageSize, PAGE.vouchers);
      const { vouchers, lastSeq } = await store.listVouchers({
        accountingDate: req.accountingDate,
        subjectCode: req.subjectCode === '' ? null : req.subjectCode,
        bizCode: req.bizCode === '' ? null : req.bizCode,
        afterSeq: after === null ? 0n : parseSeq(after),
        limit,
      });
      return {
        vouchers: vouchers.map(voucherToPb),
        page: {
          nextPageToken:
            vouchers.length === limit && lastSeq !== null ? encodeToken(digits(lastSeq), filters) : '',
        },
      };
    },
    postManualVoucher: async (req, ctx) => {
      const voucher = await app.postManualVoucher({
        requestId: requestId(req.requestId),
        bizCode: bizCodeOf(req, ctx),
        accountingDate: req.accountingDate,
        lines: req.lines.map((line, index) => ({
          subjectCode: line.subjectCode,
          side: entrySide(line.side, `lines[${index}].side`),
          amountMinor: line.amount?.amountMinor ?? 0n,
          currency: line.amount?.currency ?? '',
        })),
        reason: req.reason,
        operator: ctx.caller?.subject ?? '',
      });
      return { voucher: voucherToPb(voucher) };
    },
    getSubjectBalances: async (req) => {
      const table = await app.balanceTable(req.accountingDate, req.level);
      return {
        accountingDate: table.accountingDate,
        balances: table.rows.map((row) => balanceToPb(row, table.chart)),
        provisional: table.provisional,
      };
    },
    getTrialBalance: async (req) => {
      const table = await app.balanceTable(req.accountingDate, 1);
      return {
        accountingDate: table.accountingDate,
        rows: table.rows
          .filter((r) => levelOf(r.subjectCode) === 1)
          .map((row) => balanceToPb(row, table.chart)),
        totals: table.totals.map(totalsToPb),
        balanced: table.totals.every((t) => t.balanced),
        provisional: table.provisional,
      };
    },
    closeDay: async (req) => {
      const result = await app.closeDay(requestId(req.requestId), req.accountingDate);
      return {
        accountingDate: result.accountingDate,
        status: DayStatus.DAY_STATUS_CLOSED,
        report: reportToPb(result.report),
        closedAt: result.closedAt,
      };
    },
    getCheckReport: async (req) => {
      const { report, dayStatus } = await app.checkReport(req.accountingDate);
      return { report: reportToPb(report), dayStatus: DAY_STATUSES[dayStatus] };
    },
    listVoucherExceptions: async (req) => {
      const before = decodeToken(req.page?.pageToken ?? '', 'exceptions');
      const limit = pageSize(req.page?.pageSize, PAGE.exceptions);
      const rows = await store.listExceptions(before === null ? null : parseSeq(before), limit);
      const last = rows[rows.length - 1];
      return {
        exceptions: rows.map((r) => ({
          transferId: r.transferId,
          bizCode: r.bizCode,
          accountingDate: r.accountingDate,
          reason: r.reason,
          detail: r.detail,
          recordedAt: r.recordedAt,
        })),
        page: {
          nextPageToken:
            rows.length === limit && last !== undefined ? encodeToken(digits(last.seq), 'exceptions') : '',
        },
      };
    },
  };
}

export const LEDGER_SCOPES: Specs<Definition> = {
  createSubject: { scope: 'ledger:admin' },
  getSubject: { scope: 'ledger:read' },
  listSubjects: { scope: 'ledger:read' },
  getVoucher: { scope: 'ledger:read' },
  listVouchers: { scope: 'ledger:read' },
  postManualVoucher: { scope: 'ledger:adjust' },
  getSubjectBalances: { scope: 'ledger:read' },
  getTrialBalance: { scope: 'ledger:read' },
  closeDay: { scope: 'ledger:admin' },
  getCheckReport: { scope: 'ledger:read' },
  listVoucherExceptions: { scope: 'ledger:read' },
};
