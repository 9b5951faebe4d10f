/**
 * The inbox consumer's transaction seen as an SqlTx. The platform's inbox
 * hands its handler a TypeORM manager (the inbox row and the handler's
 * writes commit together); clearing runs there. Only SQL and the outbox are
 * offered: an event is deduplicated by the inbox, so claiming a request id
 * or moving an entity's state inside it is a programming error and refused.
 */
import assert from 'node:assert/strict';
import type { EntityManager } from 'typeorm';
import {
  writeOutbox,
  type Claim,
  type OutboxEvent,
  type SqlTx,
  type TransitionResult,
} from '@paycore/platform';

const toParam = (value: unknown): unknown => (typeof value === 'bigint' ? value.toString() : value);

export function inboxSqlTx(manager: EntityManager): SqlTx {
  return {
    manager,
    async query<R extends object = Record<string, unknown>>(sql: string, params: readonly unknown[] = []) {
      const result: unknown = await manager.query(sql, params.map(toParam));
      // TypeORM answers UPDATE / DELETE with [rows, affected count]; callers want the rows.
      if (
        Array.isArray(result) &&
        result.length === 2 &&
        Array.isArray(result[0]) &&
        typeof result[1] === 'number'
      ) {
        return result[0] as R[];
      }
      return result as R[];
    },
    async publish(event: OutboxEvent): Promise<void> {
      await writeOutbox(manager, event);
    },
    claim<R>(): Promise<Claim<R>> {
      assert.fail('an inbox handler is deduplicated by the inbox; it claims no request id');
    },
    claimAnswered<R>(): Promise<Claim<R>> {
      assert.fail('an inbox handler is deduplicated by the inbox; it claims no request id');
    },
    remember(): Promise<void> {
      assert.fail('an inbox handler remembers no response');
    },
    transition<S extends string>(): Promise<TransitionResult<S>> {
      assert.fail('state changes run in a unit of work, not in the inbox handler');
    },
  };
}
