/**
 * The one logger of a paycore process: pino JSON lines that always carry
 * `trace_id`, `span_id` (from the active OpenTelemetry span) and `biz_code`
 * (from the current context), so that an SRE can go from a log line to the
 * trace and to every other line of the same payment flow.
 *
 * Secrets never reach a log: credential-like keys are redacted wherever they
 * appear (two levels deep), and primary account numbers (card numbers that
 * pass the Luhn check) are masked in every string field of the line.
 *
 * Both happen in one walk of the line's fields (the `log` and `bindings`
 * formatters) rather than through pino's path redaction: with 57 wildcard
 * paths that was the largest single cost of an RPC's log line (docs/adr/0061).
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

/** The fields redacted, as paths: each secret key at the top level, one and two levels deep. */
export const REDACT_PATHS: string[] = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

const SECRET_KEY_SET: ReadonlySet<string> = new Set(SECRET_KEYS);
const CENSOR = '[REDACTED]';
/** Levels walked below the line itself: keys at levels 0, 1 and 2 are redacted (REDACT_PATHS). */
const WALK_DEPTH = 3;
/** Shortest run of digits that can be a card number; shorter strings skip the regular expression. */
const CARD_DIGITS_MIN = 13;

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

function maskString(text: string): string {
  return text.length < CARD_DIGITS_MIN ? text : maskCardNumbers(text);
}

/**
 * A copy of `value` with secret keys censored and card numbers masked, `depth`
 * levels down; the caller's object is never changed. Errors keep their class
 * (the err serializer runs after this formatter and names it) and get masked
 * copies of their own properties (message and stack are own but not enumerable).
 */
function maskStrings(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return maskString(value);
  if (value instanceof Error) {
    const copy = Object.create(Object.getPrototypeOf(value) as object) as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(value)) {
      copy[key] = maskField(key, (value as unknown as Record<string, unknown>)[key], depth);
    }
    return copy;
  }
  if (depth <= 0 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item: unknown) => maskStrings(item, depth - 1));
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (Object.prototype.hasOwnProperty.call(value, key)) {
      out[key] = maskField(key, (value as Record<string, unknown>)[key], depth);
    }
  }
  return out;
}

/** One field of an object walked at `depth`: censored when its key is a secret, else masked further down. */
function maskField(key: string, value: unknown, depth: number): unknown {
  if (SECRET_KEY_SET.has(key) && value !== undefined) return CENSOR;
  return maskStrings(value, depth - 1);
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
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: () => ({ ...traceMixin(), ...bizLogMixin() }),
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => maskStrings(object, WALK_DEPTH) as Record<string, unknown>,
        bindings: (bindings) => maskStrings(bindings, WALK_DEPTH) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          // The message string itself may hold a card number too.
          const masked = args.map((a) => (typeof a === 'string' ? maskString(a) : a)) as Parameters<
            typeof method
          >;
          method.apply(this, masked);
        },
      },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
  // pino applies the bindings formatter to the root's bindings only; a child's (and a
  // grandchild's: they inherit this property) are censored here before pino stores them.
  const pinoChild = Object.getPrototypeOf(logger) as Pick<Logger, 'child'>;
  logger.child = function child(this: Logger, bindings, childOptions) {
    return pinoChild.child.call(this, maskStrings(bindings, WALK_DEPTH) as typeof bindings, childOptions);
  } as typeof logger.child;
  return logger;
}
