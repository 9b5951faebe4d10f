/**
 * SQL of the stored-value reconciliation: the figures per scope (total sold
 * from the purchase movements, less what earlier BALANCE actions explained;
 * buckets from the lots), the rows of a run, the difference event and the
 * report. Scope expressions are fixed strings chosen by level, never input.
 */
import { subjectFor, type SqlTx } from '@paycore/platform';
import { StoredValueDifferenceFound } from '@paycore/proto/paycore/account/v1/events';
import type { ReconRepo, ReconRow } from '../../application/stored-value-ports';
import type { Portion } from '../../domain/lots';
import type {
  DifferenceAction,
  DifferenceClass,
  ReconFigures,
  ReconLevel,
} from '../../domain/sv-reconciliation';

const SCOPE_KEY: Readonly<Record<ReconLevel, string>> = {
  CONTRACT: 'p.contract_id',
  MEMBER: 'p.owner_id',
  PLATFORM: "'platform'",
};

const FIGURES = ['total', 'consumed', 'available', 'held', 'frozen', 'expired'] as const;

type FigureRow = Record<string, string>;

function portionOf(row: FigureRow, name: string): Portion {
  return {
    quantity: BigInt(row[`${name}_quantity`] ?? '0'),
    valueMinor: BigInt(row[`${name}_value`] ?? '0'),
  };
}

function figuresOf(row: FigureRow): ReconFigures {
  return {
    total: portionOf(row, 'total'),
    consumed: portionOf(row, 'consumed'),
    available: portionOf(row, 'available'),
    held: portionOf(row, 'held'),
    frozen: portionOf(row, 'frozen'),
    expired: portionOf(row, 'expired'),
  };
}

export class PgReconRepo implements ReconRepo {
  constructor(
    private readonly sql: SqlTx,
    private readonly natsPrefix: string,
  ) {}

  async isReconciled(accountingDate: string): Promise<boolean> {
    const found = await this.sql.query(
      `SELECT 1 FROM sv_recon_rows WHERE accounting_date = $1 AND level = 'PLATFORM' LIMIT 1`,
      [accountingDate],
    );
    return found.length === 1;
  }

  async figures(
    level: ReconLevel,
    accountingDate: string,
    after: { scopeKey: string; currency: string } | null,
    limit: number,
  ): Promise<{ scopeKey: string; currency: string; figures: ReconFigures }[]> {
    const key = SCOPE_KEY[level];
    const bucket = (name: string): string =>
      `sum(p.${name}_quantity)::text AS ${name}_quantity, sum(p.${name}_value)::text AS ${name}_value`;
    const found = await this.sql.query<FigureRow & { scope_key: string; currency: string }>(
      `WITH sold AS (
         SELECT contract_id, sum(quantity) AS q, sum(value_minor) AS v
           FROM sv_movements WHERE kind = 'PURCHASE' GROUP BY contract_id
       ), balanced AS (
         SELECT scope_key AS contract_id, sum(difference_quantity) AS q, sum(difference_value) AS v
           FROM sv_recon_rows
          WHERE level = 'CONTRACT' AND action = 'BALANCE' AND accounting_date < $1 GROUP BY scope_key
       ), p AS (
         SELECT l.contract_id, l.owner_id, l.currency,
                COALESCE(max(s.q), 0) - COALESCE(max(b.q), 0) AS total_quantity,
                COALESCE(max(s.v), 0) - COALESCE(max(b.v), 0) AS total_value,
                sum(consumed_quantity) AS consumed_quantity, sum(consumed_value) AS consumed_value,
                sum(available_quantity) AS available_quantity, sum(available_value) AS available_value,
                sum(held_quantity) AS held_quantity, sum(held_value) AS held_value,
                sum(frozen_quantity) AS frozen_quantity, sum(frozen_value) AS frozen_value,
                sum(expired_quantity) AS expired_quantity, sum(expired_value) AS expired_value
           FROM sv_lots l LEFT JOIN sold s USING (contract_id) LEFT JOIN balanced b USING (contract_id)
          GROUP BY l.contract_id, l.owner_id, l.currency
       )
       SELECT ${key} AS scope_key, p.currency, ${FIGURES.map(bucket).join(', ')}
         FROM p
        GROUP BY 1, 2
       HAVING $2::text IS NULL OR (${key}, p.currency) > ($2::text, $3::text)
        ORDER BY 1, 2 LIMIT $4`,
      [accountingDate, after?.scopeKey ?? null, after?.currency ?? '', limit],
    );
    return found.map((row) => ({ scopeKey: row.scope_key, currency: row.currency, figures: figuresOf(row) }));
  }

  async insertRows(rows: readonly ReconRow[]): Promise<void> {
    if (rows.length === 0) return;
    const column = (pick: (row: ReconRow) => unknown): unknown[] =>
      rows.map((row) => {
        const value = pick(row);
        return typeof value === 'bigint' ? value.toString() : value;
      });
    const figure = (name: (typeof FIGURES)[number], part: 'quantity' | 'valueMinor'): unknown[] =>
      column((row) => row.figures[name][part]);
    await this.sql.query(
      `INSERT INTO sv_recon_rows (accounting_date, level, scope_key, currency,
         total_quantity, total_value, consumed_quantity, consumed_value, available_quantity, available_value,
         held_quantity, held_value, frozen_quantity, frozen_value, expired_quantity, expired_value,
         difference_quantity, difference_value, difference_class, action, transfer_id)
       SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::text[],
         $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[], $9::numeric[], $10::numeric[],
         $11::numeric[], $12::numeric[], $13::numeric[], $14::numeric[], $15::numeric[], $16::numeric[],
         $17::numeric[], $18::numeric[], $19::text[], $20::text[], $21::uuid[])
       ON CONFLICT DO NOTHING`,
      [
        column((r) => r.accountingDate),
        column((r) => r.level),
        column((r) => r.scopeKey),
        column((r) => r.currency),
        ...FIGURES.flatMap((name) => [figure(name, 'quantity'), figure(name, 'valueMinor')]),
        column((r) => r.difference.quantity),
        column((r) => r.difference.valueMinor),
        column((r) => r.klass),
        column((r) => r.action),
        column((r) => r.transferId),
      ],
    );
  }

  async publishDifference(row: ReconRow): Promise<void> {
    const payload = StoredValueDifferenceFound.encode({
      accountingDate: row.accountingDate,
      level: row.level,
      scopeKey: row.scopeKey,
      differenceClass: row.klass,
      differenceQuantity: row.difference.quantity,
      differenceValue: { amountMinor: row.difference.valueMinor, currency: row.currency },
      action: row.action ?? '',
      transferId: row.transferId ?? '',
    }).finish();
    await this.sql.publish({
      subject: subjectFor(this.natsPrefix, 'account', 'stored_value_difference'),
      payload,
    });
  }

  async report(
    accountingDate: string,
    limit: number,
  ): Promise<{ rows: ReconRow[]; classCounts: Record<string, bigint> }> {
    const found = await this.sql.query<
      FigureRow & { level: ReconLevel; scope_key: string; currency: string }
    >(
      `SELECT level, scope_key, currency, difference_class, action, transfer_id::text AS transfer_id,
              difference_quantity::text AS difference_quantity, difference_value::text AS difference_value,
              ${FIGURES.map((f) => `${f}_quantity::text AS ${f}_quantity, ${f}_value::text AS ${f}_value`).join(', ')}
         FROM sv_recon_rows
        WHERE accounting_date = $1 AND (level = 'PLATFORM' OR difference_class <> 'NONE')
        ORDER BY CASE level WHEN 'PLATFORM' THEN 0 WHEN 'MEMBER' THEN 1 ELSE 2 END, scope_key, currency
        LIMIT $2`,
      [accountingDate, limit],
    );
    const counts = await this.sql.query<{ difference_class: string; n: string }>(
      `SELECT difference_class, count(*)::text AS n FROM sv_recon_rows WHERE accounting_date = $1 GROUP BY 1`,
      [accountingDate],
    );
    return {
      rows: found.map((row) => ({
        accountingDate,
        level: row.level,
        scopeKey: row.scope_key,
        currency: row.currency,
        figures: figuresOf(row),
        difference: {
          quantity: BigInt(row['difference_quantity'] ?? '0'),
          valueMinor: BigInt(row['difference_value'] ?? '0'),
        },
        klass: row['difference_class'] as DifferenceClass,
        action: (row['action'] ?? null) as DifferenceAction | null,
        transferId: row['transfer_id'] ?? null,
      })),
      classCounts: Object.fromEntries(counts.map((c) => [c.difference_class, BigInt(c.n)])),
    };
  }
}
