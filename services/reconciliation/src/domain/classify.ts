/**
 * The matching rules for one pair (statement line, paycore transaction),
 * either side possibly absent. This is the specification: the set-based SQL
 * of the pg adapter (adapters/pg/matching.ts) implements the same decision
 * table over a whole day, and the row-by-row baseline of the benchmark calls
 * this function per pair; a test checks both give the same results.
 *
 * Order of checks: presence, currency, status (kind and state), amount, fee.
 * The delta is what the channel says the day's money did (a successful line,
 * refunds negative) minus what paycore says (a successful transaction); its
 * sign is the direction (OVER: the channel holds more, 长款). Fee and
 * currency differences carry no delta. Only a payment's fee is compared:
 * channel-router records a refund's fee as 0 while channels give part of it
 * back, which the bill's own totals carry.
 */
import { signedAmount, type ChannelTxn, type Direction, type ResultClass, type StatementLine } from './model';

export type LineSide = Pick<StatementLine, 'kind' | 'status' | 'amountMinor' | 'feeMinor' | 'currency'>;
export type TxnSide = Pick<ChannelTxn, 'kind' | 'state' | 'amountMinor' | 'feeMinor' | 'currency'>;

export interface Classified {
  readonly resultClass: ResultClass;
  readonly direction: Direction;
  readonly deltaMinor: bigint;
}

function sign(value: bigint): Direction {
  return value > 0n ? 'OVER' : value < 0n ? 'UNDER' : 'NONE';
}

function classOf(line: LineSide | undefined, txn: TxnSide | undefined): ResultClass {
  if (txn === undefined) return 'PLATFORM_MISSING';
  if (line === undefined) return 'CHANNEL_MISSING';
  if (line.currency !== txn.currency) return 'CURRENCY_MISMATCH';
  if (line.kind !== txn.kind || line.status !== 'SUCCESS' || txn.state !== 'SUCCESS')
    return 'STATUS_MISMATCH';
  if (line.amountMinor !== txn.amountMinor) return 'AMOUNT_MISMATCH';
  if (line.kind === 'PAY' && line.feeMinor !== txn.feeMinor) return 'FEE_MISMATCH';
  return 'MATCHED';
}

/** `duplicate`: the line repeats a merchant order number already seen in the same bill. */
export function classify(
  line: LineSide | undefined,
  txn: TxnSide | undefined,
  duplicate = false,
): Classified {
  if (line === undefined && txn === undefined) throw new Error('classify needs a line or a transaction');
  const channelSigned =
    line !== undefined && line.status === 'SUCCESS' ? signedAmount(line.kind, line.amountMinor) : 0n;
  if (duplicate)
    return { resultClass: 'DUPLICATE', direction: sign(channelSigned), deltaMinor: channelSigned };
  const platformSigned =
    txn !== undefined && txn.state === 'SUCCESS' ? signedAmount(txn.kind, txn.amountMinor) : 0n;
  const resultClass = classOf(line, txn);
  if (resultClass === 'MATCHED' || resultClass === 'CURRENCY_MISMATCH')
    return { resultClass, direction: 'NONE', deltaMinor: 0n };
  if (resultClass === 'FEE_MISMATCH')
    return { resultClass, direction: sign((line?.feeMinor ?? 0n) - (txn?.feeMinor ?? 0n)), deltaMinor: 0n };
  const deltaMinor = channelSigned - platformSigned;
  return { resultClass, direction: sign(deltaMinor), deltaMinor };
}
