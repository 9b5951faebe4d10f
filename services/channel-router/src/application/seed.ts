/**
 * The demo registry, loaded from the sandbox's `/sandbox/keys` (which hands
 * out the merchant test credentials — something only a sandbox does):
 * Alipay 1001 / 1002 on 100001, WeChat 2001 / 2002 on 200001, bank
 * 3001 / 4001 on 300001. Idempotent: running it again rewrites the same rows.
 * 3001 (bank quick pay) is registered but supports no PAY here: the bank line
 * speaks payouts only (see ADR 0011).
 */
import type { ChannelAction, RouteConfig } from '../domain/model';
import type { ChannelRouter } from './channel-router';

const KEYS_TIMEOUT_MS = 5_000;

interface KeysDocument {
  alipay: { gateway_url: string; app_id: string; alipay_public_key: string; merchant_private_key: string };
  wechat: { base_url: string; appid: string; mch_id: string; api_key: string };
  bank: { base_url: string; mch_id: string; key: string };
}

function route(
  payChannel: string,
  channelNo: string,
  feeRate: string,
  actions: ChannelAction[],
): RouteConfig {
  return {
    payChannel,
    channelNo,
    feeRate,
    roundingMode: 'ROUND_HALF_UP',
    currency: 'CNY',
    minAmount: 1n,
    maxAmount: 5_000_000n,
    dailyCap: 0n,
    weight: 1,
    priority: 10,
    status: 'ENABLED',
    maintenanceWindows: [],
    supportedActions: actions,
  };
}

const PAYMENT_ACTIONS: ChannelAction[] = ['PAY', 'QUERY', 'CLOSE', 'REFUND', 'BILL'];

export async function seedFromSandbox(router: ChannelRouter, sandboxUrl: string): Promise<void> {
  const response = await fetch(`${sandboxUrl}/sandbox/keys`, {
    signal: AbortSignal.timeout(KEYS_TIMEOUT_MS),
  });
  if (response.status !== 200) throw new Error(`sandbox keys answered ${response.status}`);
  const keys = (await response.json()) as KeysDocument;
  const base = { status: 'ENABLED' as const, hasCredentials: false };
  await router.upsertChannelNumber({
    ...base,
    channelNo: '100001',
    name: 'Alipay direct',
    protocol: 'ALIPAY',
    baseUrl: keys.alipay.gateway_url,
    closeAfterSeconds: 7_200,
  });
  await router.setCredentials('100001', {
    app_id: keys.alipay.app_id,
    merchant_private_key: keys.alipay.merchant_private_key,
    alipay_public_key: keys.alipay.alipay_public_key,
  });
  await router.upsertChannelNumber({
    ...base,
    channelNo: '200001',
    name: 'WeChat direct',
    protocol: 'WECHAT',
    baseUrl: keys.wechat.base_url,
    closeAfterSeconds: 7_200,
  });
  await router.setCredentials('200001', {
    appid: keys.wechat.appid,
    mch_id: keys.wechat.mch_id,
    api_key: keys.wechat.api_key,
  });
  await router.upsertChannelNumber({
    ...base,
    channelNo: '300001',
    name: 'bank A',
    protocol: 'BANK',
    baseUrl: keys.bank.base_url,
    closeAfterSeconds: 86_400,
  });
  await router.setCredentials('300001', { mch_id: keys.bank.mch_id, key: keys.bank.key });
  await router.upsertRoute(route('1001', '100001', '0.006', PAYMENT_ACTIONS));
  await router.upsertRoute(route('1002', '100001', '0.006', PAYMENT_ACTIONS));
  await router.upsertRoute(route('2001', '200001', '0.006', PAYMENT_ACTIONS));
  await router.upsertRoute(route('2002', '200001', '0.006', PAYMENT_ACTIONS));
  await router.upsertRoute(route('3001', '300001', '0.0038', ['QUERY']));
  await router.upsertRoute(route('4001', '300001', '0', ['PAYOUT', 'QUERY']));
}
