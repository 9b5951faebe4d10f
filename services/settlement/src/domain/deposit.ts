/**
 * The end-of-day deposit move of a channel day reconciliation confirmed
 * (ADR 0046). Pure.
 *
 * The channel settles the day's net (pay − refunds − its fees) into the
 * reserve fund's account at a bank; paycore booked the gross on the
 * channel's pending clearing when each payment completed. So, once the day
 * is confirmed, one posting moves it:
 *
 *   Dr reserve-fund deposit of the bank (1002xx)    net
 *   Dr channel fee cost of that channel (660301)    fee
 *   Cr the channel's pending clearing (300101xx)    net + fee
 *
 * With a transit account configured for the bank (3001 02xx), the net goes
 * to transit first and a second posting moves it on to the deposit, so the
 * journal shows the money on its way. A negative day (refunds above sales)
 * flips the sides. The states say which postings were made:
 *
 *   CONFIRMED ──direct──▶ DEPOSITED
 *       └──transit──▶ IN_TRANSIT ──bank──▶ DEPOSITED
 *   UNMAPPED: a channel with no pending-clearing subject; nothing is posted.
 */
import assert from 'node:assert/strict';
import type { TransitionTable } from '@paycore/platform/domain';
import { assertBalanced, leg, type AccountName, type PostingLeg } from './batch';

export type DepositStateName = 'CONFIRMED' | 'IN_TRANSIT' | 'DEPOSITED' | 'UNMAPPED';

export const DEPOSIT_TRANSITIONS: TransitionTable<DepositStateName> = {
  CONFIRMED: ['IN_TRANSIT', 'DEPOSITED'],
  IN_TRANSIT: ['DEPOSITED'],
  DEPOSITED: [],
  UNMAPPED: [],
};

/** Where a channel's confirmed net goes: the bank's reserve-fund deposit subject, through its transit subject or not. */
export interface DepositRoute {
  readonly depositSubject: string;
  readonly transitSubject: string | null;
}

export interface DepositDay {
  readonly channelNo: string;
  readonly billDate: string;
  readonly netSettlementMinor: bigint;
  readonly channelFeeMinor: bigint;
  readonly state: DepositStateName;
  readonly depositSubject: string | null;
  readonly transitSubject: string | null;
}

/** One posting of the move and the state it leads to; the request id makes it happen once. */
export interface DepositStep {
  readonly requestId: string;
  readonly legs: PostingLeg[];
  readonly to: 'IN_TRANSIT' | 'DEPOSITED';
}

const SUBJECT_PATTERN = /^\d{6}(\d{2})?$/;
const CHANNEL_PATTERN = /^\d{6}$/;
const ROUTES_MAX = 100;

/**
 * Parses `SETTLEMENT_DEPOSIT_ROUTES`: comma-separated `<channel no>=<deposit
 * subject>[/<transit subject>]`, e.g. `100001=100201,200001=100201/30010201`.
 * A channel not listed goes straight to the default deposit subject.
 */
export function parseDepositRoutes(text: string): Map<string, DepositRoute> {
  const routes = new Map<string, DepositRoute>();
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length > ROUTES_MAX) throw new Error(`at most ${ROUTES_MAX} deposit routes`);
  for (const entry of entries) {
    const [channelNo = '', target = ''] = entry.split('=');
    const [depositSubject = '', transitSubject, extra] = target.split('/');
    if (!CHANNEL_PATTERN.test(channelNo)) throw new Error(`deposit route "${entry}": channel is 6 digits`);
    if (!SUBJECT_PATTERN.test(depositSubject))
      throw new Error(`deposit route "${entry}": deposit subject is 6 or 8 digits`);
    if (extra !== undefined || (transitSubject !== undefined && !SUBJECT_PATTERN.test(transitSubject)))
      throw new Error(`deposit route "${entry}": transit subject is 6 or 8 digits`);
    if (routes.has(channelNo)) throw new Error(`deposit route for ${channelNo} given twice`);
    routes.set(channelNo, { depositSubject, transitSubject: transitSubject ?? null });
  }
  return routes;
}

/**
 * The next posting of a confirmed day, or null when nothing is left to post.
 * Request ids derive from (channel no, bill date), so a repeated step is a
 * replay at account and the move is made once per channel day.
 */
export function nextDepositStep(day: DepositDay): DepositStep | null {
  const key = `${day.channelNo}:${day.billDate}`;
  if (day.state === 'DEPOSITED' || day.state === 'UNMAPPED') return null;
  assert.ok(day.depositSubject !== null, `a confirmed day ${key} has its deposit subject`);
  const deposit: AccountName = { kind: 'DEPOSIT', subject: day.depositSubject };
  const net = day.netSettlementMinor;
  if (day.state === 'IN_TRANSIT') {
    assert.ok(day.transitSubject !== null, `a day in transit ${key} has its transit subject`);
    const transit: AccountName = { kind: 'TRANSIT', subject: day.transitSubject };
    return {
      requestId: `settle-deposit-bank:${key}`,
      legs: balanced([leg(deposit, -net), leg(transit, net)]),
      to: 'DEPOSITED',
    };
  }
  const target: AccountName =
    day.transitSubject === null ? deposit : { kind: 'TRANSIT', subject: day.transitSubject };
  const legs = balanced([
    leg(target, -net),
    leg({ kind: 'CHANNEL_FEE_COST', channelNo: day.channelNo }, -day.channelFeeMinor),
    leg({ kind: 'CHANNEL_CLEARING', channelNo: day.channelNo }, net + day.channelFeeMinor),
  ]);
  return {
    requestId: `settle-deposit:${key}`,
    legs,
    to: day.transitSubject === null ? 'DEPOSITED' : 'IN_TRANSIT',
  };
}

function balanced(legs: readonly (PostingLeg | undefined)[]): PostingLeg[] {
  const present = legs.filter((l): l is PostingLeg => l !== undefined);
  assertBalanced(present);
  return present;
}
