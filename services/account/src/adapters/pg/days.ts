/**
 * Sealed days and the daily balances (余额日计表): `sealed_days` and
 * `daily_balances`. The seal's result is stored as JSON (bigints as text) and
 * is what a second seal of the date, or a replay, answers.
 */
import assert from 'node:assert/strict';
import type { SqlTx } from '@paycore/platform';
import type { SealResult } from '../../application/model';
import type { DayRepo } from '../../application/ports';
import type { Queryable } from './sql';

export async function readSealed(sql: Queryable, accountingDate: string): Promise<SealResult | undefined> {
  const [row] = await sql.query<{ result: SealResultJson }>(
    'SELECT result FROM sealed_days WHERE accounting_date = $1',
    [accountingDate],
  );
  return row === undefined ? undefined : sealResultFromJson(row.result);
}

function sealResultToJson(result: SealResult): SealResultJson {
  return {
    accountingDate: result.accountingDate,
    totals: result.totals.map((t) => ({
      subjectCode: t.subjectCode,
      currency: t.currency,
      entryCount: t.entryCount.toString(),
      debitTotal: t.debitTotal.toString(),
      creditTotal: t.creditTotal.toString(),
    })),
    accountCount: result.accountCount.toString(),
    sealedAt: result.sealedAt.toISOString(),
  };
}

export class PgDayRepo implements DayRepo {
  constructor(private readonly sql: SqlTx) {}

  sealed(accountingDate: string): Promise<SealResult | undefined> {
    return readSealed(this.sql, accountingDate);
  }

  async writeDailyBalances(accountingDate: string): Promise<SealResult> {
    return sealResultFromJson(await writeDailyBalances(this.sql, accountingDate));
  }

  async recordSealed(result: SealResult): Promise<void> {
    await this.sql.query(
      'INSERT INTO sealed_days (accounting_date, sealed_at, result) VALUES ($1, $2, $3::jsonb)',
      [result.accountingDate, result.sealedAt.toISOString(), JSON.stringify(sealResultToJson(result))],
    );
  }
}

interface SealResultJson {
  accountingDate: string;
  totals: {
    subjectCode: string;
    currency: string;
    entryCount: string;
    debitTotal: string;
    creditTotal: string;
  }[];
  accountCount: string;
  sealedAt: string;
}

export function sealResultFromJson(json: SealResultJson): SealResult {
  return {
    accountingDate: json.accountingDate,
    totals: json.totals.map((t) => ({
      subjectCode: t.subjectCode,
      currency: t.currency,
      entryCount: BigInt(t.entryCount),
      debitTotal: BigInt(t.debitTotal),
      creditTotal: BigInt(t.creditTotal),
    })),
    accountCount: BigInt(json.accountCount),
    sealedAt: new Date(json.sealedAt),
  };
}

/** $1 the date to seal, $2 the previous sealed date or null; see writeDailyBalances. */
const DAILY_BALANCES_SQL = `WITH carried AS (
       SELECT account_id, closing FROM daily_balances WHERE accounting_date = $2::date
     ), unsealed AS (
       SELECT e.account_id, sum(CASE WHEN e.side = a.normal_side THEN e.amount ELSE -e.amount END) AS net
         FROM entries e JOIN accounts a ON a.id = e.account_id
        WHERE e.accounting_date < $1 AND ($2::date IS NULL OR e.accounting_date > $2::date)
        GROUP BY e.account_id
     ), day AS (
       SELECT account_id,
              COALESCE(sum(amount) FILTER (WHERE side = 'DEBIT'), 0) AS debit_total,
              COALESCE(sum(amount) FILTER (WHERE side = 'CREDIT'), 0) AS credit_total,
              count(*) AS entry_count
         FROM entries WHERE accounting_date = $1 GROUP BY account_id
     ), computed AS (
       SELECT a.id, a.subject_code, a.currency, a.normal_side,
              (COALESCE(c.closing, 0) + COALESCE(u.net, 0))::bigint AS opening,
              COALESCE(d.debit_total, 0) AS debit_total, COALESCE(d.credit_total, 0) AS credit_total,
              COALESCE(d.entry_count, 0) AS entry_count
         FROM accounts a
         LEFT JOIN carried c ON c.account_id = a.id
         LEFT JOIN unsealed u ON u.account_id = a.id
         LEFT JOIN day d ON d.account_id = a.id
     ), inserted AS (
       INSERT INTO daily_balances (accounting_date, account_id, subject_code, currency, normal_side, opening,
                                   debit_total, credit_total, closing, entry_count)
       SELECT $1, id, subject_code, currency, normal_side, opening, debit_total, credit_total,
              (opening + CASE WHEN normal_side = 'DEBIT' THEN debit_total - credit_total
                              ELSE credit_total - debit_total END)::bigint,
              entry_count
         FROM computed
       RETURNING account_id, closing
     ), opened AS (
       UPDATE accounts a SET opening_balance = i.closing, opening_date = ($1::date + 1)
         FROM inserted i WHERE a.id = i.account_id
       RETURNING 1
     )
     SELECT count(*)::text AS n FROM opened`;

/** Paired assertion: an account with nothing dated after `date` closes it at its current balance. */
async function assertClosingsAreBalances(sql: Queryable, date: string): Promise<void> {
  const drifted = await sql.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM daily_balances b JOIN accounts a ON a.id = b.account_id
      WHERE b.accounting_date = $1 AND b.closing <> a.available + a.frozen
        AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.account_id = a.id AND e.accounting_date > $1)`,
    [date],
  );
  assert.equal(
    drifted[0]?.n,
    '0',
    `daily closings of ${date} differ from balances with nothing posted after it`,
  );
}

/**
 * Writes the 余额日计表 of D: per account, opening = the closing of the
 * previous sealed date (plus, before the first seal, every entry dated
 * earlier), debit and credit sums of the entries dated D, closing = opening
 * moved by those sums on the account's normal side.
 *
 * Daily rows follow accounting dates, not the journal's seq order: a hot
 * account's credit queued on D and applied after the cut-over gets its seq
 * after entries already dated D+1, so "balance_after of the last entry dated
 * D or earlier" would mix D+1 into D's closing and break the table's CHECK
 * (opening ± sums = closing) on every retry. Pair assertion afterwards: an
 * account with nothing dated after D closes D at its current balance.
 */
async function writeDailyBalances(sql: Queryable, date: string): Promise<SealResultJson> {
  const previous = await sql.query<{ d: string | null }>(
    'SELECT max(accounting_date)::text AS d FROM sealed_days WHERE accounting_date < $1',
    [date],
  );
  const previousSealed = previous[0]?.d ?? null;
  const written = await sql.query<{ n: string }>(DAILY_BALANCES_SQL, [date, previousSealed]);
  await assertClosingsAreBalances(sql, date);
  const totals = await sql.query<{
    subject_code: string;
    currency: string;
    n: string;
    debit: string;
    credit: string;
  }>(
    `SELECT subject_code, currency, sum(entry_count)::text AS n, sum(debit_total)::text AS debit, sum(credit_total)::text AS credit
       FROM daily_balances WHERE accounting_date = $1 GROUP BY subject_code, currency ORDER BY subject_code, currency`,
    [date],
  );
  const sealedAt = await sql.query<{ t: Date }>('SELECT clock_timestamp() AS t');
  return {
    accountingDate: date,
    totals: totals.map((t) => ({
      subjectCode: t.subject_code,
      currency: t.currency,
      entryCount: t.n,
      debitTotal: t.debit,
      creditTotal: t.credit,
    })),
    accountCount: written[0]?.n ?? '0',
    sealedAt: (sealedAt[0]?.t ?? new Date()).toISOString(),
  };
}
