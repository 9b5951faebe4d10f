/**
 * Voucher rules: 2 to 64 lines, each a positive amount on a leaf subject,
 * debits equal to credits in every currency. A manual voucher may touch only
 * ledger-only subjects (an adjustment of an account goes through account, so
 * both books move together); a voucher derived from a transfer may touch only
 * account-kept ones (anything else means the two charts disagree).
 */
import { debitPositive, INT64_MAX, isKnownCurrency } from '@paycore/money';
import { InvalidFieldError, LedgerError, SubjectKeptByAccountError, UnbalancedVoucherError } from './errors';
import type { Chart } from './subjects';
import type { VoucherLine } from './types';

export const VOUCHER_LINES_MIN = 2;
/** The same bound as account's legs per transfer: one line per leg. */
export const VOUCHER_LINES_MAX = 64;
export const REASON_LENGTH_MAX = 256;

/** A transfer voucher on a subject account should not hold balances of. */
export class SubjectNotAccountKeptError extends LedgerError {
  readonly reason = 'SUBJECT_NOT_ACCOUNT_KEPT';
  readonly grpcCode = 'INVALID_ARGUMENT';
}

/** Debit-positive net per currency: zero everywhere for a balanced voucher. */
export function netByCurrency(
  lines: readonly Pick<VoucherLine, 'side' | 'amountMinor' | 'currency'>[],
): Map<string, bigint> {
  const net = new Map<string, bigint>();
  for (const line of lines) {
    net.set(line.currency, (net.get(line.currency) ?? 0n) + debitPositive(line.side, line.amountMinor));
  }
  return net;
}

/**
 * Throws the first rule a voucher breaks. `kind` says whose subjects the
 * lines may touch. Sums are exact bigints: 64 lines of at most int64 each
 * cannot lose precision.
 */
export function validateVoucherLines(
  lines: readonly VoucherLine[],
  chart: Chart,
  kind: 'MANUAL' | 'TRANSFER',
  field = 'lines',
): void {
  if (lines.length < VOUCHER_LINES_MIN || lines.length > VOUCHER_LINES_MAX) {
    throw new InvalidFieldError(
      `a voucher has ${VOUCHER_LINES_MIN} to ${VOUCHER_LINES_MAX} lines, got ${lines.length}`,
      { field },
    );
  }
  lines.forEach((line, index) => {
    const at = `${field}[${index}]`;
    if (line.amountMinor <= 0n || line.amountMinor > INT64_MAX) {
      throw new InvalidFieldError(`${at}.amount must be between 1 and ${INT64_MAX.toString()}`, {
        field: `${at}.amount.amount_minor`,
      });
    }
    if (!isKnownCurrency(line.currency)) {
      throw new InvalidFieldError(`${at}.amount.currency "${line.currency.slice(0, 16)}" is not known`, {
        field: `${at}.amount.currency`,
      });
    }
    const subject = chart.assertLeaf(line.subjectCode, `${at}.subject_code`);
    if (kind === 'MANUAL' && subject.accountKept) {
      throw new SubjectKeptByAccountError(
        `subject ${subject.code} is kept by the account service; adjust it through account Transfer with action 08`,
        { field: `${at}.subject_code`, metadata: { subject_code: subject.code } },
      );
    }
    if (kind === 'TRANSFER' && !subject.accountKept) {
      throw new SubjectNotAccountKeptError(`subject ${subject.code} is kept only in the ledger`, {
        field: `${at}.subject_code`,
        metadata: { subject_code: subject.code },
      });
    }
  });
  for (const [currency, net] of netByCurrency(lines)) {
    if (net !== 0n) {
      const gap = net < 0n ? -net : net;
      throw new UnbalancedVoucherError(
        `debits and credits differ by ${gap.toString()} minor units of ${currency}`,
        { field, metadata: { currency, difference_minor: net.toString() } },
      );
    }
  }
}
