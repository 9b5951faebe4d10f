/** Small waiting and counting helpers shared by the events tests. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';

/** Polls `predicate` every `intervalMs` until it holds; fails naming `what` after `timeoutMs`. */
export async function until(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(intervalMs);
  }
}

export async function countRows(
  dataSource: DataSource,
  sql: string,
  parameters: unknown[] = [],
): Promise<number> {
  const rows = await dataSource.query<{ n: string | number }[]>(sql, parameters);
  return Number(rows[0]?.n ?? NaN);
}
