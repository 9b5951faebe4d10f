/**
 * Channel amounts on the wire: Alipay and the bills write yuan with two
 * decimals ("12.34"), WeChat's `total_fee` is integer fen ("1234"). Internally
 * money is bigint fen; the conversion is string and bigint arithmetic only, so
 * no amount ever passes through a float.
 */
import { ProtocolError, ProtocolErrorReason } from './errors';

/** Wire amounts never exceed int64 fen; a longer string is refused before BigInt sees it. */
const AMOUNT_DIGITS_MAX = 18;
const YUAN_PATTERN = /^(-?)(0|[1-9]\d*)(?:\.(\d{1,2}))?$/;
const FEN_PATTERN = /^(0|[1-9]\d*)$/;

/** "12.34" → 1234n; "12.3" → 1230n; "-0.60" → -60n. Three decimals, spaces, "+", "1e3" are refused. */
export function yuanToFen(text: string): bigint {
  const match = YUAN_PATTERN.exec(text);
  if (!match || text.length > AMOUNT_DIGITS_MAX + 4) {
    throw new ProtocolError(
      ProtocolErrorReason.INVALID_AMOUNT,
      `not a yuan amount with at most 2 decimals: "${text}"`,
    );
  }
  // One BigInt of the digits: "12.3" → "1230" (a bill converts millions of these).
  const fen = BigInt(`${match[2] ?? '0'}${(match[3] ?? '').padEnd(2, '0')}`);
  return match[1] === '-' ? -fen : fen;
}

/** 1234n → "12.34"; -60n → "-0.60"; always two decimals, as every channel writes them. */
export function fenToYuan(fen: bigint): string {
  const negative = fen < 0n;
  const magnitude = negative ? -fen : fen;
  const whole = magnitude / 100n;
  const fraction = (magnitude % 100n).toString().padStart(2, '0');
  return `${negative ? '-' : ''}${whole}.${fraction}`;
}

/** WeChat's integer-fen fields (`total_fee`, `refund_fee`): non-negative, no leading zeros, no sign. */
export function parseFen(text: string): bigint {
  if (!FEN_PATTERN.test(text) || text.length > AMOUNT_DIGITS_MAX) {
    throw new ProtocolError(ProtocolErrorReason.INVALID_AMOUNT, `not an integer fen amount: "${text}"`);
  }
  return BigInt(text);
}
