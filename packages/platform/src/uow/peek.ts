/**
 * Asking the idempotency claim first when a use case cannot start with its
 * writing transaction.
 *
 * Some use cases must do work before the transaction that remembers their
 * answer: a call to another service (which may not run inside a transaction
 * that can be retried), or many transactions of their own (one per
 * merchant). `peekClaim` runs the claim alone in a transaction that is then
 * rolled back, so that a malformed id, an id reused for another request and
 * a replay are all answered before any of that work or any state check; a
 * fresh claim leaves nothing behind. The writing transaction claims again,
 * as the first statement, and remembers the answer: a rival that claimed the
 * same id in between is then seen there as usual.
 */
import type { IsolationLevel } from '../db/transaction';
import type { Claim, IdempotentRequest } from './unit-of-work';

/** Any service store: a unit of work whose transaction can claim. */
export interface ClaimingStore {
  transaction<T>(
    name: string,
    isolation: IsolationLevel,
    fn: (tx: { claim<R>(request: IdempotentRequest): Promise<Claim<R>> }) => Promise<T>,
  ): Promise<T>;
}

class PeekRollback extends Error {
  constructor(readonly claim: Claim<unknown>) {
    super('peek of an idempotency claim: rolled back on purpose');
  }
}

/**
 * The claim's answer without keeping a fresh claim: 'fresh' (nothing is
 * recorded under the id yet), 'replay' with the first answer, or the claim's
 * refusals (INVALID_ARGUMENT for a malformed id, ALREADY_EXISTS
 * IDEMPOTENCY_KEY_REUSED for another request under the id).
 */
export async function peekClaim<R>(
  store: ClaimingStore,
  name: string,
  request: IdempotentRequest,
): Promise<Claim<R>> {
  try {
    await store.transaction(name, 'READ COMMITTED', async (tx) => {
      throw new PeekRollback(await tx.claim<unknown>(request));
    });
  } catch (error) {
    if (error instanceof PeekRollback) return error.claim as Claim<R>;
    throw error;
  }
  throw new Error('unreachable: the peek transaction always rolls back');
}
