/**
 * Matching as set-based SQL over one (channel number, bill date): the
 * decision table of domain/classify.ts written as one INSERT … SELECT over a
 * FULL OUTER JOIN of the day's lines and paycore's transactions, then the
 * differences as one INSERT … SELECT of the non-matched results. Held items
 * of earlier bills are matched first; what they consume is left out of the
 * day's join. Temporary tables live for the transaction only.
 */
import type { DayFigures, HoldPolicy, MatchingRepo, MatchOutcome, RunRow } from '../../application/ports';
import { DIFFERENCE_TRANSITIONS } from '../../domain/states';
import { big, DIFFERENCE_COLUMNS, differenceRow, text, type Row } from './rows';
import type { SqlTx } from '@paycore/platform';

export const DIFFERENCE_ENTITY = {
  name: 'difference',
  table: 'differences',
  idColumn: 'difference_id',
  stateColumn: 'state',
  transitions: DIFFERENCE_TRANSITIONS,
} as const;

/** Signed effects: what the channel and paycore each say the money did (refunds and payouts negative). */
const CHANNEL_SIGNED = `CASE WHEN l.line_no IS NOT NULL AND l.status = 'SUCCESS'
  THEN CASE WHEN l.kind = 'PAY' THEN l.amount_minor ELSE -l.amount_minor END ELSE 0 END`;
const PLATFORM_SIGNED = `CASE WHEN t.txn_id IS NOT NULL AND t.state = 'SUCCESS'
  THEN CASE WHEN t.kind = 'PAY' THEN t.amount_minor ELSE -t.amount_minor END ELSE 0 END`;

const CLASS = `CASE
  WHEN l.dup_rank > 1 THEN 'DUPLICATE'
  WHEN t.txn_id IS NULL THEN 'PLATFORM_MISSING'
  WHEN l.line_no IS NULL THEN 'CHANNEL_MISSING'
  WHEN l.currency <> t.currency THEN 'CURRENCY_MISMATCH'
  WHEN l.kind <> t.kind OR l.status <> 'SUCCESS' OR t.state <> 'SUCCESS' THEN 'STATUS_MISMATCH'
  WHEN l.amount_minor <> t.amount_minor THEN 'AMOUNT_MISMATCH'
  WHEN l.kind = 'PAY' AND l.fee_minor <> t.fee_minor THEN 'FEE_MISMATCH'
  ELSE 'MATCHED' END`;

const DIRECTION_OF = (value: string): string =>
  `CASE WHEN ${value} > 0 THEN 'OVER' WHEN ${value} < 0 THEN 'UNDER' ELSE 'NONE' END`;

/** The file's lines, ranked per merchant order number (rank > 1: duplicate); held items take theirs out below. $1 file. */
const DAY_LINES_SQL = `CREATE TEMP TABLE day_lines ON COMMIT DROP AS
       SELECT l.*, row_number() OVER (PARTITION BY l.merchant_order_no COLLATE "C" ORDER BY l.line_no) AS dup_rank
         FROM statement_lines l
        WHERE l.file_id = $1`;

/** Held CHANNEL_MISSING items of earlier bills with the successful transaction a line would have to agree with. $1 channel, $2 date. */
const HELD_LINES_SQL = `CREATE TEMP TABLE held_lines ON COMMIT DROP AS
       SELECT d.difference_id, d.merchant_order_no, t.kind, t.amount_minor, t.currency
         FROM differences d
         JOIN channel_txns t ON t.txn_id = d.platform_txn_id
        WHERE d.channel_no = $1 AND d.bill_date < $2 AND d.state = 'HELD' AND d.class = 'CHANNEL_MISSING'
          AND t.state = 'SUCCESS'`;

/**
 * Held items of earlier bills this file matches: a line for a held
 * CHANNEL_MISSING, a transaction for a held PLATFORM_MISSING. The lines are
 * looked up in day_lines (analysed, so a hash join over the day) rather than
 * through an index on statement_lines, which the import no longer maintains.
 * $1 channel, $2 date.
 */
const HELD_MATCHED_SQL = `CREATE TEMP TABLE held_matched ON COMMIT DROP AS
       SELECT h.difference_id, l.line_no, NULL::text AS txn_id
         FROM held_lines h
         JOIN day_lines l ON l.merchant_order_no = h.merchant_order_no
        WHERE l.kind = h.kind AND l.status = 'SUCCESS' AND l.amount_minor = h.amount_minor AND l.currency = h.currency
       UNION ALL
       SELECT d.difference_id, NULL::integer, t.txn_id
         FROM differences d
         JOIN channel_txns t ON t.txn_id = d.merchant_order_no AND t.channel_no = d.channel_no
        WHERE d.channel_no = $1 AND d.bill_date < $2 AND d.state = 'HELD' AND d.class = 'PLATFORM_MISSING'
          AND t.state = 'SUCCESS' AND t.kind = d.kind AND t.amount_minor = d.channel_amount_minor
          AND t.currency = d.currency`;

/** The lines held items consumed leave the day; their merchant order numbers come back for re-ranking. */
const DAY_LINES_CONSUMED_SQL = `DELETE FROM day_lines l USING held_matched h WHERE h.line_no = l.line_no
       RETURNING l.merchant_order_no`;

/** Duplicate ranks of the given merchant order numbers again, over the lines the day kept. $1 text[]. */
const DAY_LINES_RERANK_SQL = `UPDATE day_lines l SET dup_rank = r.dup_rank
         FROM (SELECT line_no,
                      row_number() OVER (PARTITION BY merchant_order_no COLLATE "C" ORDER BY line_no) AS dup_rank
                 FROM day_lines WHERE merchant_order_no = ANY($1::text[])) r
        WHERE l.line_no = r.line_no AND l.dup_rank <> r.dup_rank`;

/**
 * paycore's side: whatever a line names, plus the channel day's successes no
 * line names and no earlier day's bill had. Written as two joins glued by
 * UNION ALL (the halves are disjoint) rather than one OR: an OR over an IN
 * subquery cannot be planned as a hash semi-join and degrades to a scan per
 * row at a million lines. $1 channel, $2 date.
 */
const DAY_TXNS_SQL = `CREATE TEMP TABLE day_txns ON COMMIT DROP AS
       SELECT t.* FROM channel_txns t
        WHERE t.channel_no = $1
          AND t.txn_id IN (SELECT merchant_order_no FROM day_lines)
          AND NOT EXISTS (SELECT 1 FROM held_matched h WHERE h.txn_id = t.txn_id)
       UNION ALL
       SELECT t.* FROM channel_txns t
        WHERE t.channel_no = $1 AND t.channel_day = $2 AND t.state = 'SUCCESS'
          AND NOT EXISTS (SELECT 1 FROM day_lines l WHERE l.merchant_order_no = t.txn_id)
          -- platform_txn_id <> '' lets the partial index results_txn_idx answer (a txn id is never empty).
          AND NOT EXISTS (SELECT 1 FROM results r
                           WHERE r.platform_txn_id = t.txn_id AND r.platform_txn_id <> '' AND r.bill_date < $2)
          AND NOT EXISTS (SELECT 1 FROM held_matched h WHERE h.txn_id = t.txn_id)`;

/**
 * Hash joins and sorts of a day (a million lines) in memory, for this
 * transaction only: at 128MB the results' sort by line spilled 166 MB to
 * disk at a million lines. JIT compilation is off for the same statements:
 * it spent a third of a second per day compiling plans that run once.
 */
const MATCHING_SETTINGS_SQL = [`SET LOCAL work_mem = '512MB'`, `SET LOCAL jit = off`];

/** The decision table of domain/classify.ts over the FULL OUTER JOIN. $1 run, $2 date. */
const RESULTS_SQL = `INSERT INTO results (run_id, seq, bill_date, class, direction, delta_minor, kind, merchant_order_no,
         channel_txn_no, platform_txn_id, platform_amount_minor, channel_amount_minor, platform_state,
         channel_status, channel_fee_minor, platform_fee_minor, currency, biz_code, line_no, finished_at)
       SELECT $1, row_number() OVER (ORDER BY l.line_no NULLS LAST, t.txn_id), $2::date, c.class,
         CASE WHEN c.class IN ('MATCHED', 'CURRENCY_MISMATCH') THEN 'NONE'
              WHEN c.class = 'FEE_MISMATCH' THEN ${DIRECTION_OF('l.fee_minor - t.fee_minor')}
              WHEN c.class = 'DUPLICATE' THEN ${DIRECTION_OF('s.channel_signed')}
              ELSE ${DIRECTION_OF('s.channel_signed - s.platform_signed')} END,
         CASE WHEN c.class IN ('MATCHED', 'CURRENCY_MISMATCH', 'FEE_MISMATCH') THEN 0
              WHEN c.class = 'DUPLICATE' THEN s.channel_signed
              ELSE s.channel_signed - s.platform_signed END,
         COALESCE(l.kind, t.kind), COALESCE(l.merchant_order_no, t.txn_id),
         COALESCE(l.channel_txn_no, t.channel_txn_no, ''), COALESCE(t.txn_id, ''),
         COALESCE(t.amount_minor, 0), COALESCE(l.amount_minor, 0), COALESCE(t.state, ''),
         COALESCE(l.status, ''), COALESCE(l.fee_minor, 0), COALESCE(t.fee_minor, 0),
         COALESCE(l.currency, t.currency), COALESCE(t.biz_code, ''), l.line_no, COALESCE(l.finished_at, '')
         FROM day_lines l
         FULL OUTER JOIN day_txns t ON t.txn_id = l.merchant_order_no AND l.dup_rank = 1
        CROSS JOIN LATERAL (SELECT ${CHANNEL_SIGNED} AS channel_signed, ${PLATFORM_SIGNED} AS platform_signed) s
        CROSS JOIN LATERAL (SELECT ${CLASS} AS class) c`;

/** One difference per non-matched result, held or open. $1 run, $2 channel, $3 hold days, $4 hold cut-off time text. */
const DIFFERENCES_SQL = `WITH inserted AS (
         INSERT INTO differences (difference_id, run_id, channel_no, bill_date, class, direction, delta_minor, kind,
           merchant_order_no, channel_txn_no, platform_txn_id, platform_amount_minor, channel_amount_minor,
           currency, biz_code, state, hold_until)
         SELECT gen_random_uuid(), r.run_id, $2, r.bill_date, r.class, r.direction, r.delta_minor, r.kind,
           r.merchant_order_no, r.channel_txn_no, r.platform_txn_id, r.platform_amount_minor,
           r.channel_amount_minor, r.currency, r.biz_code, h.state,
           CASE WHEN h.state = 'HELD' THEN r.bill_date + $3::integer END
           FROM results r
          CROSS JOIN LATERAL (SELECT CASE WHEN $3::integer > 0 AND (r.class = 'CHANNEL_MISSING'
                 OR (r.class = 'PLATFORM_MISSING' AND r.finished_at >= $4)) THEN 'HELD' ELSE 'OPEN' END AS state) h
          WHERE r.run_id = $1 AND r.class <> 'MATCHED'
          ORDER BY r.seq
         RETURNING *)
       SELECT ${DIFFERENCE_COLUMNS} FROM inserted d ORDER BY d.merchant_order_no`;

export class PgMatching implements MatchingRepo {
  constructor(private readonly sql: SqlTx) {}

  async matchDay(run: RunRow, policy: HoldPolicy): Promise<MatchOutcome> {
    for (const setting of MATCHING_SETTINGS_SQL) await this.sql.query(setting);
    await this.dayLines(run);
    await this.sql.query(DAY_TXNS_SQL, [run.channelNo, run.billDate]);
    await this.sql.query('ANALYZE day_txns');
    await this.sql.query(RESULTS_SQL, [run.runId, run.billDate]);
    const heldMatched = await this.resolveHeld(run);
    const heldExpired = await this.expireHeld(run);
    const cutoff = `${run.billDate} ${minutesBeforeMidnight(policy.windowMinutes)}`;
    const opened = await this.sql.query<Row>(DIFFERENCES_SQL, [
      run.runId,
      run.channelNo,
      policy.holdDays,
      cutoff,
    ]);
    return { heldMatched, heldExpired, opened: opened.map(differenceRow) };
  }

  /** day_lines and held_matched: the file's ranked lines less those held items of earlier bills consume. */
  private async dayLines(run: RunRow): Promise<void> {
    await this.sql.query(DAY_LINES_SQL, [run.fileId]);
    // Temporary tables have no statistics until analysed; without them the joins plan as if they were empty.
    await this.sql.query('ANALYZE day_lines');
    await this.sql.query(HELD_LINES_SQL, [run.channelNo, run.billDate]);
    await this.sql.query('ANALYZE held_lines');
    await this.sql.query(HELD_MATCHED_SQL, [run.channelNo, run.billDate]);
    await this.sql.query('ANALYZE held_matched');
    const consumed = await this.sql.query<{ merchant_order_no: string }>(DAY_LINES_CONSUMED_SQL);
    if (consumed.length > 0)
      await this.sql.query(DAY_LINES_RERANK_SQL, [[...new Set(consumed.map((r) => r.merchant_order_no))]]);
  }

  private async resolveHeld(run: RunRow): Promise<MatchOutcome['heldMatched']> {
    const ids = await this.sql.query<{ difference_id: string }>(
      `SELECT difference_id::text AS difference_id FROM held_matched ORDER BY difference_id LIMIT 100000`,
    );
    const resolved = [];
    for (const { difference_id: id } of ids) {
      const result = await this.sql.transition(DIFFERENCE_ENTITY, id, 'RESOLVED', {
        resolution: 'AUTO_RULE',
        operator: 'rule:held_matched_later',
        reason: `matched by the bill of ${run.billDate}`,
        resolved_at: new Date(),
      });
      if (result.changed) resolved.push(await this.byId(id));
    }
    return resolved;
  }

  private async expireHeld(run: RunRow): Promise<MatchOutcome['heldExpired']> {
    const ids = await this.sql.query<{ difference_id: string }>(
      `SELECT difference_id::text AS difference_id FROM differences
        WHERE channel_no = $1 AND bill_date < $2 AND state = 'HELD' AND hold_until < $2
        ORDER BY difference_id LIMIT 100000`,
      [run.channelNo, run.billDate],
    );
    const expired = [];
    for (const { difference_id: id } of ids) {
      const result = await this.sql.transition(DIFFERENCE_ENTITY, id, 'OPEN');
      if (result.changed) expired.push(await this.byId(id));
    }
    return expired;
  }

  private async byId(id: string): Promise<ReturnType<typeof differenceRow>> {
    const rows = await this.sql.query<Row>(
      `SELECT ${DIFFERENCE_COLUMNS} FROM differences d WHERE d.difference_id = $1`,
      [id],
    );
    const row = rows[0];
    if (row === undefined) throw new Error(`difference ${id} vanished`);
    return differenceRow(row);
  }

  async figures(run: RunRow): Promise<DayFigures> {
    const classes = await this.sql.query<Row>(
      `SELECT class, count(*) AS count, COALESCE(sum(channel_amount_minor), 0) AS channel_amount,
              COALESCE(sum(platform_amount_minor), 0) AS platform_amount
         FROM results WHERE run_id = $1 GROUP BY class ORDER BY class`,
      [run.runId],
    );
    const states = await this.sql.query<Row>(
      `SELECT count(*) FILTER (WHERE state = 'HELD') AS held, count(*) FILTER (WHERE state = 'OPEN') AS open,
              count(*) AS total, COALESCE(sum(suspense_minor), 0) AS suspense
         FROM differences WHERE channel_no = $1 AND bill_date = $2`,
      [run.channelNo, run.billDate],
    );
    const rules = await this.sql.query<Row>(
      `SELECT rule || ':' || outcome AS name, count(*) AS count FROM rule_applications
        WHERE run_id = $1 GROUP BY 1 ORDER BY 1`,
      [run.runId],
    );
    const bill = await this.sql.query<Row>(
      `SELECT COALESCE(sum(CASE WHEN kind = 'PAY' THEN amount_minor ELSE -amount_minor END)
                FILTER (WHERE status = 'SUCCESS'), 0) AS gross,
              COALESCE(sum(fee_minor) FILTER (WHERE status = 'SUCCESS'), 0) AS fee
         FROM statement_lines WHERE file_id = $1`,
      [run.fileId],
    );
    const matched = await this.sql.query<Row>(
      `SELECT count(*) AS count,
              COALESCE(sum(CASE WHEN kind = 'PAY' THEN channel_amount_minor ELSE -channel_amount_minor END), 0) AS amount
         FROM results WHERE run_id = $1 AND class = 'MATCHED'`,
      [run.runId],
    );
    const lines = await this.sql.query<Row>(
      `SELECT COALESCE(sum(CASE WHEN kind = 'PAY' THEN amount_minor ELSE -amount_minor END), 0) AS amount,
              COALESCE(sum(fee_minor), 0) AS fee,
              COALESCE(sum(CASE WHEN kind = 'PAY' THEN amount_minor ELSE -amount_minor END)
                FILTER (WHERE status = 'SUCCESS' AND NOT EXISTS (
                  SELECT 1 FROM results r WHERE r.run_id = $2 AND r.line_no = l.line_no)), 0) AS held_matched
         FROM statement_lines l WHERE file_id = $1`,
      [run.fileId, run.runId],
    );
    const reconciling = await this.sql.query<Row>(
      `SELECT COALESCE(sum(delta_minor), 0) AS delta FROM differences
        WHERE run_id = $1 AND operator IS DISTINCT FROM 'rule:apply_channel_outcome'`,
      [run.runId],
    );
    return {
      linesAmountMinor: big(lines[0]?.['amount']),
      linesFeeMinor: big(lines[0]?.['fee']),
      heldMatchedLinesMinor: big(lines[0]?.['held_matched']),
      reconcilingDeltaMinor: big(reconciling[0]?.['delta']),
      classes: classes.map((row) => ({
        differenceClass: text(row['class']),
        count: big(row['count']),
        channelAmountMinor: big(row['channel_amount']),
        platformAmountMinor: big(row['platform_amount']),
      })),
      heldCount: big(states[0]?.['held']),
      openCount: big(states[0]?.['open']),
      differenceCount: big(states[0]?.['total']),
      suspenseOpenMinor: big(states[0]?.['suspense']),
      rulesApplied: Object.fromEntries(rules.map((row) => [text(row['name']), big(row['count'])])),
      grossMinor: big(bill[0]?.['gross']),
      feeMinor: big(bill[0]?.['fee']),
      matchedCount: big(matched[0]?.['count']),
      matchedAmountMinor: big(matched[0]?.['amount']),
    };
  }
}

/** "23:30:00" for a 30-minute window. */
export function minutesBeforeMidnight(windowMinutes: number): string {
  const minutes = 24 * 60 - windowMinutes;
  const hh = String(Math.floor(minutes / 60)).padStart(2, '0');
  const mm = String(minutes % 60).padStart(2, '0');
  return `${hh}:${mm}:00`;
}
