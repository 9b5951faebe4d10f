/**
 * The business context code (DESIGN.md §3) sent with a call, in gRPC metadata
 * `x-biz-context`. The client checks only the shape (20 ASCII digits); whether
 * a code exists is the server's catalogue's decision (UNKNOWN_BIZ_CODE).
 */
export const BIZ_CONTEXT_METADATA_KEY = 'x-biz-context';
const BIZ_CODE_PATTERN = /^[0-9]{20}$/;

export function isBizCodeShape(value: string): boolean {
  return BIZ_CODE_PATTERN.test(value);
}

/** Throws on a malformed code: sending one is the caller's bug, caught before it leaves. */
export function assertBizCode(value: string): string {
  if (!isBizCodeShape(value)) throw new TypeError(`context code must be 20 digits, got "${value}"`);
  return value;
}
