/**
 * The channel day (渠道日): the day a channel's bill (对账单) and the daily caps
 * of its routes count by. Each channel number (渠道号) may declare its own
 * zone and cut-over (a provider whose bill closes at 23:00, one abroad); a
 * channel that declares none uses China's natural day, Asia/Shanghai from
 * midnight, which is what Alipay and WeChat Pay bills use.
 */
import assert from 'node:assert/strict';
import type { IsoDate } from './dates';
import { CHINA_NATURAL_DAY, dayOf, validateDayRule, type DayRule, type Instant } from './day-rule';

const CHANNEL_NO_PATTERN = /^\d{6}$/;
/** Bound on the rules table: channel numbers are six digits, providers are few. */
export const CHANNEL_DAY_RULES_MAX = 10_000;

export class ChannelDays {
  private readonly rules: ReadonlyMap<string, DayRule>;

  /** `rules`: channel number (6 digits) → day rule; each is validated. */
  constructor(
    rules: Readonly<Record<string, DayRule>> = {},
    readonly defaultRule: DayRule = CHINA_NATURAL_DAY,
  ) {
    const entries = Object.entries(rules);
    assert.ok(entries.length <= CHANNEL_DAY_RULES_MAX, `at most ${CHANNEL_DAY_RULES_MAX} channel day rules`);
    validateDayRule(defaultRule);
    for (const [channelNo, rule] of entries) {
      assert.match(channelNo, CHANNEL_NO_PATTERN, `channel number ${channelNo} is not 6 digits`);
      validateDayRule(rule);
    }
    this.rules = new Map(entries);
  }

  /** The day rule of a channel number: its own, or the default. */
  ruleFor(channelNo: string): DayRule {
    return this.rules.get(channelNo) ?? this.defaultRule;
  }

  /** The channel day of an instant: the bill date and daily-cap day it counts in. */
  dayOf(channelNo: string, instant: Instant): IsoDate {
    return dayOf(instant, this.ruleFor(channelNo));
  }
}

/** China's natural day of an instant: what cashier's risk counters and uncapped code roll over by. */
export function chinaDayOf(instant: Instant): IsoDate {
  return dayOf(instant, CHINA_NATURAL_DAY);
}
