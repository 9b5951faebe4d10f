/** Field checks shared by the use cases: each refusal is INVALID_ARGUMENT with a declared reason and the field. */
import { CashierError, invalidField } from '../domain/errors';
import { CURRENCY } from '../domain/model';

export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SUBJECT_FORBIDDEN = /[,`\r\n]/;
const AMOUNT_MAX_MINOR = 9_000_000_000_000_000n;

export function requireId(field: string, value: string): void {
  if (!ID_PATTERN.test(value)) throw invalidField(field, 'must be 1 to 64 characters of [A-Za-z0-9_-]');
}

export function requireAmount(
  field: string,
  amountMinor: bigint | undefined,
  currency: string | undefined,
): bigint {
  if (amountMinor === undefined) throw invalidField(field, 'is required');
  if (currency !== CURRENCY) {
    throw new CashierError('UNSUPPORTED_CURRENCY', `${field}: only ${CURRENCY} is accepted`, {
      field: `${field}.currency`,
    });
  }
  if (amountMinor <= 0n || amountMinor > AMOUNT_MAX_MINOR) {
    throw new CashierError('AMOUNT_OUT_OF_RANGE', `${field} must be positive`, {
      field: `${field}.amount_minor`,
    });
  }
  return amountMinor;
}

export function requireSubject(subject: string): void {
  if (subject.length < 1 || subject.length > 128 || SUBJECT_FORBIDDEN.test(subject)) {
    throw invalidField('subject', 'must be 1 to 128 characters without commas, backticks or line breaks');
  }
}

export function orderNotFound(orderId: string): CashierError {
  return new CashierError('ORDER_NOT_FOUND', `order ${orderId.slice(0, 64)} not found`, {
    field: 'order_id',
  });
}
