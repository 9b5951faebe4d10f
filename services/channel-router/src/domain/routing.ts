/**
 * Routing (路由): which channel number serves a payment. Every candidate
 * route is judged first (eligible, or the first reason it is not), then a
 * strategy picks among the eligible ones. Pure: the clock, the day's usage,
 * breaker states and the random source are inputs, so every decision can be
 * replayed in a test.
 */
import { computeFee } from '@paycore/money';
import { inMaintenance, type ChannelAction, type ChannelNumberConfig, type RouteConfig } from './model';

export type RoutingStrategy = 'PRIORITY' | 'LOWEST_COST' | 'WEIGHTED';

export type IneligibleReason =
  | 'DISABLED'
  | 'CHANNEL_DISABLED'
  | 'NO_CREDENTIALS'
  | 'ACTION_UNSUPPORTED'
  | 'MAINTENANCE'
  | 'BELOW_MIN_AMOUNT'
  | 'ABOVE_MAX_AMOUNT'
  | 'DAILY_CAP'
  | 'CIRCUIT_OPEN';

export interface Candidate {
  readonly route: RouteConfig;
  readonly eligible: boolean;
  readonly reason: 'ELIGIBLE' | IneligibleReason;
  readonly feeMinor: bigint;
}

export interface RoutingInput {
  readonly routes: readonly RouteConfig[];
  readonly channels: ReadonlyMap<string, ChannelNumberConfig>;
  readonly amount: bigint;
  readonly action: ChannelAction;
  readonly nowMs: number;
  /** Amount already reserved today per `payChannel|channelNo`. */
  readonly usedToday: ReadonlyMap<string, bigint>;
  /** Channel numbers whose circuit breaker refuses traffic now. */
  readonly circuitOpen: ReadonlySet<string>;
}

export function usageKey(payChannel: string, channelNo: string): string {
  return `${payChannel}|${channelNo}`;
}

/** The first reason a route cannot take this payment, or undefined when it can. */
export function ineligibility(route: RouteConfig, input: RoutingInput): IneligibleReason | undefined {
  const channel = input.channels.get(route.channelNo);
  if (route.status !== 'ENABLED') return 'DISABLED';
  if (channel === undefined || channel.status !== 'ENABLED') return 'CHANNEL_DISABLED';
  if (!channel.hasCredentials) return 'NO_CREDENTIALS';
  if (!route.supportedActions.includes(input.action)) return 'ACTION_UNSUPPORTED';
  if (inMaintenance(route, input.nowMs)) return 'MAINTENANCE';
  if (input.amount < route.minAmount) return 'BELOW_MIN_AMOUNT';
  if (input.amount > route.maxAmount) return 'ABOVE_MAX_AMOUNT';
  if (route.dailyCap > 0n) {
    const used = input.usedToday.get(usageKey(route.payChannel, route.channelNo)) ?? 0n;
    if (used + input.amount > route.dailyCap) return 'DAILY_CAP';
  }
  if (input.circuitOpen.has(route.channelNo)) return 'CIRCUIT_OPEN';
  return undefined;
}

export function judge(input: RoutingInput): Candidate[] {
  return input.routes.map((route) => {
    const reason = ineligibility(route, input);
    return {
      route,
      eligible: reason === undefined,
      reason: reason ?? 'ELIGIBLE',
      feeMinor: computeFee(input.amount, route.feeRate, route.roundingMode),
    };
  });
}

function byPriority(a: Candidate, b: Candidate): number {
  if (a.route.priority !== b.route.priority) return a.route.priority - b.route.priority;
  return a.route.channelNo < b.route.channelNo ? -1 : a.route.channelNo > b.route.channelNo ? 1 : 0;
}

function byCost(a: Candidate, b: Candidate): number {
  if (a.feeMinor !== b.feeMinor) return a.feeMinor < b.feeMinor ? -1 : 1;
  return byPriority(a, b);
}

/**
 * Picks one eligible candidate. `random` returns a float in [0, 1) and is
 * used by WEIGHTED only: the eligible routes with weight > 0 are laid end to
 * end and the one under `random() * totalWeight` wins.
 */
export function choose(
  candidates: readonly Candidate[],
  strategy: RoutingStrategy,
  random: () => number,
): Candidate | undefined {
  const eligible = candidates.filter((candidate) => candidate.eligible);
  if (strategy === 'PRIORITY') return [...eligible].sort(byPriority)[0];
  if (strategy === 'LOWEST_COST') return [...eligible].sort(byCost)[0];
  const weighted = [...eligible].filter((candidate) => candidate.route.weight > 0).sort(byPriority);
  const total = weighted.reduce((sum, candidate) => sum + candidate.route.weight, 0);
  if (total === 0) return undefined;
  let point = random() * total;
  for (const candidate of weighted) {
    point -= candidate.route.weight;
    if (point < 0) return candidate;
  }
  // Only reached when random() returned 1 or more, outside its contract; the last one keeps it total.
  return weighted[weighted.length - 1];
}
