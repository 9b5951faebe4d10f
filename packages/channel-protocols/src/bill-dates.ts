/**
 * Date text in bills. Callers pass China-local wall-clock strings
 * (`YYYY-MM-DD`, `YYYY-MM-DD HH:mm:ss`); the codecs only reshape them, so they
 * stay pure and time-zone free.
 */
import { ProtocolError, ProtocolErrorReason } from './errors';

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME_PATTERN = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const CHINESE_DATE_TIME_PATTERN = /^(\d{4})年(\d{2})月(\d{2})日 (\d{2}):(\d{2}):(\d{2})$/;

export interface DateTimeParts {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

function fail(message: string): never {
  throw new ProtocolError(ProtocolErrorReason.INVALID_BILL, message);
}

export function assertDate(text: string): string {
  const match = DATE_PATTERN.exec(text);
  if (!match) fail(`not a YYYY-MM-DD date: "${text}"`);
  const parsed = new Date(`${text}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== text)
    fail(`no such date: "${text}"`);
  return text;
}

export function dateTimeParts(text: string): DateTimeParts {
  const match = DATE_TIME_PATTERN.exec(text);
  if (!match) fail(`not a YYYY-MM-DD HH:mm:ss time: "${text}"`);
  assertDate(text.slice(0, 10));
  const [, year, month, day, hour, minute, second] = match.map(Number) as [number, ...number[]];
  return {
    year: year ?? 0,
    month: month ?? 0,
    day: day ?? 0,
    hour: hour ?? 0,
    minute: minute ?? 0,
    second: second ?? 0,
  };
}

/** "2024-01-02" → "2024-01-03". */
export function nextDate(date: string): string {
  const parsed = new Date(`${assertDate(date)}T00:00:00Z`);
  return new Date(parsed.getTime() + 86_400_000).toISOString().slice(0, 10);
}

/** "2024-01-02 03:04:05" → "2024年01月02日 03:04:05". */
export function toChineseDateTime(text: string): string {
  dateTimeParts(text);
  return `${text.slice(0, 4)}年${text.slice(5, 7)}月${text.slice(8, 10)}日 ${text.slice(11)}`;
}

/** "2024年01月02日 03:04:05" → "2024-01-02 03:04:05". */
export function fromChineseDateTime(text: string): string {
  const match = CHINESE_DATE_TIME_PATTERN.exec(text);
  if (!match) fail(`not a Chinese date-time: "${text}"`);
  return `${match[1]}-${match[2]}-${match[3]} ${match[4]}:${match[5]}:${match[6]}`;
}
