/**
 * The string both Alipay and WeChat v2 sign: parameters with empty values
 * dropped, keys sorted by ASCII (byte) order, `k=v` joined with `&`, values
 * raw (not URL-encoded). The two channels differ only in which keys they leave
 * out and what they append.
 */

/** Parameters as they travel: names to string values (absent and empty mean the same to the signer). */
export type ChannelParams = Readonly<Record<string, string | undefined>>;

/** Compares by UTF-16 code unit, which for ASCII keys is ASCII order; localeCompare would not be. */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function canonicalContent(params: ChannelParams, excludedKeys: ReadonlySet<string>): string {
  return Object.keys(params)
    .filter((key) => !excludedKeys.has(key))
    .filter((key) => {
      const value = params[key];
      return value !== undefined && value !== '';
    })
    .sort(byCodeUnit)
    .map((key) => `${key}=${params[key] ?? ''}`)
    .join('&');
}

/** Drops absent values so a record can be serialised; keeps empty strings (the signer ignores them anyway). */
export function definedParams(params: ChannelParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) if (value !== undefined) out[key] = value;
  return out;
}
