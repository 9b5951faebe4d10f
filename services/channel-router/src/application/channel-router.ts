/**
 * The use cases of channel-router. Handlers stay thin; this class decides:
 * it validates against the registry, reserves caps, calls the channel
 * through an adapter (outside any database transaction), records what the
 * channel said through the store (which applies the state machine and writes
 * the event), and feeds the circuit breakers.
 */
import type { Catalogue } from '@paycore/context';
import { parseBizCode, withRoute } from '@paycore/context';
import { computeFee } from '@paycore/money';
import type { Logger } from 'pino';
import { AlipayAdapter } from '../adapters/channels/alipay';
import { BankAdapter } from '../adapters/channels/bank';
import type { ChannelAdapter, ChannelOutcome, PaymentRef } from '../adapters/channels/types';
import { WechatAdapter } from '../adapters/channels/wechat';
import type { PgChannelStore } from '../adapters/pg/store';
import type { CredentialSealer } from '../adapters/pg/sealing';
import type { BreakerBoard } from '../domain/breaker';
import { parseCredentials, type ChannelCredentials } from '../domain/credentials';
import {
  AlreadyPaidError,
  BillNotReadyError,
  ChannelNotFoundError,
  DailyCapExceededError,
  NoRouteError,
  PaymentNotSuccessfulError,
  RefundExceedsPaymentError,
  RouteNotAvailableError,
  StatementNotFoundError,
  TxnNotFoundError,
  UnknownChannelNoError,
  UnknownPayChannelError,
} from '../domain/errors';
import { requestHash } from '../domain/idempotency';
import { chinaDate, type ChannelAction, type ChannelNumberConfig, type RouteConfig } from '../domain/model';
import { choose, ineligibility, judge, type Candidate, type RoutingStrategy } from '../domain/routing';
import { nextSync, type SyncSchedule } from '../domain/sync-schedule';
import { isFinal } from '../domain/txn';
import type { ChangeSource, PayeeRecord, StatementRecord, Txn } from './model';

export interface ChannelRouterOptions {
  readonly store: PgChannelStore;
  readonly catalogue: Catalogue;
  readonly sealer: CredentialSealer;
  readonly breakers: BreakerBoard;
  readonly logger: Logger;
  /** Base of the callback URLs given to channels, e.g. http://router.internal:9464. */
  readonly callbackBaseUrl: string;
  readonly channelTimeoutMs: number;
  readonly syncSchedule: SyncSchedule;
  readonly nowMs?: () => number;
  readonly random?: () => number;
}

export interface RouteDecision {
  readonly chosen: Candidate;
  readonly bizCode: string;
  readonly candidates: readonly Candidate[];
  readonly strategy: RoutingStrategy;
}

export interface CreatePaymentInput {
  readonly requestId: string;
  readonly bizCode: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly subject: string;
}

export interface RefundInput {
  readonly requestId: string;
  readonly paymentTxnId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly reason: string;
  readonly bizCode: string | undefined;
}

export interface PayoutInput {
  readonly requestId: string;
  readonly bizCode: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly payee: PayeeRecord;
}

export class ChannelRouter {
  private readonly nowMs: () => number;
  private readonly random: () => number;

  constructor(private readonly options: ChannelRouterOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  get store(): PgChannelStore {
    return this.options.store;
  }

  // ---- registry ------------------------------------------------------------

  async upsertChannelNumber(channel: ChannelNumberConfig): Promise<ChannelNumberConfig> {
    if (!this.knownChannelNo(channel.channelNo)) {
      throw new UnknownChannelNoError(
        `channel number ${channel.channelNo} is not in the catalogue`,
        'channel_no',
      );
    }
    return this.store.upsertChannelNumber(channel);
  }

  private knownChannelNo(channelNo: string): boolean {
    // Routed codes end in their channel number; a channel number no code can name could never be routed to.
    return this.options.catalogue.codes().some((code) => code.slice(14) === channelNo);
  }

  async setCredentials(
    channelNo: string,
    map: Readonly<Record<string, string>>,
  ): Promise<ChannelNumberConfig> {
    const channel = await this.requireChannel(channelNo);
    parseCredentials(channel.protocol, map);
    await this.store.setCredentials(channelNo, this.options.sealer.seal(channelNo, JSON.stringify(map)));
    return { ...channel, hasCredentials: true };
  }

  async upsertRoute(route: RouteConfig): Promise<RouteConfig> {
    await this.requireChannel(route.channelNo);
    if (!this.options.catalogue.channelNosFor(route.payChannel).includes(route.channelNo)) {
      throw new UnknownPayChannelError(
        `the catalogue has no route ${route.payChannel} → ${route.channelNo}`,
        'route.pay_channel',
      );
    }
    return this.store.upsertRoute(route);
  }

  private async requireChannel(channelNo: string): Promise<ChannelNumberConfig> {
    const channel = await this.store.channelNumber(channelNo);
    if (channel === undefined)
      throw new ChannelNotFoundError(`channel number ${channelNo} is not registered`, 'channel_no');
    return channel;
  }

  private async credentials(channel: ChannelNumberConfig): Promise<ChannelCredentials | undefined> {
    const sealed = await this.store.sealedCredentials(channel.channelNo);
    if (sealed === undefined) return undefined;
    const text = this.options.sealer.open(channel.channelNo, sealed);
    if (text === undefined) {
      this.options.logger.error(
        { channel_no: channel.channelNo },
        'channel credentials do not open under the current key',
      );
      return undefined;
    }
    return parseCredentials(channel.protocol, JSON.parse(text) as Record<string, string>);
  }

  /** The adapter of a channel number; undefined when it has no usable credentials. */
  async adapter(channel: ChannelNumberConfig): Promise<ChannelAdapter | undefined> {
    const credentials = await this.credentials(channel);
    if (credentials === undefined) return undefined;
    const adapterOptions = {
      baseUrl: channel.baseUrl,
      timeoutMs: this.options.channelTimeoutMs,
      nowMs: this.nowMs,
    };
    switch (credentials.protocol) {
      case 'ALIPAY':
        return new AlipayAdapter(credentials, adapterOptions);
      case 'WECHAT':
        return new WechatAdapter(credentials, adapterOptions);
      case 'BANK':
        return new BankAdapter(credentials, adapterOptions);
    }
  }

  async verifierCredentials(
    channelNo: string,
  ): Promise<{ channel: ChannelNumberConfig; credentials: ChannelCredentials } | undefined> {
    const channel = await this.store.channelNumber(channelNo);
    if (channel === undefined) return undefined;
    const credentials = await this.credentials(channel);
    return credentials === undefined ? undefined : { channel, credentials };
  }

  // ---- routing -------------------------------------------------------------

  private async judgeFor(
    payChannels: readonly string[],
    amount: bigint,
    action: ChannelAction,
  ): Promise<Candidate[]> {
    const [routes, channels, used] = await Promise.all([
      this.store.routes(),
      this.store.channelNumbers(),
      this.store.usedOn(chinaDate(this.nowMs())),
    ]);
    return judge({
      routes: routes.filter((route) => payChannels.includes(route.payChannel)),
      channels: new Map(channels.map((channel) => [channel.channelNo, channel])),
      amount,
      action,
      nowMs: this.nowMs(),
      usedToday: used,
      circuitOpen: this.options.breakers.openChannels(),
    });
  }

  async listPayChannels(
    bizCode: string,
    amount: bigint,
  ): Promise<{ payChannel: string; label: string; eligible: number }[]> {
    const allowed = this.options.catalogue
      .payChannelsFor(bizCode)
      .filter((pc) => !this.options.catalogue.isInternalPayChannel(pc));
    const action = actionOf(bizCode);
    const candidates = await this.judgeFor(allowed, amount, action);
    return allowed
      .map((payChannel) => ({
        payChannel,
        label:
          this.options.catalogue.describe(`${bizCode.slice(0, 10)}${payChannel}000000`).payChannel.label ??
          payChannel,
        eligible: candidates.filter((c) => c.eligible && c.route.payChannel === payChannel).length,
      }))
      .filter((option) => option.eligible > 0)
      .sort((a, b) => (a.payChannel < b.payChannel ? -1 : 1));
  }

  async route(
    bizCode: string,
    amount: bigint,
    payChannel: string,
    strategy: RoutingStrategy,
  ): Promise<RouteDecision> {
    const allowed = this.options.catalogue
      .payChannelsFor(bizCode)
      .filter((pc) => !this.options.catalogue.isInternalPayChannel(pc))
      .filter((pc) => payChannel === '' || pc === payChannel);
    const action = actionOf(bizCode);
    const candidates = await this.judgeFor(allowed, amount, action);
    const chosen = choose(candidates, strategy, this.random);
    if (chosen === undefined) {
      const why = candidates.map((c) => `${c.route.payChannel}/${c.route.channelNo}: ${c.reason}`).join('; ');
      throw new NoRouteError(
        `no eligible route for ${bizCode} and ${amount}: ${why || 'no route configured'}`,
      );
    }
    const routed = withRoute(bizCode, chosen.route.payChannel, chosen.route.channelNo).code;
    this.options.catalogue.validate(routed);
    const ordered = [chosen, ...candidates.filter((c) => c !== chosen)];
    return { chosen, bizCode: routed, candidates: ordered, strategy };
  }

  /** The route named by a routed code, checked now (not the cap: that is reserved atomically at insert). */
  private async routeOf(
    bizCode: string,
    action: ChannelAction,
    amount: bigint,
  ): Promise<{ route: RouteConfig; channel: ChannelNumberConfig }> {
    const code = parseBizCode(bizCode);
    const route = await this.store.route(code.payChannel, code.channelNo);
    const channel = await this.store.channelNumber(code.channelNo);
    if (route === undefined || channel === undefined) {
      throw new ChannelNotFoundError(`no route ${code.payChannel} → ${code.channelNo}`, 'biz_context');
    }
    const reason = ineligibility(route, {
      routes: [route],
      channels: new Map([[channel.channelNo, channel]]),
      amount,
      action,
      nowMs: this.nowMs(),
      usedToday: new Map(),
      circuitOpen: this.options.breakers.openChannels(),
    });
    if (reason !== undefined) {
      throw new RouteNotAvailableError(
        `route ${code.payChannel} → ${code.channelNo} is not available: ${reason}`,
        'biz_context',
      );
    }
    return { route, channel };
  }

  // ---- channel operations ---------------------------------------------------

  private async call(channelNo: string, fn: () => Promise<ChannelOutcome>): Promise<ChannelOutcome> {
    const outcome = await fn();
    this.options.breakers.of(channelNo).record(outcome.healthy);
    return outcome;
  }

  private callbackUrl(channel: ChannelNumberConfig): string {
    return `${this.options.callbackBaseUrl}/callbacks/${channel.protocol.toLowerCase()}/${channel.channelNo}`;
  }

  private firstSync(nowMs: number): Date {
    return new Date(nowMs + this.options.syncSchedule.firstDelayMs);
  }

  private async requireAdapter(channel: ChannelNumberConfig): Promise<ChannelAdapter> {
    const adapter = await this.adapter(channel);
    if (adapter === undefined)
      throw new RouteNotAvailableError(`channel ${channel.channelNo} has no usable credentials`);
    return adapter;
  }

  async createPayment(input: CreatePaymentInput): Promise<Txn> {
    const hash = requestHash('CreateChannelPayment', {
      bizCode: input.bizCode,
      amount: input.amount,
      currency: input.currency,
      subject: input.subject,
    });
    const replay = await this.store.replay(input.requestId, hash);
    if (replay !== undefined) return replay;
    const { route, channel } = await this.routeOf(input.bizCode, 'PAY', input.amount);
    const adapter = await this.requireAdapter(channel);
    const nowMs = this.nowMs();
    const inserted = await this.store.insertTxn({
      requestId: input.requestId,
      operation: 'CreateChannelPayment',
      requestHash: hash,
      kind: 'PAYMENT',
      bizCode: input.bizCode,
      payChannel: route.payChannel,
      channelNo: route.channelNo,
      currency: input.currency,
      amount: input.amount,
      fee: computeFee(input.amount, route.feeRate, route.roundingMode),
      subject: input.subject,
      closeDeadline: new Date(nowMs + channel.closeAfterSeconds * 1000),
      firstSyncAt: this.firstSync(nowMs),
      dailyCap: route.dailyCap,
    });
    if (inserted.kind === 'CAP_EXCEEDED') {
      throw new DailyCapExceededError(
        `daily cap of route ${route.payChannel} → ${route.channelNo} would be exceeded`,
      );
    }
    if (inserted.kind !== 'CREATED') return inserted.kind === 'REPLAY' ? inserted.txn : this.never();
    const txn = inserted.txn;
    const outcome = await this.call(channel.channelNo, () =>
      adapter.createPayment(ref(txn), txn.subject, txn.payChannel, this.callbackUrl(channel)),
    );
    return (await this.store.apply(txn.txnId, outcome, 'create')).txn;
  }

  private never(): never {
    throw new Error('unreachable insert result');
  }

  private async requireTxn(txnId: string): Promise<Txn> {
    const txn = await this.store.txn(txnId);
    if (txn === undefined) throw new TxnNotFoundError(`transaction ${txnId} not found`, 'txn_id');
    return txn;
  }

  /** Asks the channel about a transaction and records the answer; final ones are returned as stored. */
  async refresh(txn: Txn, source: ChangeSource): Promise<Txn> {
    if (isFinal(txn.state)) return txn;
    const channel = await this.requireChannel(txn.channelNo);
    const adapter = await this.adapter(channel);
    if (adapter === undefined) return txn;
    let outcome: ChannelOutcome;
    if (txn.kind === 'PAYMENT')
      outcome = await this.call(channel.channelNo, () => adapter.queryPayment(ref(txn)));
    else if (txn.kind === 'PAYOUT')
      outcome = await this.call(channel.channelNo, () => adapter.queryPayout(ref(txn)));
    else {
      const payment = await this.requireTxn(txn.originalTxnId);
      outcome = await this.call(channel.channelNo, () => adapter.queryRefund(ref(txn), ref(payment)));
    }
    if (outcome.amountFen !== undefined && outcome.amountFen !== txn.amount && outcome.state !== undefined) {
      // The channel reports another amount than we asked for: never act on it; the exception list gets it.
      this.options.logger.error(
        { txn_id: txn.txnId, channel_amount: outcome.amountFen.toString(), amount: txn.amount.toString() },
        'channel reports a different amount; state not changed',
      );
      return txn;
    }
    // A query that learns nothing still announces a brand-new transaction whose create answer was lost.
    if (outcome.state === undefined || outcome.state === 'UNKNOWN') {
      return txn.version === 0n
        ? (await this.store.apply(txn.txnId, { state: 'UNKNOWN', healthy: outcome.healthy }, source)).txn
        : txn;
    }
    return (await this.store.apply(txn.txnId, outcome, source)).txn;
  }

  async queryPayment(txnId: string, kinds: readonly Txn['kind'][]): Promise<Txn> {
    const txn = await this.requireTxn(txnId);
    if (!kinds.includes(txn.kind))
      throw new TxnNotFoundError(`transaction ${txnId} is a ${txn.kind}`, 'txn_id');
    return this.refresh(txn, 'query');
  }

  async closePayment(requestId: string, txnId: string): Promise<Txn> {
    const hash = requestHash('CloseChannelPayment', { txnId });
    const replay = await this.store.replay(requestId, hash);
    if (replay !== undefined) return replay;
    const txn = await this.requireTxn(txnId);
    if (txn.kind !== 'PAYMENT') throw new TxnNotFoundError(`transaction ${txnId} is not a payment`, 'txn_id');
    await this.store.rememberRequest(requestId, 'CloseChannelPayment', hash, txnId);
    if (isFinal(txn.state)) {
      if (txn.state === 'SUCCESS')
        throw new AlreadyPaidError(`payment ${txnId} succeeded; refund it instead`);
      return txn;
    }
    const channel = await this.requireChannel(txn.channelNo);
    const adapter = await this.requireAdapter(channel);
    const outcome = await this.call(channel.channelNo, () => adapter.closePayment(ref(txn)));
    if (outcome.state === 'CLOSED') return (await this.store.apply(txnId, outcome, 'close')).txn;
    // The channel would not close it: learn why (usually it was paid meanwhile).
    const after = await this.refresh(txn, 'close');
    if (after.state === 'SUCCESS')
      throw new AlreadyPaidError(`payment ${txnId} was paid at the channel; refund it instead`);
    return after;
  }

  async refund(input: RefundInput): Promise<Txn> {
    const hash = requestHash('RefundChannelPayment', {
      paymentTxnId: input.paymentTxnId,
      amount: input.amount,
      currency: input.currency,
      reason: input.reason,
      bizCode: input.bizCode ?? null,
    });
    const replay = await this.store.replay(input.requestId, hash);
    if (replay !== undefined) return replay;
    const payment = await this.requireTxn(input.paymentTxnId);
    if (payment.kind !== 'PAYMENT')
      throw new TxnNotFoundError(`transaction ${input.paymentTxnId} is not a payment`, 'payment_txn_id');
    if (payment.state !== 'SUCCESS') {
      throw new PaymentNotSuccessfulError(
        `payment ${payment.txnId} is ${payment.state}, not SUCCESS`,
        'payment_txn_id',
      );
    }
    const channel = await this.requireChannel(payment.channelNo);
    const adapter = await this.requireAdapter(channel);
    const nowMs = this.nowMs();
    const inserted = await this.store.insertTxn({
      requestId: input.requestId,
      operation: 'RefundChannelPayment',
      requestHash: hash,
      kind: 'REFUND',
      bizCode: input.bizCode ?? payment.bizCode,
      payChannel: payment.payChannel,
      channelNo: payment.channelNo,
      currency: input.currency,
      amount: input.amount,
      fee: 0n,
      subject: input.reason,
      originalTxnId: payment.txnId,
      // Refunds settle within a day at every channel we speak to; sync that long, then hand over.
      closeDeadline: new Date(nowMs + 86_400_000),
      firstSyncAt: this.firstSync(nowMs),
      dailyCap: 0n,
    });
    if (inserted.kind === 'REFUND_EXCEEDS') {
      throw new RefundExceedsPaymentError(
        `refund of ${input.amount} exceeds what is left of payment ${payment.txnId}`,
        'amount',
      );
    }
    if (inserted.kind !== 'CREATED') return inserted.kind === 'REPLAY' ? inserted.txn : this.never();
    const refundTxn = inserted.txn;
    const outcome = await this.call(channel.channelNo, () =>
      adapter.refund(ref(refundTxn), ref(payment), input.reason),
    );
    const applied = (await this.store.apply(refundTxn.txnId, outcome, 'refund')).txn;
    // WeChat accepts a refund first and settles it after; one immediate query often finds it settled.
    return applied.state === 'PROCESSING' ? this.refresh(applied, 'query') : applied;
  }

  async createPayout(input: PayoutInput): Promise<Txn> {
    const hash = requestHash('CreatePayout', {
      bizCode: input.bizCode,
      amount: input.amount,
      currency: input.currency,
      accountNo: input.payee.accountNo,
      accountName: input.payee.accountName,
      bankCode: input.payee.bankCode,
      remark: input.payee.remark,
    });
    const replay = await this.store.replay(input.requestId, hash);
    if (replay !== undefined) return replay;
    const { route, channel } = await this.routeOf(input.bizCode, 'PAYOUT', input.amount);
    const adapter = await this.requireAdapter(channel);
    const nowMs = this.nowMs();
    const inserted = await this.store.insertTxn({
      requestId: input.requestId,
      operation: 'CreatePayout',
      requestHash: hash,
      kind: 'PAYOUT',
      bizCode: input.bizCode,
      payChannel: route.payChannel,
      channelNo: route.channelNo,
      currency: input.currency,
      amount: input.amount,
      fee: computeFee(input.amount, route.feeRate, route.roundingMode),
      subject: input.payee.remark,
      payee: input.payee,
      closeDeadline: new Date(nowMs + channel.closeAfterSeconds * 1000),
      firstSyncAt: this.firstSync(nowMs),
      dailyCap: route.dailyCap,
    });
    if (inserted.kind === 'CAP_EXCEEDED')
      throw new DailyCapExceededError(
        `daily cap of ${route.payChannel} → ${route.channelNo} would be exceeded`,
      );
    if (inserted.kind !== 'CREATED') return inserted.kind === 'REPLAY' ? inserted.txn : this.never();
    const txn = inserted.txn;
    const outcome = await this.call(channel.channelNo, () => adapter.createPayout(ref(txn), input.payee));
    return (await this.store.apply(txn.txnId, outcome, 'payout')).txn;
  }

  async downloadStatement(channelNo: string, billDate: string): Promise<StatementRecord> {
    const channel = await this.requireChannel(channelNo);
    const adapter = await this.requireAdapter(channel);
    const bill = await adapter.downloadBill(billDate);
    if (bill === undefined) throw new BillNotReadyError(`channel ${channelNo} has no bill for ${billDate}`);
    return this.store.saveStatement(channelNo, billDate, bill.format, bill.content, bill.lineCount);
  }

  async statement(statementId: string): Promise<{ record: StatementRecord; content: Buffer }> {
    const found = await this.store.statement(statementId);
    if (found === undefined)
      throw new StatementNotFoundError(`statement ${statementId} not found`, 'statement_id');
    return found;
  }

  // ---- status sync -------------------------------------------------------

  /** One sync attempt of a claimed transaction, then its next slot or the exception list. */
  async syncOne(txn: Txn): Promise<void> {
    const after = await this.refresh(txn, 'status_sync');
    if (isFinal(after.state)) return;
    const nowMs = this.nowMs();
    const plan = nextSync(
      this.options.syncSchedule,
      nowMs,
      after.syncAttempts + 1,
      after.closeDeadline.getTime(),
    );
    if (plan.kind === 'EXCEPTION') {
      this.options.logger.warn(
        { txn_id: after.txnId, state: after.state },
        'still not final past the close time: exception list',
      );
      await this.store.markException(after.txnId);
    } else await this.store.scheduleSync(after.txnId, plan.atMs);
  }
}

function ref(txn: Txn): PaymentRef {
  return { txnId: txn.txnId, amountFen: txn.amount, channelTxnNo: txn.channelTxnNo };
}

/** Withdrawals (04) and payouts (06) go out through payout routes; everything else collects. */
function actionOf(bizCode: string): ChannelAction {
  const action = parseBizCode(bizCode).action;
  return action === '04' || action === '06' ? 'PAYOUT' : 'PAY';
}
