/**
 * Compile-time checks of the client's partial request types, run by
 * `tsc -p tsconfig.json` (`make build`, part of `make test`), not by mocha.
 * Omitting fields is allowed at any depth, but a field that is given keeps
 * its type and an unknown field stays an error. Each `@ts-expect-error`
 * below is the assertion: if the types became loose enough to accept the
 * line, the directive would be unused and tsc would fail the build.
 */
import type { PaycoreClient } from '../src';

export function partialRequestsStayTyped(paycore: PaycoreClient): Array<Promise<unknown>> {
  return [
    // Allowed: every field left out, nested ones too.
    paycore.cashier.pay({ parts: [{ amount: { amountMinor: 100n } }] }),
    // @ts-expect-error a given field keeps its type: amountMinor is a bigint, not a string
    paycore.cashier.pay({ parts: [{ amount: { amountMinor: '100' } }] }),
    // @ts-expect-error an unknown field is refused (orderIdd is a typo of orderId)
    paycore.cashier.pay({ orderIdd: 'o-1' }),
  ];
}
