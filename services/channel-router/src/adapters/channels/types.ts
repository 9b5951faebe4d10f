/**
 * The channel adapter port, as adapters see it. The port itself is declared
 * by the application (application/ports.ts); an adapter never throws for a
 * channel outcome, it returns one. `healthy` feeds the circuit breaker:
 * false when the channel did not answer usefully (network error, timeout,
 * system error, unverifiable answer), true for any real answer, including a
 * business refusal.
 */
import type { ChannelOutcome } from '../../application/ports';

export type {
  AdapterSettings,
  BillFile,
  ChannelAdapter,
  ChannelOutcome,
  Payee,
  PaymentRef,
} from '../../application/ports';
export { ActionUnsupportedError as UnsupportedOperationError } from '../../domain/errors';

export const NO_ANSWER: ChannelOutcome = { state: 'UNKNOWN', healthy: false, failureCode: 'NO_ANSWER' };
