/**
 * Subject daily balances (科目日计表) and their roll-up through the chart.
 *
 * Every balance is held as a debit-positive net in minor units (debits minus
 * credits since the beginning of the books), per subject and currency. The
 * direction shown to people (借 / 贷 / 平) is derived from the sign at the edge
 * (types.ts directionOf): that one representation serves debit-normal,
 * credit-normal and common-class subjects alike, and makes every sum exact.
 *
 *   closing = opening + debits - credits
 *
 * Roll-up: a parent's row is the sum of its leaves' rows. Because all four
 * figures are sums, rolling up conserves every total (a property test checks
 * it), so the level-1 rows (general ledger) add up to the same as the leaves.
 */
import type { Side } from '@paycore/money';
import { balanceKey } from './types';
import { levelOf, lineageOf, type Chart } from './subjects';

export interface SubjectDayBalance {
  readonly subjectCode: string;
  readonly currency: string;
  /** Debit-positive net at the start of the date. */
  readonly openingMinor: bigint;
  readonly debitMinor: bigint;
  readonly creditMinor: bigint;
  readonly lineCount: bigint;
}

export interface PostedLine {
  readonly subjectCode: string;
  readonly currency: string;
  readonly side: Side;
  readonly amountMinor: bigint;
}

/** Debit-positive net at the end of the date. */
export function closingOf(
  row: Pick<SubjectDayBalance, 'openingMinor' | 'debitMinor' | 'creditMinor'>,
): bigint {
  return row.openingMinor + row.debitMinor - row.creditMinor;
}

function byKey(a: SubjectDayBalance, b: SubjectDayBalance): number {
  if (a.subjectCode !== b.subjectCode) return a.subjectCode < b.subjectCode ? -1 : 1;
  return a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0;
}

interface Mutable {
  subjectCode: string;
  currency: string;
  openingMinor: bigint;
  debitMinor: bigint;
  creditMinor: bigint;
  lineCount: bigint;
}

function rowFor(rows: Map<string, Mutable>, subjectCode: string, currency: string): Mutable {
  const key = balanceKey(subjectCode, currency);
  let row = rows.get(key);
  if (row === undefined) {
    row = { subjectCode, currency, openingMinor: 0n, debitMinor: 0n, creditMinor: 0n, lineCount: 0n };
    rows.set(key, row);
  }
  return row;
}

/** Line totals of one subject and currency on a date. */
export interface LineTotal {
  readonly subjectCode: string;
  readonly currency: string;
  readonly debitMinor: bigint;
  readonly creditMinor: bigint;
  readonly lineCount: bigint;
}

/** Sums single lines into totals per subject and currency. */
export function totalsOfLines(lines: Iterable<PostedLine>): LineTotal[] {
  const rows = new Map<string, Mutable>();
  for (const line of lines) {
    const row = rowFor(rows, line.subjectCode, line.currency);
    if (line.side === 'DEBIT') row.debitMinor += line.amountMinor;
    else row.creditMinor += line.amountMinor;
    row.lineCount += 1n;
  }
  return [...rows.values()];
}

export interface OpeningNet {
  readonly subjectCode: string;
  readonly currency: string;
  readonly netMinor: bigint;
}

/**
 * The leaf rows of a date from the opening nets (the previous closing) and
 * the date's line totals. Subjects with neither an opening nor a line are
 * left out.
 */
export function dayBalances(
  openings: Iterable<OpeningNet>,
  totals: Iterable<LineTotal>,
): SubjectDayBalance[] {
  const rows = new Map<string, Mutable>();
  for (const opening of openings) {
    if (opening.netMinor !== 0n)
      rowFor(rows, opening.subjectCode, opening.currency).openingMinor += opening.netMinor;
  }
  for (const total of totals) {
    const row = rowFor(rows, total.subjectCode, total.currency);
    row.debitMinor += total.debitMinor;
    row.creditMinor += total.creditMinor;
    row.lineCount += total.lineCount;
  }
  return [...rows.values()].sort(byKey);
}

/**
 * Rows for every subject that has a leaf row under it: the leaf rows
 * themselves and one summed row per ancestor and currency.
 */
export function rollUp(leafRows: readonly SubjectDayBalance[]): SubjectDayBalance[] {
  const rows = new Map<string, Mutable>();
  for (const leaf of leafRows) {
    for (const code of lineageOf(leaf.subjectCode)) {
      const row = rowFor(rows, code, leaf.currency);
      row.openingMinor += leaf.openingMinor;
      row.debitMinor += leaf.debitMinor;
      row.creditMinor += leaf.creditMinor;
      row.lineCount += leaf.lineCount;
    }
  }
  return [...rows.values()].sort(byKey);
}

/**
 * The rows a table "at level N" shows: subjects of level N plus leaves above
 * it, so that every line is counted exactly once; N = 0 shows leaves only.
 */
export function atLevel(
  rolledUp: readonly SubjectDayBalance[],
  chart: Chart,
  level: number,
): SubjectDayBalance[] {
  return rolledUp.filter((row) => {
    const rowLevel = levelOf(row.subjectCode);
    const leaf = chart.isLeaf(row.subjectCode);
    if (level === 0) return leaf;
    return rowLevel === level || (leaf && rowLevel < level);
  });
}
