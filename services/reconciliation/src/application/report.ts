/**
 * The day's report: the run's figures plus the checks that tie the bill to
 * the books, computed when the report is read (they depend on account and
 * ledger, which move on):
 * - BILL_SUMMARY: the bill's footer totals equal the sums of its detail lines;
 * - CLEARING_BALANCE: the per-channel balance proof at the cut-off — the
 *   bill's gross (pay − refunds) minus the explained differences (their
 *   deltas) minus lines that matched items held from earlier bills equals
 *   the movement of the channel's pending-clearing account over the channel
 *   day, leaving reconciliation's own adjustments out;
 * - SUSPENSE_BALANCE: account's suspense long / short balances equal what
 *   reconciliation has posted and not written off (account and recon agree);
 * - LEDGER_ACCOUNT_VOUCHER: the ledger's 账证 / 账账 result for the date.
 */
import {
  ADJUST_PRODUCT,
  CLEARING_SUBJECTS,
  SUSPENSE_LONG_SUBJECT,
  SUSPENSE_SHORT_SUBJECT,
} from '../domain/suspense';
import type { AccountPort, LedgerPort, ReconStore } from './ports';
import type { DayResult } from './reconciliation';

export interface Check {
  readonly name: string;
  readonly status: 'PASSED' | 'FAILED' | 'NOT_AVAILABLE';
  readonly detail: string;
}

/** China time (UTC+8, no daylight saving): the channel day's bounds. */
const CHINA_OFFSET_MS = 8 * 3_600_000;

export function channelDayBounds(billDate: string): { start: Date; end: Date } {
  const start = new Date(Date.parse(`${billDate}T00:00:00Z`) - CHINA_OFFSET_MS);
  return { start, end: new Date(start.getTime() + 86_400_000) };
}

export class DayChecks {
  constructor(
    private readonly store: ReconStore,
    private readonly account: AccountPort,
    private readonly ledger: LedgerPort,
    private readonly currency: string,
  ) {}

  async checks(result: DayResult): Promise<Check[]> {
    return Promise.all([
      Promise.resolve(this.billSummary(result)),
      this.guard('CLEARING_BALANCE', () => this.clearingBalance(result)),
      this.guard('SUSPENSE_BALANCE', () => this.suspenseBalance()),
      this.guard('LEDGER_ACCOUNT_VOUCHER', () => this.ledgerCheck(result.run.billDate)),
    ]);
  }

  private async guard(name: string, fn: () => Promise<Check>): Promise<Check> {
    try {
      return await fn();
    } catch (err) {
      return { name, status: 'NOT_AVAILABLE', detail: err instanceof Error ? err.message : String(err) };
    }
  }

  private billSummary(result: DayResult): Check {
    const holds =
      result.figures.linesAmountMinor === result.statedAmountMinor &&
      result.figures.linesFeeMinor === result.statedFeeMinor;
    return {
      name: 'BILL_SUMMARY',
      status: holds ? 'PASSED' : 'FAILED',
      detail: `lines ${result.figures.linesAmountMinor}/${result.figures.linesFeeMinor}, footer ${result.statedAmountMinor}/${result.statedFeeMinor} (amount/fee, minor units)`,
    };
  }

  private async clearingBalance(result: DayResult): Promise<Check> {
    const subject = CLEARING_SUBJECTS[result.run.channelNo];
    if (subject === undefined)
      return { name: 'CLEARING_BALANCE', status: 'NOT_AVAILABLE', detail: 'no clearing subject' };
    const accountId = await this.account.internalAccount(
      subject,
      'DEBIT',
      this.currency,
      `recon-open:${subject}:${this.currency}`,
    );
    const { start, end } = channelDayBounds(result.run.billDate);
    const movement = await this.account.movement(accountId, start, end, ADJUST_PRODUCT);
    const f = result.figures;
    const expected = f.grossMinor - f.reconcilingDeltaMinor - f.heldMatchedLinesMinor;
    return {
      name: 'CLEARING_BALANCE',
      status: expected === movement ? 'PASSED' : 'FAILED',
      detail: `bill ${f.grossMinor} − differences ${f.reconcilingDeltaMinor} − matched held ${f.heldMatchedLinesMinor} = ${expected}; clearing ${subject} moved ${movement} (minor units)`,
    };
  }

  private async suspenseBalance(): Promise<Check> {
    const [long, short, totals] = await Promise.all([
      this.account.internalAccount(
        SUSPENSE_LONG_SUBJECT,
        'CREDIT',
        this.currency,
        `recon-open:${SUSPENSE_LONG_SUBJECT}:${this.currency}`,
      ),
      this.account.internalAccount(
        SUSPENSE_SHORT_SUBJECT,
        'DEBIT',
        this.currency,
        `recon-open:${SUSPENSE_SHORT_SUBJECT}:${this.currency}`,
      ),
      this.store.suspenseTotals(),
    ]);
    const [longBalance, shortBalance] = await Promise.all([
      this.account.balance(long),
      this.account.balance(short),
    ]);
    const holds = longBalance === totals.longMinor && shortBalance === totals.shortMinor;
    return {
      name: 'SUSPENSE_BALANCE',
      status: holds ? 'PASSED' : 'FAILED',
      detail: `account long ${longBalance} / short ${shortBalance}; open in reconciliation long ${totals.longMinor} / short ${totals.shortMinor} (minor units)`,
    };
  }

  private async ledgerCheck(billDate: string): Promise<Check> {
    const report = await this.ledger.checkReport(billDate);
    if (report === undefined)
      return {
        name: 'LEDGER_ACCOUNT_VOUCHER',
        status: 'NOT_AVAILABLE',
        detail: `the ledger has not checked ${billDate} yet`,
      };
    return {
      name: 'LEDGER_ACCOUNT_VOUCHER',
      status: report.status === 'PASSED' ? 'PASSED' : 'FAILED',
      detail: report.detail,
    };
  }
}
