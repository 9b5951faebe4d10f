/**
 * Which merchant notify_url the cashier will call (pure). http(s) only; a
 * host that is an IP literal on loopback, link-local, private or other
 * non-public ranges (or `localhost`) is refused unless configuration allows
 * it (local development and tests run their webhook on 127.0.0.1). The
 * notifier checks the resolved address again before it connects.
 */
import { CashierError, invalidField } from './errors';

const URL_MAX = 2000;

function ipv4Private(host: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    a >= 224
  );
}

function ipv6Private(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (!h.includes(':')) return false;
  if (h === '::1' || h === '::') return true;
  if (/^fe[89ab]/.test(h) || /^f[cd]/.test(h) || /^ff/.test(h)) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped ? ipv4Private(mapped[1] ?? '') : false;
}

/** True when an address (IP literal or host name) is not a public internet address. */
export function isNonPublicHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || ipv4Private(h) || ipv6Private(h);
}

/** Undefined when the URL may be used ('' = no notification). */
export function checkNotifyUrl(url: string, allowNonPublic: boolean): CashierError | undefined {
  if (url === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return invalidField('notify_url', 'must be an http(s) URL or empty');
  }
  if (
    (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ||
    url.length > URL_MAX ||
    /\s/.test(url)
  ) {
    return invalidField('notify_url', 'must be an http(s) URL or empty');
  }
  if (!allowNonPublic && isNonPublicHost(parsed.hostname)) {
    return new CashierError(
      'NOTIFY_URL_NOT_ALLOWED',
      `notify_url host ${parsed.hostname} is not a public address`,
      { field: 'notify_url' },
    );
  }
  return undefined;
}
