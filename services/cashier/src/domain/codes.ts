/**
 * Context codes of cashier flows (DESIGN.md §3). An order starts unrouted
 * (product, biz mode, action 01); each payment part is routed to its pay
 * channel; a refund uses the same product and mode with action 02; top-ups,
 * withdrawals and escrow release have flows of their own in the catalogue.
 */
import { formatBizCode, NO_CHANNEL_NO, parseBizCode, withRoute } from '@paycore/context';
import type { BizModeName, TopUpTargetName } from './model';

const MODE_DIGITS: Readonly<Record<BizModeName, string>> = { INSTANT: '01', ESCROW: '02' };

export const ACTION_PAY = '01';
export const ACTION_REFUND = '02';
export const ACTION_TOP_UP = '03';
export const ACTION_WITHDRAW = '04';
export const ACTION_TRANSFER = '05';

/** Customer wallet product (top-up, withdraw) and ad-credit coins (stored value). */
export const WALLET_PRODUCT = '100401';
export const STORED_VALUE_PRODUCT = '100301';
export const STORED_VALUE_MODE = '03';

export function orderBizCode(product: string, mode: BizModeName): string {
  return formatBizCode({ product, bizMode: MODE_DIGITS[mode], action: ACTION_PAY });
}

export function bizModeOfCode(code: string): BizModeName | undefined {
  const mode = parseBizCode(code).bizMode;
  if (mode === '01') return 'INSTANT';
  if (mode === '02') return 'ESCROW';
  return undefined;
}

/** The routed code of an internal part (channel no 000000). */
export function internalPartCode(unroutedCode: string, payChannel: string): string {
  return withRoute(unroutedCode, payChannel, NO_CHANNEL_NO).code;
}

/** The same code with another action (refund = 02, escrow release = 05). */
export function withAction(code: string, action: string): string {
  const p = parseBizCode(code);
  return formatBizCode({
    product: p.product,
    bizMode: p.bizMode,
    action,
    payChannel: p.payChannel,
    channelNo: p.channelNo,
  });
}

export function topUpBizCode(target: TopUpTargetName): string {
  return target === 'BALANCE'
    ? formatBizCode({ product: WALLET_PRODUCT, bizMode: '01', action: ACTION_TOP_UP })
    : formatBizCode({ product: STORED_VALUE_PRODUCT, bizMode: STORED_VALUE_MODE, action: ACTION_TOP_UP });
}

export function withdrawBizCode(): string {
  return formatBizCode({ product: WALLET_PRODUCT, bizMode: '01', action: ACTION_WITHDRAW });
}

/** Escrow release: same product, mode 02, action 05 transfer, balance pay channel. */
export function escrowReleaseCode(orderCode: string): string {
  const p = parseBizCode(orderCode);
  return formatBizCode({
    product: p.product,
    bizMode: p.bizMode,
    action: ACTION_TRANSFER,
    payChannel: '0001',
    channelNo: NO_CHANNEL_NO,
  });
}
