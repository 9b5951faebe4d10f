/**
 * The registry model of channel-router (DESIGN.md §1, §3): channel numbers
 * (渠道号, one provider each) and routes, the many-to-many mapping of pay
 * channels (通道码) to channel numbers with their commercial terms. Pure
 * data; amounts are bigint minor units, times are epoch milliseconds.
 */
import type { RoundingMode } from '@paycore/money';

export type ChannelProtocol = 'ALIPAY' | 'WECHAT' | 'BANK';
export type ChannelStatus = 'ENABLED' | 'DISABLED';
export type ChannelAction = 'PAY' | 'REFUND' | 'QUERY' | 'CLOSE' | 'PAYOUT' | 'BILL';
export const CHANNEL_ACTIONS: readonly ChannelAction[] = [
  'PAY',
  'REFUND',
  'QUERY',
  'CLOSE',
  'PAYOUT',
  'BILL',
];

/** A half-open window [startMs, endMs). */
export interface MaintenanceWindow {
  readonly startMs: number;
  readonly endMs: number;
}

export interface ChannelNumberConfig {
  readonly channelNo: string;
  readonly name: string;
  readonly protocol: ChannelProtocol;
  readonly status: ChannelStatus;
  readonly baseUrl: string;
  /** After this long an unpaid payment is closed by the channel; status sync stops there. */
  readonly closeAfterSeconds: number;
  readonly hasCredentials: boolean;
}

export interface RouteConfig {
  readonly payChannel: string;
  readonly channelNo: string;
  /** Plain decimal in [0, 1], e.g. "0.006". */
  readonly feeRate: string;
  readonly roundingMode: RoundingMode;
  readonly currency: string;
  readonly minAmount: bigint;
  readonly maxAmount: bigint;
  /** Per channel day (the channel number's day rule, China's natural day by default); 0n = no cap. */
  readonly dailyCap: bigint;
  readonly weight: number;
  readonly priority: number;
  readonly status: ChannelStatus;
  readonly maintenanceWindows: readonly MaintenanceWindow[];
  readonly supportedActions: readonly ChannelAction[];
}

export const MAINTENANCE_WINDOWS_MAX = 32;
export const WEIGHT_MAX = 10_000;
export const PRIORITY_MAX = 1_000;
export const CLOSE_AFTER_SECONDS_MAX = 604_800;

export function inMaintenance(route: RouteConfig, nowMs: number): boolean {
  return route.maintenanceWindows.some((window) => window.startMs <= nowMs && nowMs < window.endMs);
}
