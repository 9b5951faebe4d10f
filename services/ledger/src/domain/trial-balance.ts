/**
 * The trial balance (试算平衡) over the general ledger (level-1 subjects), per
 * currency: the sum of debit-side balances equals the sum of credit-side
 * balances, at the opening and at the closing, and the date's debits equal its
 * credits. Every balanced voucher keeps all three equalities, so a trial
 * balance that fails means a voucher was recorded unbalanced or a balance was
 * carried forward wrongly: the close refuses it.
 */
import { closingOf, type SubjectDayBalance } from './balances';
import { levelOf } from './subjects';

export interface TrialBalanceTotals {
  readonly currency: string;
  readonly openingDebitMinor: bigint;
  readonly openingCreditMinor: bigint;
  readonly periodDebitMinor: bigint;
  readonly periodCreditMinor: bigint;
  readonly closingDebitMinor: bigint;
  readonly closingCreditMinor: bigint;
  readonly balanced: boolean;
}

function debitPart(net: bigint): bigint {
  return net > 0n ? net : 0n;
}
function creditPart(net: bigint): bigint {
  return net < 0n ? -net : 0n;
}

/** Totals per currency, ordered by currency; rows other than level 1 are ignored. */
export function trialBalance(rolledUp: readonly SubjectDayBalance[]): TrialBalanceTotals[] {
  const sums = new Map<string, { od: bigint; oc: bigint; pd: bigint; pc: bigint; cd: bigint; cc: bigint }>();
  for (const row of rolledUp) {
    if (levelOf(row.subjectCode) !== 1) continue;
    let sum = sums.get(row.currency);
    if (sum === undefined) {
      sum = { od: 0n, oc: 0n, pd: 0n, pc: 0n, cd: 0n, cc: 0n };
      sums.set(row.currency, sum);
    }
    const closing = closingOf(row);
    sum.od += debitPart(row.openingMinor);
    sum.oc += creditPart(row.openingMinor);
    sum.pd += row.debitMinor;
    sum.pc += row.creditMinor;
    sum.cd += debitPart(closing);
    sum.cc += creditPart(closing);
  }
  return [...sums.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([currency, t]) => ({
      currency,
      openingDebitMinor: t.od,
      openingCreditMinor: t.oc,
      periodDebitMinor: t.pd,
      periodCreditMinor: t.pc,
      closingDebitMinor: t.cd,
      closingCreditMinor: t.cc,
      balanced: t.od === t.oc && t.pd === t.pc && t.cd === t.cc,
    }));
}
