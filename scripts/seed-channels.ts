/**
 * Points channel-router's registry at the running channel sandbox: loads the
 * sandbox's merchant test credentials (`GET /sandbox/keys`, which only a
 * sandbox hands out) into channel-router through its public RPCs
 * (UpsertChannelNumber, SetChannelCredentials, UpsertPayChannelRoute):
 * Alipay 1001 / 1002 on 100001, WeChat 2001 / 2002 on 200001, bank payouts
 * 4001 on 300001.
 *
 * Idempotent: every call is an upsert, so running it again rewrites the same
 * rows. `make up` runs it on every start (the manifest's "seed" of
 * channel-sandbox), because the sandbox may have come back on another port or
 * channel-router with another credentials key; `make demo` runs it too.
 *
 * Usage: tsx scripts/seed-channels.ts
 * Environment: PAYCORE_RUN_DIR (default <repo>/.run): endpoints.json
 * (channel-router), http-endpoints.json (channel-sandbox), dev-token.
 *
 * Through @paycore/client, as any operator's script would: the upserts are
 * marked idempotent in the client, so they are retried on UNAVAILABLE.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  cny,
  createPaycoreClient,
  loadEndpointsFile,
  proto,
  tokenFile,
  type PaycoreClient,
} from '@paycore/client';

const { ChannelAction, ChannelProtocol, ChannelStatus } = proto.channelTypes;
type ChannelAction = proto.channelTypes.ChannelAction;
const KEYS_TIMEOUT_MS = 5_000;
const CALL_DEADLINE_MS = 10_000;

interface KeysDocument {
  alipay: { gateway_url: string; app_id: string; alipay_public_key: string; merchant_private_key: string };
  wechat: { base_url: string; appid: string; mch_id: string; api_key: string };
  bank: { base_url: string; mch_id: string; key: string };
}

/** Points channel-router's registry at this sandbox (the same registry as channel-router's own seed). */
export async function seedChannelRegistry(
  channel: PaycoreClient['channel'],
  sandboxUrl: string,
): Promise<void> {
  const response = await fetch(`${sandboxUrl}/sandbox/keys`, {
    signal: AbortSignal.timeout(KEYS_TIMEOUT_MS),
  });
  if (response.status !== 200) throw new Error(`${sandboxUrl}/sandbox/keys answered ${response.status}`);
  const keys = (await response.json()) as KeysDocument;
  const numbers = [
    {
      channelNo: '100001',
      name: 'Alipay direct',
      protocol: ChannelProtocol.CHANNEL_PROTOCOL_ALIPAY,
      baseUrl: keys.alipay.gateway_url,
      closeAfterSeconds: 7_200n,
      credentials: {
        app_id: keys.alipay.app_id,
        merchant_private_key: keys.alipay.merchant_private_key,
        alipay_public_key: keys.alipay.alipay_public_key,
      },
    },
    {
      channelNo: '200001',
      name: 'WeChat direct',
      protocol: ChannelProtocol.CHANNEL_PROTOCOL_WECHAT,
      baseUrl: keys.wechat.base_url,
      closeAfterSeconds: 7_200n,
      credentials: { appid: keys.wechat.appid, mch_id: keys.wechat.mch_id, api_key: keys.wechat.api_key },
    },
    {
      channelNo: '300001',
      name: 'bank A',
      protocol: ChannelProtocol.CHANNEL_PROTOCOL_BANK,
      baseUrl: keys.bank.base_url,
      closeAfterSeconds: 86_400n,
      credentials: { mch_id: keys.bank.mch_id, key: keys.bank.key },
    },
  ];
  for (const n of numbers) {
    await channel.upsertChannelNumber({
      channelNumber: {
        channelNo: n.channelNo,
        name: n.name,
        protocol: n.protocol,
        status: ChannelStatus.CHANNEL_STATUS_ENABLED,
        baseUrl: n.baseUrl,
        closeAfterSeconds: n.closeAfterSeconds,
        hasCredentials: false,
      },
    });
    await channel.setChannelCredentials({
      channelNo: n.channelNo,
      credentials: n.credentials,
    });
  }
  const pay = [
    ChannelAction.CHANNEL_ACTION_PAY,
    ChannelAction.CHANNEL_ACTION_QUERY,
    ChannelAction.CHANNEL_ACTION_CLOSE,
    ChannelAction.CHANNEL_ACTION_REFUND,
    ChannelAction.CHANNEL_ACTION_BILL,
  ];
  const routes: [string, string, string, ChannelAction[]][] = [
    ['1001', '100001', '0.006', pay],
    ['1002', '100001', '0.006', pay],
    ['2001', '200001', '0.006', pay],
    ['2002', '200001', '0.006', pay],
    ['4001', '300001', '0', [ChannelAction.CHANNEL_ACTION_PAYOUT, ChannelAction.CHANNEL_ACTION_QUERY]],
  ];
  for (const [payChannel, channelNo, feeRate, actions] of routes) {
    await channel.upsertPayChannelRoute({
      route: {
        payChannel,
        channelNo,
        feeRate,
        roundingMode: 'ROUND_HALF_UP',
        minAmount: cny(1n),
        maxAmount: cny(5_000_000n),
        dailyCap: cny(0n),
        weight: 1,
        priority: 10,
        status: ChannelStatus.CHANNEL_STATUS_ENABLED,
        maintenanceWindows: [],
        supportedActions: actions,
      },
    });
  }
}

function readJson(file: string): Record<string, string> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
}

async function main(): Promise<void> {
  const runDirectory = path.resolve(process.env['PAYCORE_RUN_DIR'] || path.join(__dirname, '..', '.run'));
  const router = readJson(path.join(runDirectory, 'endpoints.json'))['channel-router'];
  const sandbox = readJson(path.join(runDirectory, 'http-endpoints.json'))['channel-sandbox'];
  if (router === undefined || sandbox === undefined) {
    process.stdout.write(
      'seed-channels: channel-router or channel-sandbox is not running; nothing to seed\n',
    );
    return;
  }
  const paycore = createPaycoreClient({
    endpoints: loadEndpointsFile(path.join(runDirectory, 'endpoints.json')),
    token: tokenFile(path.join(runDirectory, 'dev-token')),
    defaultDeadlineMs: CALL_DEADLINE_MS,
  });
  try {
    await seedChannelRegistry(paycore.channel, `http://${sandbox}`);
    process.stdout.write(
      `seed-channels: channel-router ${router} now points at the sandbox http://${sandbox}\n`,
    );
  } finally {
    paycore.close();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `seed-channels: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
