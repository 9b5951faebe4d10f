/**
 * Proves the two-phase state machine: which decision each (state, request)
 * pair gets, including hanging protection (a try after an empty cancel is
 * refused), at-most-once resolution, expiry, and the partial-confirm rules.
 */
import { expect } from 'chai';
import {
  confirmedLegs,
  decideCancel,
  decideConfirm,
  decideTry,
  isExpired,
  type PendingRecord,
  type PendingState,
} from './pending';
import type { Leg } from './types';

const legs: Leg[] = [
  { accountId: 'a', side: 'DEBIT', amountMinor: 100n, currency: 'CNY' },
  { accountId: 'b', side: 'CREDIT', amountMinor: 100n, currency: 'CNY' },
];
const now = new Date('2025-01-01T00:00:00Z');

function record(state: PendingState, extra: Partial<PendingRecord> = {}): PendingRecord {
  return {
    pendingId: 'p1',
    state,
    legs,
    tryHash: 'h',
    confirmHash: null,
    expiresAt: new Date(now.getTime() + 1000),
    ...extra,
  };
}

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { reason?: string }).reason ?? 'NO_REASON';
  }
  return 'NO_ERROR';
}

describe('two-phase state machine', () => {
  it('try: creates, replays the same legs, refuses other legs and a try after an empty cancel', () => {
    expect(decideTry(undefined, 'h').kind).to.equal('create');
    expect(decideTry(record('TRIED'), 'h').kind).to.equal('replay');
    expect(decideTry(record('CONFIRMED'), 'h').kind).to.equal('replay');
    expect(reasonOf(() => decideTry(record('TRIED'), 'other'))).to.equal('PENDING_ID_IN_USE');
    expect(reasonOf(() => decideTry(record('CANCELLED_EMPTY'), 'h'))).to.equal('TRY_AFTER_CANCEL');
  });

  it('confirm: once; a repeat with the same amounts replays; anything else is refused', () => {
    expect(decideConfirm(record('TRIED'), 'c', now).kind).to.equal('confirm');
    expect(decideConfirm(record('CONFIRMED', { confirmHash: 'c' }), 'c', now).kind).to.equal('replay');
    expect(reasonOf(() => decideConfirm(record('CONFIRMED', { confirmHash: 'c' }), 'other', now))).to.equal(
      'TRANSFER_ALREADY_RESOLVED',
    );
    for (const state of ['CANCELLED', 'CANCELLED_EMPTY', 'EXPIRED'] as const) {
      expect(reasonOf(() => decideConfirm(record(state), 'c', now))).to.equal('TRANSFER_ALREADY_RESOLVED');
    }
    expect(reasonOf(() => decideConfirm(undefined, 'c', now))).to.equal('PENDING_TRANSFER_NOT_FOUND');
    const late = new Date(now.getTime() + 1000);
    expect(reasonOf(() => decideConfirm(record('TRIED'), 'c', late))).to.equal('TRANSFER_ALREADY_RESOLVED');
  });

  it('cancel: releases a try, remembers an empty rollback, repeats quietly, never undoes a confirm', () => {
    expect(decideCancel(record('TRIED')).kind).to.equal('cancel');
    expect(decideCancel(undefined).kind).to.equal('cancel_empty');
    for (const state of ['CANCELLED', 'CANCELLED_EMPTY', 'EXPIRED'] as const) {
      expect(decideCancel(record(state)).kind).to.equal('replay');
    }
    expect(reasonOf(() => decideCancel(record('CONFIRMED')))).to.equal('TRANSFER_ALREADY_RESOLVED');
  });

  it('expiry applies to TRIED records whose timeout has passed', () => {
    expect(isExpired(record('TRIED'), now)).to.equal(false);
    expect(isExpired(record('TRIED'), new Date(now.getTime() + 1000))).to.equal(true);
    expect(isExpired(record('CONFIRMED'), new Date(now.getTime() + 5000))).to.equal(false);
  });

  it('partial confirm: same accounts and sides, smaller balanced amounts', () => {
    expect(confirmedLegs(legs, [])).to.equal(legs);
    const smaller = legs.map((l) => ({ ...l, amountMinor: 60n }));
    expect(confirmedLegs(legs, smaller)).to.deep.equal(smaller);
    const larger = legs.map((l) => ({ ...l, amountMinor: 101n }));
    expect(reasonOf(() => confirmedLegs(legs, larger))).to.equal('CONFIRM_EXCEEDS_TRY');
    const swapped = [legs[1], legs[0]] as Leg[];
    expect(reasonOf(() => confirmedLegs(legs, swapped))).to.equal('CONFIRM_EXCEEDS_TRY');
    const unbalanced = [
      { ...legs[0], amountMinor: 60n },
      { ...legs[1], amountMinor: 50n },
    ] as Leg[];
    expect(reasonOf(() => confirmedLegs(legs, unbalanced))).to.equal('UNBALANCED_TRANSFER');
  });
});
