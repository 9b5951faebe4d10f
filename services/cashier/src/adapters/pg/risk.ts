/**
 * Risk counters: amounts and counts per (key, bucket), e.g. ('merchant:m1',
 * '2026-01-02') or ('payer-minute:p1', '2026-01-02T03:04'). Only storage:
 * what counts and when it is given back is the application's (domain/risk).
 */
import type { SqlTx } from '@paycore/platform';
import type { RiskKeys, RiskRepo } from '../../application/ports';
import type { RiskUsage } from '../../domain/risk';

export class PgRisk implements RiskRepo {
  constructor(private readonly sql: SqlTx) {}

  async lockUsage(k: RiskKeys): Promise<RiskUsage> {
    const merchantKey = `merchant:${k.merchantId ?? '-'}`;
    const payerKey = `payer:${k.payerId}`;
    const minuteKey = `payer-minute:${k.payerId}`;
    // One statement that creates missing rows and locks all three (ON CONFLICT DO UPDATE locks the row
    // and returns its current values), so two first payments of a day never both read zero. Rows are
    // taken in key order, one global order, against deadlocks.
    const keys: [string, string][] = (
      [
        [merchantKey, k.day],
        [payerKey, k.day],
        [minuteKey, k.minute],
      ] as [string, string][]
    ).sort((a, b) => (a[0] + '\u0000' + a[1] < b[0] + '\u0000' + b[1] ? -1 : 1));
    const rows = await this.sql.query<{ counter_key: string; amount_minor: string; count: number }>(
      `INSERT INTO risk_counters (counter_key, bucket)
       SELECT counter_key, bucket FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(counter_key, bucket, n) ORDER BY n
       ON CONFLICT (counter_key, bucket) DO UPDATE SET count = risk_counters.count
       RETURNING counter_key, amount_minor::text, count`,
      [keys.map((x) => x[0]), keys.map((x) => x[1])],
    );
    const find = (key: string) => rows.find((r) => r.counter_key === key);
    return {
      merchantDailyMinor: BigInt(find(merchantKey)?.amount_minor ?? '0'),
      payerDailyMinor: BigInt(find(payerKey)?.amount_minor ?? '0'),
      payerPaymentsThisMinute: find(minuteKey)?.count ?? 0,
    };
  }

  async add(
    k: Omit<RiskKeys, 'minute'> & { minute: string | null },
    amountMinor: bigint,
    count: number,
  ): Promise<void> {
    const counters: [string, string, bigint, number][] = [
      [`merchant:${k.merchantId ?? '-'}`, k.day, amountMinor, count],
      [`payer:${k.payerId}`, k.day, amountMinor, count],
    ];
    if (k.minute !== null) counters.push([`payer-minute:${k.payerId}`, k.minute, 0n, count]);
    await this.sql.query(
      `INSERT INTO risk_counters (counter_key, bucket, amount_minor, count)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[])
       ON CONFLICT (counter_key, bucket) DO UPDATE
         SET amount_minor = risk_counters.amount_minor + EXCLUDED.amount_minor,
             count = risk_counters.count + EXCLUDED.count`,
      [
        counters.map((c) => c[0]),
        counters.map((c) => c[1]),
        counters.map((c) => c[2].toString()),
        counters.map((c) => c[3]),
      ],
    );
  }
}
