/**
 * Every reason the cashier can return is declared, documented, in a proto:
 * each key of the cashier's REASON_CODES, and the reasons its platform and
 * context-code checks raise (INVALID_BIZ_CODE for a malformed code), must be a
 * value of paycore.common.v1.ErrorReason or of CashierErrorReason in
 * proto/paycore/cashier/v1, each with a comment above it. CASHIER_PROTO_DIR
 * points the check at another tree's proto/ (e.g. main's, to see it fail).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { REASON_CODES } from '../src/domain/errors';

const PROTO = process.env.CASHIER_PROTO_DIR ?? join(__dirname, '..', '..', '..', 'proto');
/** Raised on the cashier's RPCs by the platform and @paycore/context, not by REASON_CODES. */
const PASSED_THROUGH = [
  'INVALID_BIZ_CODE',
  'UNKNOWN_BIZ_CODE',
  'INVALID_FIELD',
  'IDEMPOTENCY_KEY_REUSED',
  'INTERNAL',
];

function declared(file: string, prefix: string): Map<string, boolean> {
  const lines = readFileSync(join(PROTO, file), 'utf8').split('\n');
  const out = new Map<string, boolean>();
  lines.forEach((line, i) => {
    const m = new RegExp(`^\\s*${prefix}([A-Z_]+)\\s*=`).exec(line);
    if (m?.[1]) out.set(m[1], /^\s*\/\//.test(lines[i - 1] ?? ''));
  });
  return out;
}

describe('cashier error reasons', () => {
  it('every reason the cashier returns is declared and documented in a proto', () => {
    const all = new Map([
      ...declared('paycore/common/v1/error_reason.proto', 'ERROR_REASON_'),
      ...declared('paycore/cashier/v1/cashier_service.proto', 'CASHIER_ERROR_REASON_'),
    ]);
    const undeclared = [...Object.keys(REASON_CODES), ...PASSED_THROUGH].filter((r) => all.get(r) !== true);
    expect(undeclared).to.deep.equal([]);
  });
});
