/**
 * gRPC handlers of paycore.channel.v1.ChannelService: validate and translate
 * at the edge, call the use case, map the result. Errors are typed and
 * mapped by the platform kit.
 */
import { invalidArgument, type Handlers, type Specs } from '@paycore/platform';
import { isRoundingMode } from '@paycore/money';
import type { Money } from '@paycore/proto/paycore/common/v1/money';
import type { BizContext } from '@paycore/proto/paycore/common/v1/biz_context';
import { ChannelServiceService } from '@paycore/proto/paycore/channel/v1/channel_service';
import {
  RoutingStrategy as PbStrategy,
  type ChannelNumber,
  type PayChannelRoute,
} from '@paycore/proto/paycore/channel/v1/types';
import type { Catalogue } from '@paycore/context';
import type { ChannelRouter } from '../../application/channel-router';
import type { StatementRecord } from '../../application/model';
import { UnsupportedCurrencyError } from '../../domain/errors';
import { REQUEST_ID_PATTERN } from '../../domain/idempotency';
import {
  CLOSE_AFTER_SECONDS_MAX,
  MAINTENANCE_WINDOWS_MAX,
  PRIORITY_MAX,
  WEIGHT_MAX,
  type ChannelNumberConfig,
  type RouteConfig,
} from '../../domain/model';
import type { RoutingStrategy } from '../../domain/routing';
import { ACTION_TO_PB, invert, PROTOCOL_TO_PB, STATUS_TO_PB, txnToProto } from '../mapping';

type Definition = typeof ChannelServiceService;

const PB_TO_PROTOCOL = invert(PROTOCOL_TO_PB);
const PB_TO_STATUS = invert(STATUS_TO_PB);
const PB_TO_ACTION = invert(ACTION_TO_PB);
const PB_TO_STRATEGY = new Map<PbStrategy, RoutingStrategy>([
  [PbStrategy.ROUTING_STRATEGY_UNSPECIFIED, 'PRIORITY'],
  [PbStrategy.ROUTING_STRATEGY_PRIORITY, 'PRIORITY'],
  [PbStrategy.ROUTING_STRATEGY_LOWEST_COST, 'LOWEST_COST'],
  [PbStrategy.ROUTING_STRATEGY_WEIGHTED, 'WEIGHTED'],
]);
const STRATEGY_TO_PB: Record<RoutingStrategy, PbStrategy> = {
  PRIORITY: PbStrategy.ROUTING_STRATEGY_PRIORITY,
  LOWEST_COST: PbStrategy.ROUTING_STRATEGY_LOWEST_COST,
  WEIGHTED: PbStrategy.ROUTING_STRATEGY_WEIGHTED,
};

const AMOUNT_MAX = 10_000_000_000n;
const TEXT_SAFE = /^[^,`\r\n]{1,128}$/u;

function requestId(value: string): string {
  if (!REQUEST_ID_PATTERN.test(value)) {
    throw invalidArgument([
      { field: 'request_id', description: 'must be 1..128 printable ASCII characters' },
    ]);
  }
  return value;
}

function amountOf(money: Money | undefined, field: string): { amount: bigint; currency: string } {
  if (money === undefined) throw invalidArgument([{ field, description: 'is required' }]);
  if (money.amountMinor <= 0n || money.amountMinor > AMOUNT_MAX) {
    throw invalidArgument([
      { field: `${field}.amount_minor`, description: `must be within 1..${AMOUNT_MAX}` },
    ]);
  }
  if (money.currency !== 'CNY')
    throw new UnsupportedCurrencyError(`only CNY is supported, got "${money.currency}"`, `${field}.currency`);
  return { amount: money.amountMinor, currency: money.currency };
}

function bizCodeOf(catalogue: Catalogue, context: BizContext | undefined, field = 'biz_context'): string {
  if (context === undefined || context.code === '')
    throw invalidArgument([{ field, description: 'is required' }]);
  return catalogue.validate(context.code, `${field}.code`).code;
}

function digits(value: string, length: number, field: string): string {
  if (!new RegExp(`^[0-9]{${length}}$`).test(value)) {
    throw invalidArgument([{ field, description: `must be ${length} digits` }]);
  }
  return value;
}

function channelFromProto(pb: ChannelNumber | undefined): ChannelNumberConfig {
  if (pb === undefined) throw invalidArgument([{ field: 'channel_number', description: 'is required' }]);
  const protocol = PB_TO_PROTOCOL.get(pb.protocol);
  const status = PB_TO_STATUS.get(pb.status);
  const problems: { field: string; description: string }[] = [];
  if (protocol === undefined) problems.push({ field: 'channel_number.protocol', description: 'is required' });
  if (status === undefined) problems.push({ field: 'channel_number.status', description: 'is required' });
  if (pb.name === '' || pb.name.length > 64)
    problems.push({ field: 'channel_number.name', description: 'must be 1..64 characters' });
  if (!/^https?:\/\/\S{1,500}$/.test(pb.baseUrl))
    problems.push({ field: 'channel_number.base_url', description: 'must be an http(s) URL' });
  const close = Number(pb.closeAfterSeconds);
  if (!Number.isInteger(close) || close < 1 || close > CLOSE_AFTER_SECONDS_MAX) {
    problems.push({
      field: 'channel_number.close_after_seconds',
      description: `must be 1..${CLOSE_AFTER_SECONDS_MAX}`,
    });
  }
  if (problems.length > 0 || protocol === undefined || status === undefined) throw invalidArgument(problems);
  return {
    channelNo: digits(pb.channelNo, 6, 'channel_number.channel_no'),
    name: pb.name,
    protocol,
    status,
    baseUrl: pb.baseUrl,
    closeAfterSeconds: close,
    hasCredentials: false,
  };
}

function channelToProto(channel: ChannelNumberConfig): ChannelNumber {
  return {
    channelNo: channel.channelNo,
    name: channel.name,
    protocol: PROTOCOL_TO_PB[channel.protocol],
    status: STATUS_TO_PB[channel.status],
    baseUrl: channel.baseUrl,
    closeAfterSeconds: BigInt(channel.closeAfterSeconds),
    hasCredentials: channel.hasCredentials,
  };
}

function routeFromProto(pb: PayChannelRoute | undefined): RouteConfig {
  if (pb === undefined) throw invalidArgument([{ field: 'route', description: 'is required' }]);
  const min = amountOf(pb.minAmount, 'route.min_amount');
  const max = amountOf(pb.maxAmount, 'route.max_amount');
  const cap = pb.dailyCap?.amountMinor ?? 0n;
  const status = PB_TO_STATUS.get(pb.status);
  const actions = pb.supportedActions.map((a) => PB_TO_ACTION.get(a));
  const problems: { field: string; description: string }[] = [];
  if (!/^(0|1)(\.[0-9]{1,18})?$/.test(pb.feeRate) || Number(pb.feeRate) > 1)
    problems.push({ field: 'route.fee_rate', description: 'must be a decimal in [0, 1]' });
  if (!isRoundingMode(pb.roundingMode))
    problems.push({
      field: 'route.rounding_mode',
      description: 'must be a rounding mode name such as ROUND_HALF_UP',
    });
  if (max.amount < min.amount)
    problems.push({ field: 'route.max_amount', description: 'must be >= min_amount' });
  if (cap < 0n) problems.push({ field: 'route.daily_cap', description: 'must be >= 0' });
  if (pb.weight < 0 || pb.weight > WEIGHT_MAX)
    problems.push({ field: 'route.weight', description: `must be 0..${WEIGHT_MAX}` });
  if (pb.priority < 0 || pb.priority > PRIORITY_MAX)
    problems.push({ field: 'route.priority', description: `must be 0..${PRIORITY_MAX}` });
  if (status === undefined) problems.push({ field: 'route.status', description: 'is required' });
  if (actions.length === 0 || actions.some((a) => a === undefined))
    problems.push({ field: 'route.supported_actions', description: 'must list known actions' });
  if (pb.maintenanceWindows.length > MAINTENANCE_WINDOWS_MAX)
    problems.push({ field: 'route.maintenance_windows', description: `at most ${MAINTENANCE_WINDOWS_MAX}` });
  const windows = pb.maintenanceWindows.map((w) => ({
    startMs: w.startTime?.getTime() ?? NaN,
    endMs: w.endTime?.getTime() ?? NaN,
  }));
  if (windows.some((w) => !(w.startMs < w.endMs)))
    problems.push({ field: 'route.maintenance_windows', description: 'each needs start_time < end_time' });
  if (problems.length > 0 || status === undefined || !isRoundingMode(pb.roundingMode))
    throw invalidArgument(problems);
  return {
    payChannel: digits(pb.payChannel, 4, 'route.pay_channel'),
    channelNo: digits(pb.channelNo, 6, 'route.channel_no'),
    feeRate: pb.feeRate,
    roundingMode: pb.roundingMode,
    currency: min.currency,
    minAmount: min.amount,
    maxAmount: max.amount,
    dailyCap: cap,
    weight: pb.weight,
    priority: pb.priority,
    status,
    maintenanceWindows: windows,
    supportedActions: actions.filter((a) => a !== undefined),
  };
}

function routeToProto(route: RouteConfig): PayChannelRoute {
  const money = (amountMinor: bigint): Money => ({ amountMinor, currency: route.currency });
  return {
    payChannel: route.payChannel,
    channelNo: route.channelNo,
    feeRate: route.feeRate,
    roundingMode: route.roundingMode,
    minAmount: money(route.minAmount),
    maxAmount: money(route.maxAmount),
    dailyCap: money(route.dailyCap),
    weight: route.weight,
    priority: route.priority,
    status: STATUS_TO_PB[route.status],
    maintenanceWindows: route.maintenanceWindows.map((w) => ({
      startTime: new Date(w.startMs),
      endTime: new Date(w.endMs),
    })),
    supportedActions: route.supportedActions.map((a) => ACTION_TO_PB[a]),
  };
}

function statementToProto(record: StatementRecord): {
  statementId: string;
  format: string;
  checksumSha256: string;
  lineCount: bigint;
  sizeBytes: bigint;
} {
  return {
    statementId: record.statementId,
    format: record.format,
    checksumSha256: record.checksumSha256,
    lineCount: BigInt(record.lineCount),
    sizeBytes: BigInt(record.sizeBytes),
  };
}

function txnIdOf(value: string, field: string): string {
  if (!/^[A-Z0-9]{1,32}$/.test(value))
    throw invalidArgument([{ field, description: 'is not a transaction id' }]);
  return value;
}

// eslint-disable-next-line max-lines-per-function -- a table of thin RPC handlers, one entry each
export function channelHandlers(router: ChannelRouter, catalogue: Catalogue): Handlers<Definition> {
  return {
    upsertChannelNumber: async (req) => ({
      channelNumber: channelToProto(await router.upsertChannelNumber(channelFromProto(req.channelNumber))),
    }),
    setChannelCredentials: async (req) => ({
      channelNumber: channelToProto(
        await router.setCredentials(digits(req.channelNo, 6, 'channel_no'), req.credentials),
      ),
    }),
    upsertPayChannelRoute: async (req) => ({
      route: routeToProto(await router.upsertRoute(routeFromProto(req.route))),
    }),
    listRegistry: async () => ({
      channelNumbers: (await router.store.channelNumbers()).map(channelToProto),
      routes: (await router.store.routes()).map(routeToProto),
    }),
    listPayChannels: async (req) => {
      const bizCode = bizCodeOf(catalogue, req.bizContext);
      const { amount } = amountOf(req.amount, 'amount');
      const options = await router.listPayChannels(bizCode, amount);
      return {
        payChannels: options.map((o) => ({
          payChannel: o.payChannel,
          label: o.label,
          eligibleChannelCount: o.eligible,
        })),
      };
    },
    route: async (req) => {
      const bizCode = bizCodeOf(catalogue, req.bizContext);
      const { amount, currency } = amountOf(req.amount, 'amount');
      if (req.merchantId === '' || req.merchantId.length > 64) {
        throw invalidArgument([{ field: 'merchant_id', description: 'must be 1..64 characters' }]);
      }
      if (req.payChannel !== '') digits(req.payChannel, 4, 'pay_channel');
      const strategy = PB_TO_STRATEGY.get(req.strategy);
      if (strategy === undefined)
        throw invalidArgument([{ field: 'strategy', description: 'unknown strategy' }]);
      const decision = await router.route(bizCode, amount, req.payChannel, strategy);
      return {
        payChannel: decision.chosen.route.payChannel,
        channelNo: decision.chosen.route.channelNo,
        bizContext: { code: decision.bizCode },
        fee: { amountMinor: decision.chosen.feeMinor, currency },
        candidates: decision.candidates.map((c) => ({
          payChannel: c.route.payChannel,
          channelNo: c.route.channelNo,
          eligible: c.eligible,
          reason: c.reason,
          fee: { amountMinor: c.feeMinor, currency },
        })),
        strategy: STRATEGY_TO_PB[decision.strategy],
      };
    },
    createChannelPayment: async (req) => {
      const { amount, currency } = amountOf(req.amount, 'amount');
      if (!TEXT_SAFE.test(req.subject)) {
        throw invalidArgument([
          { field: 'subject', description: '1..128 characters without comma, backtick or line breaks' },
        ]);
      }
      const txn = await router.createPayment({
        requestId: requestId(req.requestId),
        bizCode: bizCodeOf(catalogue, req.bizContext),
        amount,
        currency,
        subject: req.subject,
      });
      return { transaction: txnToProto(txn) };
    },
    queryChannelPayment: async (req) => ({
      transaction: txnToProto(await router.queryPayment(txnIdOf(req.txnId, 'txn_id'), ['PAYMENT', 'REFUND'])),
    }),
    closeChannelPayment: async (req) => ({
      transaction: txnToProto(
        await router.closePayment(requestId(req.requestId), txnIdOf(req.txnId, 'txn_id')),
      ),
    }),
    refundChannelPayment: async (req) => {
      const { amount, currency } = amountOf(req.amount, 'amount');
      if (req.reason.length > 128 || /[,`\r\n]/.test(req.reason)) {
        throw invalidArgument([
          { field: 'reason', description: 'at most 128 characters without comma, backtick or line breaks' },
        ]);
      }
      const txn = await router.refund({
        requestId: requestId(req.requestId),
        paymentTxnId: txnIdOf(req.paymentTxnId, 'payment_txn_id'),
        amount,
        currency,
        reason: req.reason,
        bizCode:
          req.bizContext === undefined || req.bizContext.code === ''
            ? undefined
            : bizCodeOf(catalogue, req.bizContext),
      });
      return { transaction: txnToProto(txn) };
    },
    createPayout: async (req) => {
      const { amount, currency } = amountOf(req.amount, 'amount');
      const problems: { field: string; description: string }[] = [];
      if (!/^\d{8,32}$/.test(req.accountNo))
        problems.push({ field: 'account_no', description: 'must be 8..32 digits' });
      if (req.accountName === '' || req.accountName.length > 64)
        problems.push({ field: 'account_name', description: 'must be 1..64 characters' });
      if (!/^[A-Z0-9]{2,16}$/.test(req.bankCode))
        problems.push({ field: 'bank_code', description: 'must be 2..16 of [A-Z0-9]' });
      if (req.remark.length > 64) problems.push({ field: 'remark', description: 'at most 64 characters' });
      if (problems.length > 0) throw invalidArgument(problems);
      const txn = await router.createPayout({
        requestId: requestId(req.requestId),
        bizCode: bizCodeOf(catalogue, req.bizContext),
        amount,
        currency,
        payee: {
          accountNo: req.accountNo,
          accountName: req.accountName,
          bankCode: req.bankCode,
          remark: req.remark,
        },
      });
      return { transaction: txnToProto(txn) };
    },
    queryPayout: async (req) => ({
      transaction: txnToProto(await router.queryPayment(txnIdOf(req.txnId, 'txn_id'), ['PAYOUT'])),
    }),
    downloadStatement: async (req) => {
      const channelNo = digits(req.channelNo, 6, 'channel_no');
      if (!/^\d{4}-\d{2}-\d{2}$/.test(req.billDate))
        throw invalidArgument([{ field: 'bill_date', description: 'must be YYYY-MM-DD' }]);
      return statementToProto(await router.downloadStatement(channelNo, req.billDate));
    },
    getStatement: async (req) => {
      const found = await router.statement(req.statementId);
      return { statement: statementToProto(found.record), content: found.content };
    },
    listChannelExceptions: async (req) => {
      const size = req.pageSize === 0 ? 100 : req.pageSize;
      if (size < 1 || size > 500)
        throw invalidArgument([{ field: 'page_size', description: 'must be 0..500' }]);
      return { transactions: (await router.store.exceptions(size)).map(txnToProto) };
    },
  };
}

export const channelScopes: Specs<Definition> = {
  upsertChannelNumber: { scope: 'channel:admin' },
  setChannelCredentials: { scope: 'channel:admin' },
  upsertPayChannelRoute: { scope: 'channel:admin' },
  listRegistry: { scope: 'channel:admin' },
  listPayChannels: { scope: 'channel:read' },
  route: { scope: 'channel:read' },
  createChannelPayment: { scope: 'channel:write' },
  queryChannelPayment: { scope: 'channel:read' },
  closeChannelPayment: { scope: 'channel:write' },
  refundChannelPayment: { scope: 'channel:write' },
  createPayout: { scope: 'channel:write' },
  queryPayout: { scope: 'channel:read' },
  downloadStatement: { scope: 'channel:write' },
  getStatement: { scope: 'channel:read' },
  listChannelExceptions: { scope: 'channel:read' },
};
