/**
 * Suspense (挂账) and write-off (销账) as postings. A difference's delta is
 * what the channel says the day's money did minus what paycore says
 * (positive: the channel holds more, 长款). A positive delta is posted
 * Dr channel pending-clearing / Cr suspense long (224105); a negative one
 * Dr suspense short (122102) / Cr channel pending-clearing. The write-off is
 * the opposite posting of the same amount, linked to the difference. Fee and
 * currency differences carry no delta and are never posted.
 */
import type { Leg } from './model';

export const SUSPENSE_LONG_SUBJECT = '224105';
export const SUSPENSE_SHORT_SUBJECT = '122102';
export const ADJUST_PRODUCT = '900101';
export const ADJUST_MODE = '01';
export const ADJUST_ACTION = '08';

/** Channel number → its pending-clearing leaf subject in the default chart (ledger 0002_default_chart.sql). */
export const CLEARING_SUBJECTS: Readonly<Record<string, string>> = {
  '100001': '30010101',
  '200001': '30010102',
  '300001': '30010103',
  '300002': '30010104',
};

export interface SuspenseAccounts {
  readonly clearing: string;
  readonly long: string;
  readonly short: string;
}

export interface SuspenseLegs {
  readonly subjectCode: string;
  readonly amountMinor: bigint;
  readonly legs: readonly Leg[];
}

/** The posting that parks `deltaMinor` in suspense; undefined when there is nothing to park. */
export function suspenseLegs(deltaMinor: bigint, accounts: SuspenseAccounts): SuspenseLegs | undefined {
  if (deltaMinor === 0n) return undefined;
  const amountMinor = deltaMinor > 0n ? deltaMinor : -deltaMinor;
  const legs: Leg[] =
    deltaMinor > 0n
      ? [
          { accountId: accounts.clearing, side: 'DEBIT', amountMinor },
          { accountId: accounts.long, side: 'CREDIT', amountMinor },
        ]
      : [
          { accountId: accounts.short, side: 'DEBIT', amountMinor },
          { accountId: accounts.clearing, side: 'CREDIT', amountMinor },
        ];
  return { subjectCode: deltaMinor > 0n ? SUSPENSE_LONG_SUBJECT : SUSPENSE_SHORT_SUBJECT, amountMinor, legs };
}

/** The opposite of a posting: every leg on the other side, same amounts. */
export function writeOffLegs(posting: SuspenseLegs): SuspenseLegs {
  return {
    ...posting,
    legs: posting.legs.map((leg) => ({ ...leg, side: leg.side === 'DEBIT' ? 'CREDIT' : 'DEBIT' })),
  };
}

/** The adjustment code of a channel: 900101 · 01 · 08 · pay channel · channel number. */
export function adjustCode(payChannel: string, channelNo: string): string {
  return `${ADJUST_PRODUCT}${ADJUST_MODE}${ADJUST_ACTION}${payChannel}${channelNo}`;
}
