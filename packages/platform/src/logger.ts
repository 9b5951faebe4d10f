/**
 * The one logger of a paycore process: pino JSON lines that always carry
 * `trace_id`, `span_id` (from the active OpenTelemetry span) and `biz_code`
 * (from the current context), so that an SRE can go from a log line to the
 * trace and to every other line of the same payment flow.
 *
 * Secrets never reach a log: credential-like keys are redacted wherever they
 * appear (two levels deep), and primary account numbers (card numbers that
 * pass the Luhn check) are masked in every string field of the line.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import { trace, isSpanContextValid } from '@opentelemetry/api';
import { bizLogMixin } from '@paycore/context';

export type { Logger } from 'pino';

const SECRET_KEYS = [
  'password',
  'passwd',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  'authorization',
  'apiKey',
  'api_key',
  'privateKey',
  'private_key',
  'key',
  'sign',
  'signature',
  'cardNo',
  'card_no',
  'cardNumber',
  'cvv',
  'credentials',
];

export const REDACT_PATHS: string[] = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/** Masks card numbers (13-19 digits passing Luhn) but leaves 20-digit context codes and ids alone. */
export function maskCardNumbers(text: string): string {
  return text.replace(/(?<!\d)\d{13,19}(?!\d)/g, (digits) =>
    luhnValid(digits) ? `${digits.slice(0, 6)}${'*'.repeat(digits.length - 10)}${digits.slice(-4)}` : digits,
  );
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function maskStrings(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return maskCardNumbers(value);
  // Errors keep their class (the err serializer runs after this formatter and names it) and get
  // masked copies of their own properties (message and stack are own but not enumerable).
  if (value instanceof Error) {
    const copy = Object.create(Object.getPrototypeOf(value) as object) as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(value)) {
      copy[key] = maskStrings((value as unknown as Record<string, unknown>)[key], depth - 1);
    }
    return copy;
  }
  if (depth <= 0 || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = maskStrings(v, depth - 1);
  return out;
}

export interface LoggerOptions {
  readonly service: string;
  readonly level?: string;
  /** Where lines go; stdout when absent. Tests pass a stream to read lines back. */
  readonly destination?: DestinationStream;
}

export function traceMixin(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      mixin: () => ({ ...traceMixin(), ...bizLogMixin() }),
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => maskStrings(object, 3) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          // The message string itself may hold a card number too.
          const masked = args.map((a) => (typeof a === 'string' ? maskCardNumbers(a) : a)) as Parameters<
            typeof method
          >;
          method.apply(this, masked);
        },
      },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}
