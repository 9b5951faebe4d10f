/** Small helpers shared by the commands: amounts, dates, ids, views of common messages. */
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from 'commander';
import { formatMoney, moneyOf, type ProtoMoney } from '@paycore/client';

const DATE_PATTERN = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

/** `12.34` (major units, no float) → proto Money in the given currency. */
export function parseAmount(text: string, currency = 'CNY'): ProtoMoney {
  try {
    return moneyOf(text, currency);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

export function parseDate(text: string): string {
  if (!DATE_PATTERN.test(text) || Number.isNaN(Date.parse(`${text}T00:00:00Z`))) {
    throw new InvalidArgumentError(`"${text}" is not a date (YYYY-MM-DD)`);
  }
  return text;
}

export function parseCount(max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1 || value > max)
      throw new InvalidArgumentError(`must be 1..${max}`);
    return value;
  };
}

/** Today's accounting date in Asia/Shanghai (the platform's default calendar). */
export function chinaToday(nowMs: number = Date.now()): string {
  return new Date(nowMs + 8 * 3_600_000).toISOString().slice(0, 10);
}

export function amountText(value: ProtoMoney | undefined): string {
  return value === undefined ? '' : `${formatMoney(value)} ${value.currency}`;
}

/** Minor units on the wire (int64 fields without a Money) as "12.34 CNY"; an empty currency is CNY. */
export function minorText(amountMinor: bigint, currency: string): string {
  const code = currency === '' ? 'CNY' : currency;
  return `${formatMoney({ amountMinor, currency: code })} ${code}`;
}

export function iso(value: Date | undefined): string {
  return value === undefined ? '' : value.toISOString();
}

export const newRequestId = (prefix: string): string => `cli-${prefix}-${randomUUID()}`;
