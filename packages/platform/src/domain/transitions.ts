/**
 * Transition tables: the specification of an entity's life, and the only
 * source of the `from` states that a guarded state change accepts.
 *
 * A table maps each state to the states it may move to. It lives in a
 * service's pure `domain/`; the unit of work (`SqlTx.transition`) reads the
 * allowed `from` states out of it, so no SQL in any adapter names a state
 * list by hand. This module is pure (no I/O, no framework) so that domain
 * code may import it through `@paycore/platform/domain`.
 */
import assert from 'node:assert/strict';

export type TransitionTable<S extends string> = Readonly<Record<S, readonly S[]>>;

/** Every state of a table, in declaration order. */
export function statesOf<S extends string>(table: TransitionTable<S>): S[] {
  return Object.keys(table) as S[];
}

/**
 * The states from which `to` may be reached. A target nobody can reach is a
 * programmer error (a typo, or a change the table does not allow at all).
 */
export function fromStatesOf<S extends string>(table: TransitionTable<S>, to: S): S[] {
  assert.ok(Object.hasOwn(table, to), `state ${to} is not in the transition table`);
  const from = statesOf(table).filter((state) => table[state].includes(to));
  assert.ok(from.length > 0, `no state of the transition table may move to ${to}`);
  return from;
}

export function canTransition<S extends string>(table: TransitionTable<S>, from: S, to: S): boolean {
  return Object.hasOwn(table, from) && table[from].includes(to);
}

/** States with no way out: once there, an entity never changes again. */
export function finalStatesOf<S extends string>(table: TransitionTable<S>): S[] {
  return statesOf(table).filter((state) => table[state].length === 0);
}

/**
 * Checks the table itself: every target is a declared state and no state
 * lists itself (a move to the same state is not a transition). Call it once in
 * the domain's tests.
 */
export function assertWellFormed<S extends string>(table: TransitionTable<S>): void {
  for (const from of statesOf(table)) {
    for (const to of table[from]) {
      assert.ok(Object.hasOwn(table, to), `${from} → ${to}: ${to} is not a declared state`);
      assert.notEqual(from, to, `${from} lists itself as a target`);
    }
    assert.equal(new Set(table[from]).size, table[from].length, `${from} lists a target twice`);
  }
}
