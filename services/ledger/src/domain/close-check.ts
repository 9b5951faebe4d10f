/**
 * The close checks of an accounting date (日切核对), pure.
 *
 * 账证核对 (books vs vouchers): for each subject and currency, the voucher
 * lines derived from account postings dated D must match account's own
 * entry totals for D as published in `account.day_sealed`: the same count,
 * the same debit sum and the same credit sum. A missing or doubled voucher
 * shows here, naming the subject and the difference.
 *
 * 账账核对 (books vs books): for each account-kept leaf subject and currency,
 * the ledger's closing balance must equal the sum of the daily closing
 * balances of the subject's accounts in account. Account states each closing
 * on the account's normal side; it is turned into the ledger's debit-positive
 * net before adding, so accounts of either side sum correctly.
 *
 * Plus the trial balance of the date. Differences are returned in a stable
 * order (kind, subject, currency) so that reports compare across runs.
 */
import { closingOf, type SubjectDayBalance } from './balances';
import type { TrialBalanceTotals } from './trial-balance';
import { balanceDebitPositive, type Side } from '@paycore/money';
import { balanceKey } from './types';

export type DifferenceKind =
  'ENTRY_COUNT' | 'DEBIT_TOTAL' | 'CREDIT_TOTAL' | 'CLOSING_BALANCE' | 'TRIAL_BALANCE';

export interface CheckDifference {
  readonly kind: DifferenceKind;
  /** Empty for a trial balance difference. */
  readonly subjectCode: string;
  readonly currency: string;
  readonly ledgerValue: bigint;
  readonly accountValue: bigint;
  readonly difference: bigint;
  readonly description: string;
}

/** One subject and currency of `account.day_sealed`. */
export interface SealedTotal {
  readonly subjectCode: string;
  readonly currency: string;
  readonly entryCount: bigint;
  readonly debitMinor: bigint;
  readonly creditMinor: bigint;
}

/** One account's daily row from account's GetDailyBalances. */
export interface AccountDailyClosing {
  readonly accountId: string;
  readonly subjectCode: string;
  readonly currency: string;
  readonly normalSide: Side;
  /** On the account's normal side. */
  readonly closingMinor: bigint;
}

/** Lines of transfer vouchers dated D, per subject and currency. */
export interface VoucherLineTotal {
  readonly subjectCode: string;
  readonly currency: string;
  readonly lineCount: bigint;
  readonly debitMinor: bigint;
  readonly creditMinor: bigint;
}

export interface CloseCheckInput {
  readonly transferLineTotals: readonly VoucherLineTotal[];
  readonly sealedTotals: readonly SealedTotal[];
  /** Leaf rows of D (all subjects); only account-kept ones are compared with account. */
  readonly leafBalances: readonly SubjectDayBalance[];
  readonly isAccountKept: (subjectCode: string) => boolean;
  readonly accountClosings: readonly AccountDailyClosing[];
  readonly trialBalance: readonly TrialBalanceTotals[];
}

const KIND_ORDER: Readonly<Record<DifferenceKind, number>> = {
  ENTRY_COUNT: 0,
  DEBIT_TOTAL: 1,
  CREDIT_TOTAL: 2,
  CLOSING_BALANCE: 3,
  TRIAL_BALANCE: 4,
};

function keyParts(key: string): { subjectCode: string; currency: string } {
  const [subjectCode = '', currency = ''] = key.split('|');
  return { subjectCode, currency };
}

function diff(
  kind: DifferenceKind,
  key: string,
  ledgerValue: bigint,
  accountValue: bigint,
  what: string,
): CheckDifference {
  const { subjectCode, currency } = keyParts(key);
  return {
    kind,
    subjectCode,
    currency,
    ledgerValue,
    accountValue,
    difference: ledgerValue - accountValue,
    description: `${subjectCode} ${currency}: ledger ${what} ${ledgerValue.toString()}, account ${accountValue.toString()}`,
  };
}

/** Turns an account closing on its normal side into the ledger's debit-positive net. */
export function accountNetMinor(row: Pick<AccountDailyClosing, 'normalSide' | 'closingMinor'>): bigint {
  return balanceDebitPositive(row.normalSide, row.closingMinor);
}

function voucherVersusEntries(input: CloseCheckInput): CheckDifference[] {
  const vouchers = new Map(input.transferLineTotals.map((t) => [balanceKey(t.subjectCode, t.currency), t]));
  const sealed = new Map(input.sealedTotals.map((t) => [balanceKey(t.subjectCode, t.currency), t]));
  const out: CheckDifference[] = [];
  for (const key of new Set([...vouchers.keys(), ...sealed.keys()])) {
    const v = vouchers.get(key);
    const s = sealed.get(key);
    const pairs: [DifferenceKind, bigint, bigint, string][] = [
      ['ENTRY_COUNT', v?.lineCount ?? 0n, s?.entryCount ?? 0n, 'voucher lines'],
      ['DEBIT_TOTAL', v?.debitMinor ?? 0n, s?.debitMinor ?? 0n, 'debits'],
      ['CREDIT_TOTAL', v?.creditMinor ?? 0n, s?.creditMinor ?? 0n, 'credits'],
    ];
    for (const [kind, ledgerValue, accountValue, what] of pairs) {
      if (ledgerValue !== accountValue) out.push(diff(kind, key, ledgerValue, accountValue, what));
    }
  }
  return out;
}

function ledgerVersusAccounts(input: CloseCheckInput): CheckDifference[] {
  const ledger = new Map<string, bigint>();
  for (const row of input.leafBalances) {
    if (input.isAccountKept(row.subjectCode))
      ledger.set(balanceKey(row.subjectCode, row.currency), closingOf(row));
  }
  const accounts = new Map<string, bigint>();
  for (const row of input.accountClosings) {
    const key = balanceKey(row.subjectCode, row.currency);
    accounts.set(key, (accounts.get(key) ?? 0n) + accountNetMinor(row));
  }
  const out: CheckDifference[] = [];
  for (const key of new Set([...ledger.keys(), ...accounts.keys()])) {
    const ledgerValue = ledger.get(key) ?? 0n;
    const accountValue = accounts.get(key) ?? 0n;
    if (ledgerValue !== accountValue) {
      out.push(diff('CLOSING_BALANCE', key, ledgerValue, accountValue, 'closing (debit-positive)'));
    }
  }
  return out;
}

function trialBalanceDifferences(totals: readonly TrialBalanceTotals[]): CheckDifference[] {
  return totals
    .filter((t) => !t.balanced)
    .map((t) => ({
      kind: 'TRIAL_BALANCE' as const,
      subjectCode: '',
      currency: t.currency,
      ledgerValue: t.closingDebitMinor,
      accountValue: t.closingCreditMinor,
      difference: t.closingDebitMinor - t.closingCreditMinor,
      description:
        `${t.currency}: debit-side closing ${t.closingDebitMinor.toString()} vs credit-side ${t.closingCreditMinor.toString()}, ` +
        `period debits ${t.periodDebitMinor.toString()} vs credits ${t.periodCreditMinor.toString()}`,
    }));
}

/** Every difference between the ledger's and account's view of date D; empty when the date may close. */
export function checkDay(input: CloseCheckInput): CheckDifference[] {
  return [
    ...voucherVersusEntries(input),
    ...ledgerVersusAccounts(input),
    ...trialBalanceDifferences(input.trialBalance),
  ].sort(
    (a, b) =>
      KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
      (a.subjectCode < b.subjectCode ? -1 : a.subjectCode > b.subjectCode ? 1 : 0) ||
      (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0),
  );
}
