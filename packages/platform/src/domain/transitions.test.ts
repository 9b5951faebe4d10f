/**
 * Transition tables: from-states are read out of the table, final states are
 * the ones without exits, and malformed tables (unknown targets, self-loops,
 * duplicates) are caught.
 */
import { expect } from 'chai';
import {
  assertWellFormed,
  canTransition,
  finalStatesOf,
  fromStatesOf,
  type TransitionTable,
} from './transitions';

type S = 'NEW' | 'PAID' | 'REFUNDED' | 'CLOSED';
const TABLE: TransitionTable<S> = { NEW: ['PAID', 'CLOSED'], PAID: ['REFUNDED'], REFUNDED: [], CLOSED: [] };

describe('transition tables', () => {
  it('reads the allowed from-states of a target out of the table', () => {
    expect(fromStatesOf(TABLE, 'PAID')).to.deep.equal(['NEW']);
    expect(fromStatesOf(TABLE, 'REFUNDED')).to.deep.equal(['PAID']);
    expect(() => fromStatesOf(TABLE, 'NEW')).to.throw(/no state .* may move to NEW/);
  });

  it('answers single moves and lists the final states', () => {
    expect(canTransition(TABLE, 'NEW', 'PAID')).to.equal(true);
    expect(canTransition(TABLE, 'PAID', 'NEW')).to.equal(false);
    expect(finalStatesOf(TABLE)).to.deep.equal(['REFUNDED', 'CLOSED']);
  });

  it('catches malformed tables', () => {
    assertWellFormed(TABLE);
    expect(() => assertWellFormed({ A: ['B'] } as unknown as TransitionTable<'A'>)).to.throw(
      /not a declared state/,
    );
    expect(() => assertWellFormed({ A: ['A'] })).to.throw(/lists itself/);
    expect(() => assertWellFormed<'A' | 'B'>({ A: ['B', 'B'], B: [] })).to.throw(/twice/);
  });
});
