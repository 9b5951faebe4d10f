/**
 * The use cases of channel-router over its ports. Handlers stay thin; this
 * class decides: every mutating request is claimed by its request_id first
 * (the platform's one idempotency primitive, in the same transaction as the
 * work), then validated against the registry, the cap reserved and the
 * transaction created; the channel is called through an adapter built from
 * the injected factories (outside any database transaction), and what it
 * said is recorded by `recordOutcome` (state machine, cap release, event).
 * Definite refusals (no route, route not available, no usable credentials)
 * are FAILED_PRECONDITION with a declared reason, so callers can pass them on.
 */
import { randomBytes } from 'node:crypto';
import { ChannelDays } from '@paycore/calendar';
import type { Catalogue } from '@paycore/context';
import { parseBizCode, withRoute } from '@paycore/context';
import { computeFee } from '@paycore/money';
import type { IdempotentRequest } from '@paycore/platform';
import type { Logger } from 'pino';
import type { BreakerBoard } from '../domain/breaker';
import { reserveUnderCap, refundFits } from '../domain/caps';
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
import { type ChannelAction, type ChannelNumberConfig, type RouteConfig } from '../domain/model';
import {
  choose,
  ineligibility,
  judge,
  usageKey,
  type Candidate,
  type RoutingStrategy,
} from '../domain/routing';
import { nextSync, nextSyncAtMs, type SyncSchedule } from '../domain/sync-schedule';
import { isFinal, type TxnKind } from '../domain/txn';
import type { ChangeSource, PayeeRecord, StatementRecord, Txn, TxnRef } from './model';
import { recordOutcome, type ApplyResult } from './outcomes';
import type {
  CallbackRecord,
  ChannelAdapter,
  ChannelAdapterFactories,
  ChannelOutcome,
  ChannelStore,
  ChannelTx,
  NewTxnRow,
  PaymentRef,
  RegistryRepo,
} from './ports';

export interface UnverifiedSample {
  /** At most this many unverified callbacks per channel number are stored per window (0: none). */
  readonly max: number;
  readonly windowMs: number;
}

export interface ChannelRouterOptions {
  readonly store: ChannelStore;
  readonly adapters: ChannelAdapterFactories;
  readonly catalogue: Catalogue;
  readonly sealer: CredentialSealerPort;
  readonly breakers: BreakerBoard;
  readonly logger: Logger;
  /** Base of the callback URLs given to channels, e.g. http://router.internal:9464. */
  readonly callbackBaseUrl: string;
  readonly channelTimeoutMs: number;
  readonly syncSchedule: SyncSchedule;
  readonly unverifiedSample: UnverifiedSample;
  /** The day each channel number's caps count by (default: China's natural day for every channel). */
  readonly channelDays?: ChannelDays;
  readonly nowMs?: () => number;
  readonly random?: () => number;
}

/** Credentials at rest: sealed per channel number; `open` is undefined when the blob does not open. */
export interface CredentialSealerPort {
  seal(channelNo: string, plaintext: string): Buffer;
  open(channelNo: string, sealed: Buffer): string | undefined;
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

/** Unverified callback bodies are kept short: they are evidence of an attack, not payments. */
const UNVERIFIED_BODY_CHARS_MAX = 4096;
/** Refunds settle within a day at every channel we speak to; sync that long, then hand over. */
const REFUND_SYNC_WINDOW_MS = 86_400_000;

/** The request's business fields under their proto names, so a reused id names the field the caller sent. */
function money(amount: bigint, currency: string): { amount_minor: bigint; currency: string } {
  return { amount_minor: amount, currency };
}

function ref(txn: Txn): PaymentRef {
  return { txnId: txn.txnId, amountFen: txn.amount, channelTxnNo: txn.channelTxnNo };
}

/** Withdrawals (04) and payouts (06) go out through payout routes; everything else collects. */
function actionOf(bizCode: string): ChannelAction {
  const action = parseBizCode(bizCode).action;
  return action === '04' || action === '06' ? 'PAYOUT' : 'PAY';
}

/** Transaction ids are sent to channels as merchant order numbers: short, [A-Z0-9] only (WeChat allows 32). */
export function newTxnId(kind: TxnKind, day: string): string {
  const prefix = kind === 'PAYMENT' ? 'P' : kind === 'REFUND' ? 'R' : 'O';
  return `${prefix}${day.replace(/-/g, '')}${randomBytes(10).toString('hex').toUpperCase()}`;
}

/** A fresh transaction and what is needed to call its channel once the transaction has committed. */
type Started =
  | { readonly kind: 'replay'; readonly txn: Txn }
  | {
      readonly kind: 'fresh';
      readonly txn: Txn;
      readonly adapter: ChannelAdapter;
      readonly channel: ChannelNumberConfig;
    };

export class ChannelRouter {
  private readonly nowMs: () => number;
  private readonly random: () => number;
  private readonly channelDays: ChannelDays;

  constructor(private readonly options: ChannelRouterOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.random = options.random ?? Math.random;
    this.channelDays = options.channelDays ?? new ChannelDays();
  }

  private get store(): ChannelStore {
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
    return this.store.transaction('channel.upsert_channel_number', 'READ COMMITTED', async (tx) => {
      await tx.registry.upsertChannelNumber(channel);
      const stored = await tx.registry.channelNumber(channel.channelNo);
      if (stored === undefined) throw new Error('channel number vanished after upsert');
      return stored;
    });
  }

  private knownChannelNo(channelNo: string): boolean {
    // Routed codes end in their channel number; a channel number no code can name could never be routed to.
    return this.options.catalogue.codes().some((code) => code.slice(14) === channelNo);
  }

  async setCredentials(
    channelNo: string,
    map: Readonly<Record<string, string>>,
  ): Promise<ChannelNumberConfig> {
    const channel = await this.requireChannel(this.store.reads.registry, channelNo);
    parseCredentials(channel.protocol, map);
    const sealed = this.options.sealer.seal(channelNo, JSON.stringify(map));
    await this.store.transaction('channel.set_credentials', 'READ COMMITTED', (tx) =>
      tx.registry.setCredentials(channelNo, sealed),
    );
    return { ...channel, hasCredentials: true };
  }

  async upsertRoute(route: RouteConfig): Promise<RouteConfig> {
    await this.requireChannel(this.store.reads.registry, route.channelNo);
    if (!this.options.catalogue.channelNosFor(route.payChannel).includes(route.channelNo)) {
      throw new UnknownPayChannelError(
        `the catalogue has no route ${route.payChannel} → ${route.channelNo}`,
        'route.pay_channel',
      );
    }
    await this.store.transaction('channel.upsert_route', 'READ COMMITTED', (tx) =>
      tx.registry.upsertRoute(route),
    );
    return route;
  }

  async registry(): Promise<{ channels: ChannelNumberConfig[]; routes: RouteConfig[] }> {
    const [channels, routes] = await Promise.all([
      this.store.reads.registry.channelNumbers(),
      this.store.reads.registry.routes(),
    ]);
    return { channels, routes };
  }

  private async requireChannel(registry: RegistryRepo, channelNo: string): Promise<ChannelNumberConfig> {
    const channel = await registry.channelNumber(channelNo);
    if (channel === undefined)
      throw new ChannelNotFoundError(`channel number ${channelNo} is not registered`, 'channel_no');
    return channel;
  }

  private async credentials(
    registry: RegistryRepo,
    channel: ChannelNumberConfig,
  ): Promise<ChannelCredentials | undefined> {
    const sealed = await registry.sealedCredentials(channel.channelNo);
    if (sealed === undefined) return undefined;
    const text = this.options.sealer.open(channel.channelNo, sealed);
    if (text === undefined) {
      this.options.logger.error(
        { channel_no: channel.channelNo },
        'channel credentials do not open under the current key',
      );
      return undefined;
    }
    try {
      return parseCredentials(channel.protocol, JSON.parse(text) as Record<string, string>);
    } catch (err) {
      // Stored under another protocol or by an older version: unusable, which is the operator's to fix.
      this.options.logger.error(
        { channel_no: channel.channelNo, err },
        'stored channel credentials are unusable',
      );
      return undefined;
    }
  }

  private build(channel: ChannelNumberConfig, credentials: ChannelCredentials): ChannelAdapter {
    const settings = {
      channelNo: channel.channelNo,
      baseUrl: channel.baseUrl,
      timeoutMs: this.options.channelTimeoutMs,
      nowMs: this.nowMs,
    };
    const factories = this.options.adapters;
    switch (credentials.protocol) {
      case 'ALIPAY':
        return factories.ALIPAY(credentials, settings);
      case 'WECHAT':
        return factories.WECHAT(credentials, settings);
      case 'BANK':
        return factories.BANK(credentials, settings);
    }
  }

  /** The adapter of a channel number; undefined when it has no usable credentials. */
  private async adapter(
    registry: RegistryRepo,
    channel: ChannelNumberConfig,
  ): Promise<ChannelAdapter | undefined> {
    const credentials = await this.credentials(registry, channel);
    return credentials === undefined ? undefined : this.build(channel, credentials);
  }

  private async requireAdapter(
    registry: RegistryRepo,
    channel: ChannelNumberConfig,
  ): Promise<ChannelAdapter> {
    const adapter = await this.adapter(registry, channel);
    if (adapter === undefined) {
      throw new RouteNotAvailableError(`channel ${channel.channelNo} has no usable credentials`, undefined, {
        channel_no: channel.channelNo,
        cause: 'NO_USABLE_CREDENTIALS',
      });
    }
    return adapter;
  }

  /** The channel number and credentials a callback to `channelNo` must verify against. */
  async callbackCredentials(
    channelNo: string,
  ): Promise<{ channel: ChannelNumberConfig; credentials: ChannelCredentials } | undefined> {
    const registry = this.store.reads.registry;
    const channel = await registry.channelNumber(channelNo);
    if (channel === undefined) return undefined;
    const credentials = await this.credentials(registry, channel);
    return credentials === undefined ? undefined : { channel, credentials };
  }

  // ---- routing -------------------------------------------------------------

  private async judgeFor(
    payChannels: readonly string[],
    amount: bigint,
    action: ChannelAction,
  ): Promise<Candidate[]> {
    const nowMs = this.nowMs();
    const [routes, channels] = await Promise.all([
      this.store.reads.registry.routes(),
      this.store.reads.registry.channelNumbers(),
    ]);
    const candidates = routes.filter((route) => payChannels.includes(route.payChannel));
    const days = candidates.map((r) => ({
      payChannel: r.payChannel,
      channelNo: r.channelNo,
      day: this.channelDays.dayOf(r.channelNo, nowMs),
    }));
    const usage = await this.store.reads.caps.usage(days);
    const usedToday = new Map(
      days.map((k) => {
        const key = usageKey(k.payChannel, k.channelNo);
        return [key, usage.get(`${key}|${k.day}`) ?? 0n] as const;
      }),
    );
    return judge({
      routes: candidates,
      channels: new Map(channels.map((channel) => [channel.channelNo, channel])),
      amount,
      action,
      nowMs,
      usedToday,
      circuitOpen: this.options.breakers.openChannels(),
    });
  }

  private offered(bizCode: string): string[] {
    return this.options.catalogue
      .payChannelsFor(bizCode)
      .filter((pc) => !this.options.catalogue.isInternalPayChannel(pc));
  }

  async listPayChannels(
    bizCode: string,
    amount: bigint,
  ): Promise<{ payChannel: string; label: string; eligible: number }[]> {
    const allowed = this.offered(bizCode);
    const candidates = await this.judgeFor(allowed, amount, actionOf(bizCode));
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
    const allowed = this.offered(bizCode).filter((pc) => payChannel === '' || pc === payChannel);
    const candidates = await this.judgeFor(allowed, amount, actionOf(bizCode));
    const chosen = choose(candidates, strategy, this.random);
    if (chosen === undefined) {
      const why = candidates.map((c) => `${c.route.payChannel}/${c.route.channelNo}: ${c.reason}`).join('; ');
      throw new NoRouteError(
        `no eligible route for ${bizCode} and ${amount}: ${why || 'no route configured'}`,
        'biz_context',
      );
    }
    const routed = withRoute(bizCode, chosen.route.payChannel, chosen.route.channelNo).code;
    this.options.catalogue.validate(routed);
    const ordered = [chosen, ...candidates.filter((c) => c !== chosen)];
    return { chosen, bizCode: routed, candidates: ordered, strategy };
  }

  /** The route named by a routed code, checked now (the cap is reserved under a lock when inserting). */
  private async routeOf(
    registry: RegistryRepo,
    bizCode: string,
    action: ChannelAction,
    amount: bigint,
  ): Promise<{ route: RouteConfig; channel: ChannelNumberConfig }> {
    const code = parseBizCode(bizCode);
    const route = await registry.route(code.payChannel, code.channelNo);
    const channel = await registry.channelNumber(code.channelNo);
    if (route === undefined || channel === undefined) {
      throw new NoRouteError(`no route ${code.payChannel} → ${code.channelNo} is configured`, 'biz_context', {
        pay_channel: code.payChannel,
        channel_no: code.channelNo,
      });
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
        { channel_no: code.channelNo, cause: 'INELIGIBLE', ineligible: reason },
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

  /** What a recorded channel answer changes (through the state machine), with its event. */
  recordOutcome(txnId: string, outcome: ChannelOutcome, source: ChangeSource): Promise<ApplyResult> {
    return recordOutcome(this.store, txnId, outcome, source);
  }

  private async requireTxnIn(
    tx: Pick<ChannelTx, 'transactions'>,
    txnId: string,
    field = 'txn_id',
  ): Promise<Txn> {
    const txn = await tx.transactions.byId(txnId);
    if (txn === undefined) throw new TxnNotFoundError(`transaction ${txnId} not found`, field);
    return txn;
  }

  /** Creates the transaction with its cap reservation (or throws DAILY_CAP_EXCEEDED, leaving nothing). */
  private async insertTxn(
    tx: ChannelTx,
    row: Omit<NewTxnRow, 'txnId' | 'capDate' | 'firstSyncAt'>,
    dailyCap: bigint,
  ): Promise<Txn> {
    const nowMs = this.nowMs();
    const day = this.channelDays.dayOf(row.channelNo, nowMs);
    let capDate: string | undefined;
    if (dailyCap > 0n) {
      capDate = day;
      const used = await tx.caps.lockUsage(row.payChannel, row.channelNo, day);
      const after = reserveUnderCap(used, row.amount, dailyCap);
      if (after === undefined) {
        throw new DailyCapExceededError(
          `daily cap of route ${row.payChannel} → ${row.channelNo} would be exceeded`,
          'amount',
          { pay_channel: row.payChannel, channel_no: row.channelNo, day },
        );
      }
      await tx.caps.setUsage(row.payChannel, row.channelNo, day, after);
    }
    const txnId = newTxnId(row.kind, day);
    const firstSyncAt = new Date(nextSyncAtMs(this.options.syncSchedule, nowMs, nowMs));
    await tx.transactions.insert({
      ...row,
      txnId,
      firstSyncAt,
      ...(capDate !== undefined ? { capDate } : {}),
    });
    return this.requireTxnIn(tx, txnId);
  }

  /**
   * The common shape of the three creating operations: claim the request id,
   * then (fresh only) check and create in the same transaction; the channel is
   * called by the caller after commit. A replay answers the transaction as it is now.
   */
  private async start(
    name: string,
    request: IdempotentRequest,
    create: (tx: ChannelTx) => Promise<{ txn: Txn; adapter: ChannelAdapter; channel: ChannelNumberConfig }>,
  ): Promise<Started> {
    return this.store.transaction(name, 'READ COMMITTED', async (tx): Promise<Started> => {
      const claim = await tx.claim<TxnRef>(request);
      if (claim.kind === 'replay')
        return { kind: 'replay', txn: await this.requireTxnIn(tx, claim.response.txnId) };
      const created = await create(tx);
      await tx.remember(request, { txnId: created.txn.txnId } satisfies TxnRef);
      return { kind: 'fresh', ...created };
    });
  }

  async createPayment(input: CreatePaymentInput): Promise<Txn> {
    const request: IdempotentRequest = {
      requestId: input.requestId,
      operation: 'channel.CreateChannelPayment',
      payload: {
        biz_context: { code: input.bizCode },
        amount: money(input.amount, input.currency),
        subject: input.subject,
      },
    };
    const started = await this.start('channel.create_payment', request, async (tx) => {
      const { route, channel } = await this.routeOf(tx.registry, input.bizCode, 'PAY', input.amount);
      const adapter = await this.requireAdapter(tx.registry, channel);
      const txn = await this.insertTxn(
        tx,
        {
          kind: 'PAYMENT',
          bizCode: input.bizCode,
          payChannel: route.payChannel,
          channelNo: route.channelNo,
          currency: input.currency,
          amount: input.amount,
          fee: computeFee(input.amount, route.feeRate, route.roundingMode),
          subject: input.subject,
          closeDeadline: new Date(this.nowMs() + channel.closeAfterSeconds * 1000),
        },
        route.dailyCap,
      );
      return { txn, adapter, channel };
    });
    if (started.kind === 'replay') return started.txn;
    const { txn, adapter, channel } = started;
    const outcome = await this.call(channel.channelNo, () =>
      adapter.createPayment(ref(txn), txn.subject, txn.payChannel, this.callbackUrl(channel)),
    );
    return (await this.recordOutcome(txn.txnId, outcome, 'create')).txn;
  }

  async txn(txnId: string): Promise<Txn | undefined> {
    return this.store.reads.transactions.byId(txnId);
  }

  async traceHeaders(txnId: string): Promise<Record<string, string>> {
    return this.store.reads.transactions.traceHeaders(txnId);
  }

  /** Asks the channel about a transaction and records the answer; final ones are returned as stored. */
  async refresh(txn: Txn, source: ChangeSource): Promise<Txn> {
    if (isFinal(txn.state)) return txn;
    const registry = this.store.reads.registry;
    const channel = await this.requireChannel(registry, txn.channelNo);
    const adapter = await this.adapter(registry, channel);
    if (adapter === undefined) return txn;
    let outcome: ChannelOutcome;
    if (txn.kind === 'PAYMENT')
      outcome = await this.call(channel.channelNo, () => adapter.queryPayment(ref(txn)));
    else if (txn.kind === 'PAYOUT')
      outcome = await this.call(channel.channelNo, () => adapter.queryPayout(ref(txn)));
    else {
      const payment = await this.requireTxnIn(this.store.reads, txn.originalTxnId);
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
        ? (await this.recordOutcome(txn.txnId, { state: 'UNKNOWN', healthy: outcome.healthy }, source)).txn
        : txn;
    }
    return (await this.recordOutcome(txn.txnId, outcome, source)).txn;
  }

  async queryPayment(txnId: string, kinds: readonly Txn['kind'][]): Promise<Txn> {
    const txn = await this.requireTxnIn(this.store.reads, txnId);
    if (!kinds.includes(txn.kind))
      throw new TxnNotFoundError(`transaction ${txnId} is a ${txn.kind}`, 'txn_id');
    return this.refresh(txn, 'query');
  }

  async closePayment(requestId: string, txnId: string): Promise<Txn> {
    const request: IdempotentRequest = {
      requestId,
      operation: 'channel.CloseChannelPayment',
      payload: { txn_id: txnId },
    };
    const first = await this.store.transaction('channel.close_payment', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<TxnRef>(request);
      if (claim.kind === 'replay')
        return { replay: true, txn: await this.requireTxnIn(tx, claim.response.txnId) } as const;
      const txn = await this.requireTxnIn(tx, txnId);
      if (txn.kind !== 'PAYMENT')
        throw new TxnNotFoundError(`transaction ${txnId} is not a payment`, 'txn_id');
      await tx.remember(request, { txnId } satisfies TxnRef);
      return { replay: false, txn } as const;
    });
    const txn = first.txn;
    if (first.replay) return txn;
    if (isFinal(txn.state)) {
      if (txn.state === 'SUCCESS')
        throw new AlreadyPaidError(`payment ${txnId} succeeded; refund it instead`, 'txn_id');
      return txn;
    }
    const registry = this.store.reads.registry;
    const channel = await this.requireChannel(registry, txn.channelNo);
    const adapter = await this.requireAdapter(registry, channel);
    const outcome = await this.call(channel.channelNo, () => adapter.closePayment(ref(txn)));
    if (outcome.state === 'CLOSED') return (await this.recordOutcome(txnId, outcome, 'close')).txn;
    // The channel would not close it: learn why (usually it was paid meanwhile).
    const after = await this.refresh(txn, 'close');
    if (after.state === 'SUCCESS')
      throw new AlreadyPaidError(`payment ${txnId} was paid at the channel; refund it instead`, 'txn_id');
    return after;
  }

  private async refundable(tx: ChannelTx, input: RefundInput): Promise<Txn> {
    // Locked, so concurrent refunds of one payment are serialised before the headroom check.
    const payment = await tx.transactions.lock(input.paymentTxnId);
    if (payment === undefined || payment.kind !== 'PAYMENT')
      throw new TxnNotFoundError(`payment ${input.paymentTxnId} not found`, 'payment_txn_id');
    if (payment.state !== 'SUCCESS') {
      throw new PaymentNotSuccessfulError(
        `payment ${payment.txnId} is ${payment.state}, not SUCCESS`,
        'payment_txn_id',
      );
    }
    if (!refundFits(payment.amount, await tx.transactions.refundSums(payment.txnId), input.amount)) {
      throw new RefundExceedsPaymentError(
        `refund of ${input.amount} exceeds what is left of payment ${payment.txnId}`,
        'amount',
      );
    }
    return payment;
  }

  async refund(input: RefundInput): Promise<Txn> {
    const request: IdempotentRequest = {
      requestId: input.requestId,
      operation: 'channel.RefundChannelPayment',
      payload: {
        payment_txn_id: input.paymentTxnId,
        amount: money(input.amount, input.currency),
        reason: input.reason,
        biz_context: input.bizCode === undefined ? undefined : { code: input.bizCode },
      },
    };
    let payment: Txn | undefined;
    const started = await this.start('channel.refund', request, async (tx) => {
      payment = await this.refundable(tx, input);
      const channel = await this.requireChannel(tx.registry, payment.channelNo);
      const adapter = await this.requireAdapter(tx.registry, channel);
      const row = {
        kind: 'REFUND' as const,
        bizCode: input.bizCode ?? payment.bizCode,
        payChannel: payment.payChannel,
        channelNo: payment.channelNo,
        currency: input.currency,
        amount: input.amount,
        fee: 0n,
        subject: input.reason,
        originalTxnId: payment.txnId,
        closeDeadline: new Date(this.nowMs() + REFUND_SYNC_WINDOW_MS),
      };
      return { txn: await this.insertTxn(tx, row, 0n), adapter, channel };
    });
    if (started.kind === 'replay' || payment === undefined) return started.txn;
    const { txn, adapter, channel } = started;
    const paid = payment;
    const outcome = await this.call(channel.channelNo, () =>
      adapter.refund(ref(txn), ref(paid), input.reason),
    );
    const applied = (await this.recordOutcome(txn.txnId, outcome, 'refund')).txn;
    // WeChat accepts a refund first and settles it after; one immediate query often finds it settled.
    return applied.state === 'PROCESSING' ? this.refresh(applied, 'query') : applied;
  }

  async createPayout(input: PayoutInput): Promise<Txn> {
    const request: IdempotentRequest = {
      requestId: input.requestId,
      operation: 'channel.CreatePayout',
      payload: {
        biz_context: { code: input.bizCode },
        amount: money(input.amount, input.currency),
        account_no: input.payee.accountNo,
        account_name: input.payee.accountName,
        bank_code: input.payee.bankCode,
        remark: input.payee.remark,
      },
    };
    const started = await this.start('channel.create_payout', request, async (tx) => {
      const { route, channel } = await this.routeOf(tx.registry, input.bizCode, 'PAYOUT', input.amount);
      const adapter = await this.requireAdapter(tx.registry, channel);
      const row = {
        kind: 'PAYOUT' as const,
        bizCode: input.bizCode,
        payChannel: route.payChannel,
        channelNo: route.channelNo,
        currency: input.currency,
        amount: input.amount,
        fee: computeFee(input.amount, route.feeRate, route.roundingMode),
        subject: input.payee.remark,
        payee: input.payee,
        closeDeadline: new Date(this.nowMs() + channel.closeAfterSeconds * 1000),
      };
      return { txn: await this.insertTxn(tx, row, route.dailyCap), adapter, channel };
    });
    if (started.kind === 'replay') return started.txn;
    const { txn, adapter, channel } = started;
    const outcome = await this.call(channel.channelNo, () => adapter.createPayout(ref(txn), input.payee));
    return (await this.recordOutcome(txn.txnId, outcome, 'payout')).txn;
  }

  async downloadStatement(channelNo: string, billDate: string): Promise<StatementRecord> {
    const registry = this.store.reads.registry;
    const channel = await this.requireChannel(registry, channelNo);
    const adapter = await this.requireAdapter(registry, channel);
    const bill = await adapter.downloadBill(billDate);
    if (bill === undefined) throw new BillNotReadyError(`channel ${channelNo} has no bill for ${billDate}`);
    return this.store.transaction('channel.save_statement', 'READ COMMITTED', (tx) =>
      tx.statements.save(channelNo, billDate, bill.format, bill.content, bill.lineCount),
    );
  }

  async statement(statementId: string): Promise<{ record: StatementRecord; content: Buffer }> {
    const found = await this.store.reads.statements.byId(statementId);
    if (found === undefined)
      throw new StatementNotFoundError(`statement ${statementId} not found`, 'statement_id');
    return found;
  }

  async exceptions(limit: number): Promise<Txn[]> {
    return this.store.reads.exceptions.list(limit);
  }

  // ---- callbacks -----------------------------------------------------------

  /**
   * Keeps a callback for audit: every verified one; of the unverified ones
   * (forgeries, noise) only a sample of `unverifiedSample.max` per channel
   * number per window, with a short body, so a flood cannot fill the
   * database. Returns whether it was stored.
   */
  async recordCallback(callback: CallbackRecord): Promise<boolean> {
    const sample = this.options.unverifiedSample;
    if (callback.verified) {
      await this.store.transaction('channel.record_callback', 'READ COMMITTED', (tx) =>
        tx.callbacks.record(callback),
      );
      return true;
    }
    if (sample.max === 0) return false;
    return this.store.transaction('channel.record_callback', 'READ COMMITTED', async (tx) => {
      const since = new Date(this.nowMs() - sample.windowMs);
      if ((await tx.callbacks.unverifiedSince(callback.channelNo, since, sample.max)) >= sample.max)
        return false;
      await tx.callbacks.record({ ...callback, body: callback.body.slice(0, UNVERIFIED_BODY_CHARS_MAX) });
      return true;
    });
  }

  // ---- status sync -------------------------------------------------------

  async claimDue(batchSizeMax: number, leaseMs: number): Promise<Txn[]> {
    return this.store.transaction('channel.claim_due', 'READ COMMITTED', (tx) =>
      tx.sync.claimDue(batchSizeMax, leaseMs),
    );
  }

  async nextSyncDueAt(): Promise<Date | undefined> {
    return this.store.reads.sync.nextDueAt();
  }

  /** One sync attempt of a claimed transaction, then its next slot or the exception list. */
  async syncOne(txn: Txn): Promise<void> {
    const after = await this.refresh(txn, 'status_sync');
    if (isFinal(after.state)) return;
    // Slots count from creation (ADR 0063): dense while the payer's decision is likely, then backing off.
    const plan = nextSync(
      this.options.syncSchedule,
      after.createdAt.getTime(),
      this.nowMs(),
      after.closeDeadline.getTime(),
    );
    if (plan.kind === 'EXCEPTION') {
      this.options.logger.warn(
        { txn_id: after.txnId, state: after.state },
        'still not final past the close time: exception list',
      );
      await this.store.transaction('channel.mark_exception', 'READ COMMITTED', (tx) =>
        tx.exceptions.mark(after.txnId),
      );
    } else {
      await this.store.transaction('channel.schedule_sync', 'READ COMMITTED', (tx) =>
        tx.sync.scheduleSync(after.txnId, plan.atMs),
      );
    }
  }
}
