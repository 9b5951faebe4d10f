/**
 * Names of streams and subjects, built in one place so services and tests
 * agree (DESIGN.md §7): subjects `paycore.<context>.<event>.v<N>`, one stream
 * per context named `PAYCORE_<CONTEXT>`.
 *
 * A run prefix isolates parallel test runs on one NATS server: prefix `T1A2B`
 * gives stream `T1A2B_PAYCORE_ACCOUNT` and subject
 * `t1a2b.paycore.account.transfer_posted.v1`. Production uses no prefix.
 */

const PREFIX_PATTERN = /^[A-Za-z0-9]{0,32}$/;
const CONTEXT_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
const EVENT_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

export class InvalidEventNameError extends Error {
  override readonly name = 'InvalidEventNameError';
}

function check(pattern: RegExp, value: string, what: string): string {
  if (!pattern.test(value))
    throw new InvalidEventNameError(`${what} ${JSON.stringify(value)} must match ${pattern.source}`);
  return value;
}

/** Stream of a bounded context, e.g. streamName('T1A2B', 'channel-router') = 'T1A2B_PAYCORE_CHANNEL_ROUTER'. */
export function streamName(prefix: string, context: string): string {
  check(PREFIX_PATTERN, prefix, 'prefix');
  const base = `PAYCORE_${check(CONTEXT_PATTERN, context, 'context').toUpperCase().replace(/-/g, '_')}`;
  return prefix === '' ? base : `${prefix.toUpperCase()}_${base}`;
}

function subjectPrefix(prefix: string): string {
  check(PREFIX_PATTERN, prefix, 'prefix');
  return prefix === '' ? '' : `${prefix.toLowerCase()}.`;
}

/** Subject of one event type, e.g. subjectFor('', 'account', 'transfer_posted') = 'paycore.account.transfer_posted.v1'. */
export function subjectFor(prefix: string, context: string, event: string, version = 1): string {
  if (!Number.isInteger(version) || version < 1)
    throw new InvalidEventNameError(`version must be a positive integer, got ${version}`);
  check(CONTEXT_PATTERN, context, 'context');
  check(EVENT_PATTERN, event, 'event');
  return `${subjectPrefix(prefix)}paycore.${context}.${event}.v${version}`;
}

/** The wildcard covering every event of a context: the subjects of its stream. */
export function contextSubjects(prefix: string, context: string): string {
  return `${subjectPrefix(prefix)}paycore.${check(CONTEXT_PATTERN, context, 'context')}.>`;
}

/** The three helpers bound to one prefix; services hold one, built from configuration. */
export class EventNaming {
  constructor(readonly prefix = '') {
    check(PREFIX_PATTERN, prefix, 'prefix');
  }

  stream(context: string): string {
    return streamName(this.prefix, context);
  }

  subject(context: string, event: string, version = 1): string {
    return subjectFor(this.prefix, context, event, version);
  }

  contextSubjects(context: string): string {
    return contextSubjects(this.prefix, context);
  }

  /** Durable consumer names must be unique per stream and may not contain dots. */
  durable(service: string, purpose: string): string {
    const name = `${service}_${purpose}`.replace(/[^A-Za-z0-9_-]/g, '_');
    return this.prefix === '' ? name : `${this.prefix}_${name}`;
  }
}

/** NATS subject matching: `*` matches one token, a trailing `>` matches one or more. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const patternTokens = pattern.split('.');
  const subjectTokens = subject.split('.');
  for (let i = 0; i < patternTokens.length; i++) {
    const token = patternTokens[i];
    if (token === '>') return i === patternTokens.length - 1 && subjectTokens.length > i;
    if (i >= subjectTokens.length) return false;
    if (token !== '*' && token !== subjectTokens[i]) return false;
  }
  return patternTokens.length === subjectTokens.length;
}

/**
 * A matcher for any of `patterns`: literal subjects by one set lookup, only
 * wildcard patterns token by token (a consumer filters every delivery).
 */
export function subjectFilter(patterns: readonly string[]): (subject: string) => boolean {
  const wildcard = (p: string): boolean => p.split('.').some((t) => t === '*' || t === '>');
  const literals = new Set(patterns.filter((p) => !wildcard(p)));
  const wildcards = patterns.filter(wildcard);
  return (subject) => literals.has(subject) || wildcards.some((p) => subjectMatches(p, subject));
}
