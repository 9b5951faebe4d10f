/**
 * The daily stored-value reconciliation of an accounting date, per contract,
 * per member and for the platform (domain/sv-reconciliation.ts has the
 * rules). Each page of scopes is one transaction: its rows, its events (one
 * per difference above NONE) and, for a contract whose class says BALANCE,
 * the adjusting posting of the value difference against suspense:
 *
 *   lots hold less than was sold (difference > 0): Dr unearned revenue 240101 / Cr suspense long 224105
 *   lots hold more than was sold (difference < 0): Dr suspense short 122102 / Cr unearned revenue 240101
 *
 * Only contract rows balance (member and platform rows sum the same
 * contracts, so balancing them too would post the difference twice); their
 * BALANCE class is recorded as ALARM. A balanced difference counts as
 * explained in later runs. A date is reconciled once: a rerun answers with
 * the rows of the first run (the platform rows are written last).
 */
import { assertIsoDate } from '@paycore/calendar';
import { classify, differenceOf, type ClassRule, type ReconLevel } from '../domain/sv-reconciliation';
import { InvalidFieldError } from '../domain/errors';
import { ReconciliationNotFoundError } from '../domain/stored-value-errors';
import { SUBJECT_UNEARNED_REVENUE } from './stored-value';
import type { ReconRow, StoredValueStore, StoredValueTx } from './stored-value-ports';

export const SUBJECT_SUSPENSE_SHORT = '122102';
export const SUBJECT_SUSPENSE_LONG = '224105';
export const RECON_PAGE_SIZE = 500;
/** Bounds one run: 500 × 2,000 = a million scopes per level. */
export const RECON_PAGES_MAX = 2_000;
export const REPORT_ROWS_MAX = 1_000;

export interface ReconSummary {
  readonly accountingDate: string;
  readonly rows: readonly ReconRow[];
  readonly classCounts: Readonly<Record<string, bigint>>;
  readonly truncated: boolean;
}

export class StoredValueReconciliation {
  constructor(
    private readonly options: { store: StoredValueStore; rules: readonly ClassRule[]; bizCode: string },
  ) {}

  /** Reconciles `accountingDate` (once); returns how many rows are above NONE. */
  async reconcile(accountingDate: string): Promise<number> {
    checkDate(accountingDate);
    const done = await this.options.store.transaction('account.sv_recon_check', 'READ COMMITTED', (tx) =>
      tx.recon.isReconciled(accountingDate),
    );
    if (done) return -1;
    let classed = 0;
    // Platform last: its rows mark the date as reconciled.
    for (const level of ['CONTRACT', 'MEMBER', 'PLATFORM'] as const) {
      classed += await this.reconcileLevel(level, accountingDate);
    }
    return classed;
  }

  private async reconcileLevel(level: ReconLevel, accountingDate: string): Promise<number> {
    let after: { scopeKey: string; currency: string } | null = null;
    let classed = 0;
    for (let page = 0; page < RECON_PAGES_MAX; page++) {
      const result = await this.options.store.transaction(
        'account.sv_recon_page',
        'REPEATABLE READ',
        async (tx) => {
          const scopes = await tx.recon.figures(level, accountingDate, after, RECON_PAGE_SIZE);
          const rows: ReconRow[] = [];
          for (const scope of scopes) rows.push(await this.rowOf(tx, level, accountingDate, scope));
          await tx.recon.insertRows(rows);
          for (const row of rows) if (row.klass !== 'NONE') await tx.recon.publishDifference(row);
          return { rows, last: scopes[scopes.length - 1] };
        },
      );
      classed += result.rows.filter((row) => row.klass !== 'NONE').length;
      if (result.last === undefined || result.rows.length < RECON_PAGE_SIZE) return classed;
      after = { scopeKey: result.last.scopeKey, currency: result.last.currency };
    }
    throw new Error(`stored-value reconciliation of ${level} scopes exceeded ${RECON_PAGES_MAX} pages`);
  }

  private async rowOf(
    tx: StoredValueTx,
    level: ReconLevel,
    accountingDate: string,
    scope: { scopeKey: string; currency: string; figures: ReconRow['figures'] },
  ): Promise<ReconRow> {
    const difference = differenceOf(scope.figures);
    const { klass, action: ruled } = classify(difference, this.options.rules);
    const action = ruled === 'BALANCE' && level !== 'CONTRACT' ? 'ALARM' : ruled;
    let transferId: string | null = null;
    if (action === 'BALANCE' && difference.valueMinor !== 0n) {
      const unearned = await tx.postings.internalAccount(SUBJECT_UNEARNED_REVENUE, scope.currency);
      const short = difference.valueMinor < 0n;
      const suspense = short
        ? await tx.postings.internalAccount(SUBJECT_SUSPENSE_SHORT, scope.currency, 'DEBIT')
        : await tx.postings.internalAccount(SUBJECT_SUSPENSE_LONG, scope.currency, 'CREDIT');
      const amountMinor = short ? -difference.valueMinor : difference.valueMinor;
      const [debit, credit] = short ? [suspense, unearned] : [unearned, suspense];
      transferId = await tx.postings.post({
        requestId: `sv-recon:${accountingDate}:${scope.scopeKey}:${scope.currency}`,
        bizCode: this.options.bizCode,
        memo: `stored-value reconciliation ${accountingDate}: balancing contract ${scope.scopeKey}`,
        legs: [
          { accountId: debit, side: 'DEBIT', amountMinor, currency: scope.currency },
          { accountId: credit, side: 'CREDIT', amountMinor, currency: scope.currency },
        ],
      });
    }
    return {
      accountingDate,
      level,
      scopeKey: scope.scopeKey,
      currency: scope.currency,
      figures: scope.figures,
      difference,
      klass,
      action,
      transferId,
    };
  }

  async report(accountingDate: string): Promise<ReconSummary> {
    checkDate(accountingDate);
    return this.options.store.transaction('account.sv_recon_report', 'REPEATABLE READ', async (tx) => {
      if (!(await tx.recon.isReconciled(accountingDate))) {
        throw new ReconciliationNotFoundError(`stored value of ${accountingDate} was not reconciled`, {
          field: 'accounting_date',
        });
      }
      const found = await tx.recon.report(accountingDate, REPORT_ROWS_MAX + 1);
      return {
        accountingDate,
        rows: found.rows.slice(0, REPORT_ROWS_MAX),
        classCounts: found.classCounts,
        truncated: found.rows.length > REPORT_ROWS_MAX,
      };
    });
  }
}

function checkDate(accountingDate: string): void {
  try {
    assertIsoDate(accountingDate, 'accounting_date');
  } catch {
    throw new InvalidFieldError('accounting_date must be YYYY-MM-DD', { field: 'accounting_date' });
  }
}
