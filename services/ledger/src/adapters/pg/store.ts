/**
 * Postgres implementation of the ledger's store ports (schema `ledger`).
 *
 * Dates are selected as text (`::text`) so no driver ever turns an accounting
 * date into a JS Date in some time zone; bigints travel as decimal text both
 * ways, so no amount passes through a JS number.
 */
import assert from 'node:assert/strict';
import type { DataSource, EntityManager } from 'typeorm';
import {
  advisoryLockKey,
  createUnitOfWork,
  writeOutbox,
  type Claim,
  type EventNaming,
  type IdempotentRequest,
  type IsolationLevel,
  type OutboxEvent,
  type SqlTx,
  type UnitOfWork,
} from '@paycore/platform';
import type { Side } from '@paycore/money';
import { Money } from '@paycore/proto/paycore/common/v1/money';
import { DayClosed } from '@paycore/proto/paycore/ledger/v1/events';
import type { LineTotal, OpeningNet, SubjectDayBalance } from '../../domain/balances';
import type { CheckDifference, SealedTotal } from '../../domain/close-check';
import type { Category, NormalSide, Subject, Voucher, VoucherLine, VoucherSource } from '../../domain/types';
import type {
  CheckReport,
  DayClosedFact,
  DayRow,
  DayStatus,
  LedgerStore,
  LedgerTx,
  LedgerUnitTx,
  ListVouchersQuery,
  NewVoucher,
  VoucherException,
} from '../../application/ports';

const CHART_LOCK_KEY = advisoryLockKey('paycore:ledger:chart');

interface SubjectRow {
  code: string;
  name: string;
  category: Category;
  normal_side: NormalSide;
  account_kept: boolean;
}
interface VoucherRow {
  seq: string;
  voucher_id: string;
  source: VoucherSource;
  transfer_id: string | null;
  biz_code: string;
  accounting_date: string;
  reason: string;
  operator: string;
  created_at: Date;
}
interface LineRow {
  voucher_id: string;
  line_no: number;
  subject_code: string;
  side: Side;
  amount_minor: string;
  currency: string;
  account_id: string | null;
}

function toSubject(row: SubjectRow): Subject {
  return {
    code: row.code,
    name: row.name,
    category: row.category,
    normalSide: row.normal_side,
    accountKept: row.account_kept,
  };
}

const VOUCHER_COLUMNS = `seq::text AS seq, voucher_id::text AS voucher_id, source, transfer_id, biz_code,
  accounting_date::text AS accounting_date, reason, operator, created_at`;

const LINE_COLUMNS = `voucher_id::text AS voucher_id, line_no, subject_code, side, amount_minor::text AS amount_minor,
  currency, account_id`;

async function withLines(manager: EntityManager, rows: VoucherRow[]): Promise<Voucher[]> {
  if (rows.length === 0) return [];
  const lines = await manager.query<LineRow[]>(
    `SELECT ${LINE_COLUMNS} FROM voucher_lines WHERE voucher_id = ANY($1::uuid[]) ORDER BY voucher_id, line_no`,
    [rows.map((r) => r.voucher_id)],
  );
  return vouchersOf(rows, lines);
}

/** Vouchers with their lines (`lines` in line order). */
function vouchersOf(rows: readonly VoucherRow[], lines: readonly LineRow[]): Voucher[] {
  const byVoucher = new Map<string, VoucherLine[]>();
  for (const line of lines) {
    const list = byVoucher.get(line.voucher_id) ?? [];
    list.push({
      subjectCode: line.subject_code,
      side: line.side,
      amountMinor: BigInt(line.amount_minor),
      currency: line.currency,
      accountId: line.account_id,
    });
    byVoucher.set(line.voucher_id, list);
  }
  return rows.map((r) => ({
    voucherId: r.voucher_id,
    source: r.source,
    transferId: r.transfer_id,
    bizCode: r.biz_code,
    accountingDate: r.accounting_date,
    lines: byVoucher.get(r.voucher_id) ?? [],
    reason: r.reason,
    operator: r.operator,
    createdAt: r.created_at,
  }));
}

function differencesToJson(differences: readonly CheckDifference[]): string {
  return JSON.stringify(
    differences.map((d) => ({
      ...d,
      ledgerValue: d.ledgerValue.toString(),
      accountValue: d.accountValue.toString(),
      difference: d.difference.toString(),
    })),
  );
}

function differencesFromJson(value: unknown): CheckDifference[] {
  const list = value as (Omit<CheckDifference, 'ledgerValue' | 'accountValue' | 'difference'> & {
    ledgerValue: string;
    accountValue: string;
    difference: string;
  })[];
  return list.map((d) => ({
    ...d,
    ledgerValue: BigInt(d.ledgerValue),
    accountValue: BigInt(d.accountValue),
    difference: BigInt(d.difference),
  }));
}

/** Transaction-scoped operations over one EntityManager (the inbox consumer hands one in). */
export class PgLedgerTx implements LedgerTx {
  constructor(
    private readonly manager: EntityManager,
    private readonly naming: EventNaming,
  ) {}

  async loadChart(): Promise<Subject[]> {
    const rows = await this.manager.query<SubjectRow[]>(
      'SELECT code, name, category, normal_side, account_kept FROM subjects ORDER BY code LIMIT 10001',
    );
    return rows.map(toSubject);
  }

  async lockChart(mode: 'SHARED' | 'EXCLUSIVE'): Promise<void> {
    const fn = mode === 'SHARED' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
    await this.manager.query(`SELECT ${fn}($1::bigint)`, [CHART_LOCK_KEY]);
  }

  async insertSubject(subject: Subject): Promise<void> {
    await this.manager.query(
      'INSERT INTO subjects (code, name, category, normal_side, account_kept) VALUES ($1, $2, $3, $4, $5)',
      [subject.code, subject.name, subject.category, subject.normalSide, subject.accountKept],
    );
  }

  async subjectHasLines(code: string): Promise<boolean> {
    const rows = await this.manager.query<unknown[]>(
      'SELECT 1 FROM voucher_lines WHERE subject_code = $1 LIMIT 1',
      [code],
    );
    return rows.length > 0;
  }

  async lockDay(accountingDate: string, mode: 'SHARE' | 'UPDATE'): Promise<DayRow> {
    type Row = { d: string; status: DayStatus; closed_at: Date | null };
    const lock = (): Promise<Row[]> =>
      this.manager.query<Row[]>(
        `SELECT accounting_date::text AS d, status, closed_at FROM days WHERE accounting_date = $1 FOR ${mode}`,
        [accountingDate],
      );
    // The day usually exists (every voucher of the day after its first): lock it in one statement;
    // only a day not seen yet is inserted (a rival's insert is taken as is) and locked after.
    let rows = await lock();
    if (rows.length === 0) {
      await this.manager.query(
        `INSERT INTO days (accounting_date, status) VALUES ($1, 'OPEN') ON CONFLICT (accounting_date) DO NOTHING`,
        [accountingDate],
      );
      rows = await lock();
    }
    const row = rows[0];
    if (row === undefined) throw new Error(`day ${accountingDate} vanished after insert`);
    return { accountingDate: row.d, status: row.status, closedAt: row.closed_at };
  }

  async findDay(accountingDate: string): Promise<DayRow | null> {
    const rows = await this.manager.query<{ d: string; status: DayStatus; closed_at: Date | null }[]>(
      'SELECT accounting_date::text AS d, status, closed_at FROM days WHERE accounting_date = $1',
      [accountingDate],
    );
    const row = rows[0];
    return row === undefined ? null : { accountingDate: row.d, status: row.status, closedAt: row.closed_at };
  }

  async markSealed(
    accountingDate: string,
    accountCount: bigint,
    sealedAt: Date,
    totals: readonly SealedTotal[],
  ): Promise<void> {
    await this.manager.query(
      `UPDATE days SET status = CASE WHEN status = 'CLOSED' THEN status ELSE 'SEALED' END,
              sealed_at = COALESCE(sealed_at, $2), account_count = COALESCE(account_count, $3)
        WHERE accounting_date = $1`,
      [accountingDate, sealedAt, accountCount.toString()],
    );
    for (const t of totals) {
      await this.manager.query(
        `INSERT INTO sealed_totals (accounting_date, subject_code, currency, entry_count, debit_minor, credit_minor)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [
          accountingDate,
          t.subjectCode,
          t.currency,
          t.entryCount.toString(),
          t.debitMinor.toString(),
          t.creditMinor.toString(),
        ],
      );
    }
  }

  async lastClosedDate(): Promise<string | null> {
    const rows = await this.manager.query<{ d: string | null }[]>(
      `SELECT max(accounting_date)::text AS d FROM days WHERE status = 'CLOSED'`,
    );
    return rows[0]?.d ?? null;
  }

  async insertVoucher(voucher: NewVoucher): Promise<Voucher | null> {
    // One statement: the voucher, its lines (none when the voucher exists already) and both as stored.
    const rows = await this.manager.query<(VoucherRow & { lines: LineRow[] | null })[]>(
      `WITH v AS (
         INSERT INTO vouchers (source, transfer_id, request_id, biz_code, accounting_date, reason, operator)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING *
       ), l AS (
         INSERT INTO voucher_lines (voucher_id, line_no, subject_code, side, amount_minor, currency, account_id,
           accounting_date, source)
         SELECT v.voucher_id, x.line_no, x.subject_code, x.side, x.amount_minor, x.currency, x.account_id,
             v.accounting_date, v.source
           FROM v, unnest($8::int[], $9::text[], $10::text[], $11::bigint[], $12::text[], $13::text[])
             AS x (line_no, subject_code, side, amount_minor, currency, account_id)
         RETURNING ${LINE_COLUMNS}
       )
       SELECT ${VOUCHER_COLUMNS}, (SELECT json_agg(l ORDER BY l.line_no) FROM l) AS lines FROM v`,
      [
        voucher.source,
        voucher.transferId,
        voucher.requestId,
        voucher.bizCode,
        voucher.accountingDate,
        voucher.reason,
        voucher.operator,
        voucher.lines.map((_, index) => index + 1),
        voucher.lines.map((line) => line.subjectCode),
        voucher.lines.map((line) => line.side),
        voucher.lines.map((line) => line.amountMinor.toString()),
        voucher.lines.map((line) => line.currency),
        voucher.lines.map((line) => line.accountId),
      ],
    );
    const row = rows[0];
    if (row === undefined) return null;
    const lines = row.lines ?? [];
    // Read back as stored: every line the voucher was given, in order.
    assert.equal(
      lines.length,
      voucher.lines.length,
      `voucher ${row.voucher_id} stored a different line count`,
    );
    const [stored] = vouchersOf([row], lines);
    if (stored === undefined) throw new Error('voucher vanished after insert');
    return stored;
  }

  async recordException(exception: VoucherException): Promise<void> {
    await this.manager.query(
      `INSERT INTO voucher_exceptions (transfer_id, biz_code, accounting_date, reason, detail, payload)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (transfer_id) DO NOTHING`,
      [
        exception.transferId,
        exception.bizCode,
        exception.accountingDate,
        exception.reason,
        exception.detail.slice(0, 2000),
        Buffer.from(exception.payload),
      ],
    );
  }

  async closingsOf(accountingDate: string): Promise<OpeningNet[]> {
    const rows = await this.manager.query<{ subject_code: string; currency: string; net: string }[]>(
      `SELECT subject_code, currency, closing_minor::text AS net FROM subject_daily_balances WHERE accounting_date = $1`,
      [accountingDate],
    );
    return rows.map((r) => ({ subjectCode: r.subject_code, currency: r.currency, netMinor: BigInt(r.net) }));
  }

  async netOfLinesBetween(after: string | null, before: string): Promise<OpeningNet[]> {
    const rows = await this.manager.query<{ subject_code: string; currency: string; net: string }[]>(
      `SELECT subject_code, currency,
              sum(CASE WHEN side = 'DEBIT' THEN amount_minor ELSE -amount_minor END)::text AS net
         FROM voucher_lines
        WHERE ($1::date IS NULL OR accounting_date > $1::date) AND accounting_date < $2::date
        GROUP BY subject_code, currency`,
      [after, before],
    );
    return rows.map((r) => ({ subjectCode: r.subject_code, currency: r.currency, netMinor: BigInt(r.net) }));
  }

  async lineTotals(accountingDate: string, source: VoucherSource | null): Promise<LineTotal[]> {
    const rows = await this.manager.query<
      { subject_code: string; currency: string; debit: string; credit: string; n: string }[]
    >(
      `SELECT subject_code, currency,
              COALESCE(sum(amount_minor) FILTER (WHERE side = 'DEBIT'), 0)::text AS debit,
              COALESCE(sum(amount_minor) FILTER (WHERE side = 'CREDIT'), 0)::text AS credit,
              count(*)::text AS n
         FROM voucher_lines
        WHERE accounting_date = $1 AND ($2::text IS NULL OR source = $2::text)
        GROUP BY subject_code, currency`,
      [accountingDate, source],
    );
    return rows.map((r) => ({
      subjectCode: r.subject_code,
      currency: r.currency,
      debitMinor: BigInt(r.debit),
      creditMinor: BigInt(r.credit),
      lineCount: BigInt(r.n),
    }));
  }

  async frozenBalances(accountingDate: string): Promise<SubjectDayBalance[]> {
    const rows = await this.manager.query<
      { subject_code: string; currency: string; o: string; d: string; c: string; n: string }[]
    >(
      `SELECT subject_code, currency, opening_minor::text AS o, debit_minor::text AS d, credit_minor::text AS c,
              line_count::text AS n
         FROM subject_daily_balances WHERE accounting_date = $1 ORDER BY subject_code, currency`,
      [accountingDate],
    );
    return rows.map((r) => ({
      subjectCode: r.subject_code,
      currency: r.currency,
      openingMinor: BigInt(r.o),
      debitMinor: BigInt(r.d),
      creditMinor: BigInt(r.c),
      lineCount: BigInt(r.n),
    }));
  }

  async sealedTotals(accountingDate: string): Promise<SealedTotal[]> {
    const rows = await this.manager.query<
      { subject_code: string; currency: string; n: string; d: string; c: string }[]
    >(
      `SELECT subject_code, currency, entry_count::text AS n, debit_minor::text AS d, credit_minor::text AS c
         FROM sealed_totals WHERE accounting_date = $1`,
      [accountingDate],
    );
    return rows.map((r) => ({
      subjectCode: r.subject_code,
      currency: r.currency,
      entryCount: BigInt(r.n),
      debitMinor: BigInt(r.d),
      creditMinor: BigInt(r.c),
    }));
  }

  async voucherCount(accountingDate: string): Promise<bigint> {
    const rows = await this.manager.query<{ n: string }[]>(
      'SELECT count(*)::text AS n FROM vouchers WHERE accounting_date = $1',
      [accountingDate],
    );
    return BigInt(rows[0]?.n ?? '0');
  }

  async saveCheckReport(report: CheckReport): Promise<void> {
    await this.manager.query(
      `INSERT INTO check_reports (accounting_date, status, differences, voucher_count, account_balance_count, checked_at)
       VALUES ($1, $2, $3::jsonb, $4, $5, $6)
       ON CONFLICT (accounting_date) DO UPDATE SET status = EXCLUDED.status, differences = EXCLUDED.differences,
         voucher_count = EXCLUDED.voucher_count, account_balance_count = EXCLUDED.account_balance_count,
         checked_at = EXCLUDED.checked_at`,
      [
        report.accountingDate,
        report.status,
        differencesToJson(report.differences),
        report.voucherCount.toString(),
        report.accountBalanceCount.toString(),
        report.checkedAt,
      ],
    );
  }

  async checkReport(accountingDate: string): Promise<CheckReport | null> {
    const rows = await this.manager.query<
      {
        d: string;
        status: 'PASSED' | 'FAILED';
        differences: unknown;
        v: string;
        a: string;
        checked_at: Date;
      }[]
    >(
      `SELECT accounting_date::text AS d, status, differences, voucher_count::text AS v,
              account_balance_count::text AS a, checked_at
         FROM check_reports WHERE accounting_date = $1`,
      [accountingDate],
    );
    const row = rows[0];
    if (row === undefined) return null;
    return {
      accountingDate: row.d,
      status: row.status,
      differences: differencesFromJson(row.differences),
      voucherCount: BigInt(row.v),
      accountBalanceCount: BigInt(row.a),
      checkedAt: row.checked_at,
    };
  }

  async closeDay(
    accountingDate: string,
    leafRows: readonly SubjectDayBalance[],
    voucherCount: bigint,
  ): Promise<Date> {
    for (const r of leafRows) {
      await this.manager.query(
        `INSERT INTO subject_daily_balances
           (accounting_date, subject_code, currency, opening_minor, debit_minor, credit_minor, closing_minor, line_count)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          accountingDate,
          r.subjectCode,
          r.currency,
          r.openingMinor.toString(),
          r.debitMinor.toString(),
          r.creditMinor.toString(),
          (r.openingMinor + r.debitMinor - r.creditMinor).toString(),
          r.lineCount.toString(),
        ],
      );
    }
    const rows = await this.manager.query<[{ closed_at: Date }[], number] | { closed_at: Date }[]>(
      `UPDATE days SET status = 'CLOSED', closed_at = now(), voucher_count = $2
        WHERE accounting_date = $1 AND status <> 'CLOSED' RETURNING closed_at`,
      [accountingDate, voucherCount.toString()],
    );
    // TypeORM returns [rows, affected] for UPDATE ... RETURNING on pg.
    const returned = Array.isArray(rows[0])
      ? (rows[0] as { closed_at: Date }[])
      : (rows as { closed_at: Date }[]);
    const closedAt = returned[0]?.closed_at;
    if (closedAt === undefined) throw new Error(`day ${accountingDate} was not open when closing it`);
    return closedAt;
  }

  async publishDayClosed(fact: DayClosedFact): Promise<void> {
    const money = (amountMinor: bigint, currency: string): Money => ({ amountMinor, currency });
    const payload = DayClosed.encode({
      accountingDate: fact.accountingDate,
      voucherCount: fact.voucherCount,
      totals: fact.totals.map((t) => ({
        currency: t.currency,
        periodDebit: money(t.periodDebitMinor, t.currency),
        periodCredit: money(t.periodCreditMinor, t.currency),
        closingDebit: money(t.closingDebitMinor, t.currency),
        closingCredit: money(t.closingCreditMinor, t.currency),
      })),
      closedAt: fact.closedAt,
    }).finish();
    await writeOutbox(this.manager, { subject: this.naming.subject('ledger', 'day_closed'), payload });
  }
}

/** A use case's transaction: the ledger's operations over the unit of work's SqlTx. */
class PgLedgerUnitTx extends PgLedgerTx implements LedgerUnitTx {
  constructor(
    private readonly sql: SqlTx,
    naming: EventNaming,
  ) {
    super(sql.manager, naming);
  }

  claim<R>(request: IdempotentRequest): Promise<Claim<R>> {
    return this.sql.claim<R>(request);
  }

  remember(request: IdempotentRequest, response: unknown): Promise<void> {
    return this.sql.remember(request, response);
  }

  publish(event: OutboxEvent): Promise<void> {
    return this.sql.publish(event);
  }
}

export class PgLedgerStore implements LedgerStore {
  private readonly unitOfWork: UnitOfWork;

  constructor(
    private readonly dataSource: DataSource,
    private readonly naming: EventNaming,
  ) {
    this.unitOfWork = createUnitOfWork(dataSource);
  }

  /** The ledger's operations inside someone else's transaction (the inbox consumer's). */
  txFor(manager: EntityManager): PgLedgerTx {
    return new PgLedgerTx(manager, this.naming);
  }

  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: LedgerUnitTx) => Promise<T>): Promise<T> {
    return this.unitOfWork.transaction(`ledger.${name}`, isolation, (sql) =>
      fn(new PgLedgerUnitTx(sql, this.naming)),
    );
  }

  async getVoucher(voucherId: string): Promise<Voucher | null> {
    if (!/^[0-9a-f-]{36}$/i.test(voucherId)) return null;
    const rows = await this.dataSource.query<VoucherRow[]>(
      `SELECT ${VOUCHER_COLUMNS} FROM vouchers WHERE voucher_id = $1`,
      [voucherId],
    );
    return (await withLines(this.dataSource.manager, rows))[0] ?? null;
  }

  async findManualVoucher(requestId: string): Promise<Voucher | null> {
    const rows = await this.dataSource.query<VoucherRow[]>(
      `SELECT ${VOUCHER_COLUMNS} FROM vouchers WHERE request_id = $1`,
      [requestId],
    );
    return (await withLines(this.dataSource.manager, rows))[0] ?? null;
  }

  async listVouchers(query: ListVouchersQuery): Promise<{ vouchers: Voucher[]; lastSeq: bigint | null }> {
    const rows = await this.dataSource.query<VoucherRow[]>(
      `SELECT ${VOUCHER_COLUMNS} FROM vouchers v
        WHERE v.accounting_date = $1 AND v.seq > $2
          AND ($3::text IS NULL OR v.biz_code = $3::text)
          AND ($4::text IS NULL OR EXISTS (
                SELECT 1 FROM voucher_lines l WHERE l.voucher_id = v.voucher_id AND l.subject_code LIKE $4::text || '%'))
        ORDER BY v.seq LIMIT $5`,
      [query.accountingDate, query.afterSeq.toString(), query.bizCode, query.subjectCode, query.limit],
    );
    const last = rows[rows.length - 1];
    return {
      vouchers: await withLines(this.dataSource.manager, rows),
      lastSeq: last === undefined ? null : BigInt(last.seq),
    };
  }

  async listSubjects(
    level: number,
    parentCode: string | null,
    afterCode: string,
    limit: number,
  ): Promise<Subject[]> {
    const rows = await this.dataSource.query<SubjectRow[]>(
      `SELECT code, name, category, normal_side, account_kept FROM subjects
        WHERE code > $1 AND ($2 = 0 OR length(code) = 2 + 2 * $2)
          AND ($3::text IS NULL OR (code LIKE $3::text || '%' AND length(code) = length($3::text) + 2))
        ORDER BY code LIMIT $4`,
      [afterCode, level, parentCode, limit],
    );
    return rows.map(toSubject);
  }

  async listExceptions(
    beforeSeq: bigint | null,
    limit: number,
  ): Promise<(VoucherException & { seq: bigint; recordedAt: Date })[]> {
    const rows = await this.dataSource.query<
      {
        seq: string;
        transfer_id: string;
        biz_code: string;
        accounting_date: string;
        reason: string;
        detail: string;
        payload: Buffer;
        recorded_at: Date;
      }[]
    >(
      `SELECT seq::text AS seq, transfer_id, biz_code, accounting_date, reason, detail, payload, recorded_at
         FROM voucher_exceptions WHERE ($1::bigint IS NULL OR seq < $1::bigint) ORDER BY seq DESC LIMIT $2`,
      [beforeSeq === null ? null : beforeSeq.toString(), limit],
    );
    return rows.map((r) => ({
      seq: BigInt(r.seq),
      transferId: r.transfer_id,
      bizCode: r.biz_code,
      accountingDate: r.accounting_date,
      reason: r.reason,
      detail: r.detail,
      payload: r.payload,
      recordedAt: r.recorded_at,
    }));
  }
}
