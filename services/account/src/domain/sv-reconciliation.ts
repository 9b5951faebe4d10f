/**
 * Stored-value reconciliation: the pure rules.
 *
 * For a contract, a member or the platform, the difference is
 *
 *   total − consumed − available − held − frozen − expired
 *
 * in quantity and in value, where `total` comes from the purchase movements
 * (what was sold) and the rest from the lots' buckets (what is held now). A
 * sound book has no difference; a non-zero one is classed by configured
 * rules (metric, comparison operator, threshold) into general, large or
 * extreme, the most severe matching class winning, and each class has an
 * action: ALARM (an event and a metric) or BALANCE (an adjusting posting of
 * the value difference against suspense, audited, plus the event).
 */
import assert from 'node:assert/strict';
import type { Portion } from './lots';

export type DifferenceClass = 'NONE' | 'GENERAL' | 'LARGE' | 'EXTREME';
export type ClassedDifference = Exclude<DifferenceClass, 'NONE'>;
export type Comparison = '>=' | '>' | '<' | '<=';
export type DifferenceMetric = 'VALUE' | 'QUANTITY';
export type DifferenceAction = 'ALARM' | 'BALANCE';
export type ReconLevel = 'CONTRACT' | 'MEMBER' | 'PLATFORM';

/** Most severe first: the first matching rule in this order classes a difference. */
export const CLASS_SEVERITY: readonly ClassedDifference[] = ['EXTREME', 'LARGE', 'GENERAL'];
export const CLASS_RULES_MAX = 12;

export interface ClassRule {
  readonly klass: ClassedDifference;
  readonly metric: DifferenceMetric;
  readonly operator: Comparison;
  /** Compared with the difference's magnitude (minor units for VALUE, asset minor units for QUANTITY). */
  readonly threshold: bigint;
  readonly action: DifferenceAction;
}

/** The buckets of one reconciled scope, and what was sold into it. */
export interface ReconFigures {
  readonly total: Portion;
  readonly consumed: Portion;
  readonly available: Portion;
  readonly held: Portion;
  readonly frozen: Portion;
  readonly expired: Portion;
}

export function differenceOf(f: ReconFigures): Portion {
  const parts = [f.consumed, f.available, f.held, f.frozen, f.expired];
  return {
    quantity: parts.reduce((left, p) => left - p.quantity, f.total.quantity),
    valueMinor: parts.reduce((left, p) => left - p.valueMinor, f.total.valueMinor),
  };
}

function magnitude(value: bigint): bigint {
  return value < 0n ? -value : value;
}

function holds(operator: Comparison, left: bigint, right: bigint): boolean {
  switch (operator) {
    case '>=':
      return left >= right;
    case '>':
      return left > right;
    case '<':
      return left < right;
    case '<=':
      return left <= right;
  }
}

/** NONE for no difference; else the most severe class whose rule matches (GENERAL when none does). */
export function classify(
  difference: Portion,
  rules: readonly ClassRule[],
): { klass: DifferenceClass; action: DifferenceAction | null } {
  if (difference.quantity === 0n && difference.valueMinor === 0n) return { klass: 'NONE', action: null };
  for (const klass of CLASS_SEVERITY) {
    for (const rule of rules) {
      if (rule.klass !== klass) continue;
      const measured = magnitude(rule.metric === 'VALUE' ? difference.valueMinor : difference.quantity);
      if (holds(rule.operator, measured, rule.threshold)) return { klass, action: rule.action };
    }
  }
  // A difference no rule names is still a difference: the mildest class, alarmed.
  return { klass: 'GENERAL', action: 'ALARM' };
}

const RULE_PATTERN = /^(GENERAL|LARGE|EXTREME):(VALUE|QUANTITY):(>=|>|<=|<):(\d{1,18}):(ALARM|BALANCE)$/;

/**
 * Parses "CLASS:METRIC:OP:THRESHOLD:ACTION" rules separated by commas, e.g.
 * "GENERAL:VALUE:>:0:ALARM,LARGE:VALUE:>=:10000:ALARM,EXTREME:VALUE:>=:1000000:BALANCE".
 * A malformed list is a configuration error (start-up fails).
 */
export function parseClassRules(text: string): ClassRule[] {
  const rules = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part): ClassRule => {
      const match = RULE_PATTERN.exec(part);
      assert.ok(
        match !== null,
        `stored-value difference rule "${part}" is not CLASS:METRIC:OP:THRESHOLD:ACTION`,
      );
      const [, klass, metric, operator, threshold, action] = match;
      return {
        klass: klass as ClassedDifference,
        metric: metric as DifferenceMetric,
        operator: operator as Comparison,
        threshold: BigInt(threshold ?? '0'),
        action: action as DifferenceAction,
      };
    });
  assert.ok(rules.length >= 1 && rules.length <= CLASS_RULES_MAX, `1 to ${CLASS_RULES_MAX} difference rules`);
  return rules;
}

export const DEFAULT_CLASS_RULES =
  'GENERAL:VALUE:<:10000:ALARM,GENERAL:QUANTITY:>:0:ALARM,LARGE:VALUE:>=:10000:ALARM,EXTREME:VALUE:>=:1000000:ALARM';
