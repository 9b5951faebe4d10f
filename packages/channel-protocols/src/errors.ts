/**
 * The one error type of @paycore/channel-protocols.
 *
 * Signature checks are expected outcomes and return booleans; what throws here
 * is input that cannot be read at all (malformed XML, a zip that is not one, an
 * amount with three decimals). Each failure has a stable reason so a caller
 * (channel-router, the sandbox, reconciliation) can map it to its own answer.
 */

export const ProtocolErrorReason = {
  /** An amount string is malformed, has more than two decimals, or is out of range. */
  INVALID_AMOUNT: 'INVALID_AMOUNT',
  /** XML is malformed, nested, too large, or uses DOCTYPE / entities / comments. */
  INVALID_XML: 'INVALID_XML',
  /** A form-encoded body is malformed or repeats a key. */
  INVALID_FORM: 'INVALID_FORM',
  /** A JSON envelope or response is malformed or misses a field. */
  INVALID_ENVELOPE: 'INVALID_ENVELOPE',
  /** A zip archive is malformed, too large, or uses an unsupported feature. */
  INVALID_ZIP: 'INVALID_ZIP',
  /** A bill file does not follow its channel's layout, or a value cannot be written into it. */
  INVALID_BILL: 'INVALID_BILL',
  /** A key or parameter name cannot be signed or serialised. */
  INVALID_PARAMETER: 'INVALID_PARAMETER',
} as const;

export type ProtocolErrorReason = (typeof ProtocolErrorReason)[keyof typeof ProtocolErrorReason];

export class ProtocolError extends Error {
  readonly reason: ProtocolErrorReason;

  constructor(reason: ProtocolErrorReason, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.reason = reason;
  }
}
