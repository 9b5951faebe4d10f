/**
 * What channel-router's use cases need from the outside world, in their own
 * words. The pg adapter implements ChannelStore and ChannelTx (one
 * repository per aggregate, no rules); adapters/channels implement
 * ChannelAdapter, one factory per protocol, injected. The use cases hold
 * the rules (with the pure domain) and never see SQL or a driver.
 */
import type { IsolationLevel, TransitionResult, TxPort } from '@paycore/platform';
import type { RefundSums } from '../domain/caps';
import type { ChannelCredentials } from '../domain/credentials';
import type { ChannelNumberConfig, ChannelProtocol, RouteConfig } from '../domain/model';
import type { TxnKind, TxnState } from '../domain/txn';
import type { ChangeSource, PayeeRecord, StatementRecord, Txn } from './model';

// ---- the channel adapter port ----------------------------------------------

export interface ChannelOutcome {
  /** undefined: the channel told us nothing new (e.g. a query that found no such order yet). */
  readonly state: TxnState | undefined;
  /** false when the channel did not answer usefully (network, timeout, system error, unverifiable). */
  readonly healthy: boolean;
  readonly channelTxnNo?: string;
  readonly payUrl?: string;
  readonly failureCode?: string;
  readonly failureMessage?: string;
  /** The channel certainly did not act, so another channel number may be tried. */
  readonly retryableElsewhere?: boolean;
  /** Amount the channel reports for the transaction, when it reports one (checked against ours). */
  readonly amountFen?: bigint;
}

export interface PaymentRef {
  readonly txnId: string;
  readonly amountFen: bigint;
  readonly channelTxnNo: string;
}

export type Payee = PayeeRecord;

export interface BillFile {
  readonly format: 'ALIPAY_TRADE_ZIP' | 'WECHAT_TRADE_ALL';
  readonly content: Buffer;
  readonly lineCount: number;
}

/** The operations channel-router needs from a channel; an outcome is returned, never thrown. */
export interface ChannelAdapter {
  createPayment(
    payment: PaymentRef,
    subject: string,
    payChannel: string,
    notifyUrl: string,
  ): Promise<ChannelOutcome>;
  queryPayment(payment: PaymentRef): Promise<ChannelOutcome>;
  closePayment(payment: PaymentRef): Promise<ChannelOutcome>;
  refund(refund: PaymentRef, payment: PaymentRef, reason: string): Promise<ChannelOutcome>;
  queryRefund(refund: PaymentRef, payment: PaymentRef): Promise<ChannelOutcome>;
  createPayout(payout: PaymentRef, payee: Payee): Promise<ChannelOutcome>;
  queryPayout(payout: PaymentRef): Promise<ChannelOutcome>;
  /** undefined when the channel has no bill for the date (yet). */
  downloadBill(billDate: string): Promise<BillFile | undefined>;
}

export interface AdapterSettings {
  readonly channelNo: string;
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly nowMs: () => number;
}

/** One factory per protocol: the registry the router builds adapters from (no `new` in use cases). */
export type ChannelAdapterFactories = {
  readonly [P in ChannelProtocol]: (
    credentials: Extract<ChannelCredentials, { protocol: P }>,
    settings: AdapterSettings,
  ) => ChannelAdapter;
};

// ---- the store port ---------------------------------------------------------

export interface RegistryRepo {
  upsertChannelNumber(channel: ChannelNumberConfig): Promise<void>;
  /** false when the channel number does not exist. */
  setCredentials(channelNo: string, sealed: Buffer): Promise<boolean>;
  upsertRoute(route: RouteConfig): Promise<void>;
  channelNumber(channelNo: string): Promise<ChannelNumberConfig | undefined>;
  /** At most REGISTRY_ROWS_MAX, by channel number. */
  channelNumbers(): Promise<ChannelNumberConfig[]>;
  /** At most REGISTRY_ROWS_MAX, by (pay channel, channel number). */
  routes(): Promise<RouteConfig[]>;
  route(payChannel: string, channelNo: string): Promise<RouteConfig | undefined>;
  sealedCredentials(channelNo: string): Promise<Buffer | undefined>;
}

/** The amount reserved against a route's daily cap on one channel day. */
export interface CapsRepo {
  /** The usage of (route, day), creating a zero row if none; the row stays locked to the end of the transaction. */
  lockUsage(payChannel: string, channelNo: string, day: string): Promise<bigint>;
  setUsage(payChannel: string, channelNo: string, day: string, usedMinor: bigint): Promise<void>;
  /** Usage of the given (route, day) pairs; missing pairs are absent. Keyed `usageKey|day`. */
  usage(
    keys: readonly { payChannel: string; channelNo: string; day: string }[],
  ): Promise<Map<string, bigint>>;
}

export interface NewTxnRow {
  readonly txnId: string;
  readonly kind: TxnKind;
  readonly bizCode: string;
  readonly payChannel: string;
  readonly channelNo: string;
  readonly currency: string;
  readonly amount: bigint;
  readonly fee: bigint;
  readonly subject: string;
  readonly payee?: PayeeRecord;
  readonly originalTxnId?: string;
  /** The channel day whose cap counter holds this amount; undefined = nothing reserved. */
  readonly capDate?: string;
  readonly closeDeadline: Date;
  readonly firstSyncAt: Date;
}

/** What a recorded channel answer sets beside the state; final ones also stop status sync. */
export interface TxnDetails {
  readonly version: bigint;
  readonly final: boolean;
  readonly channelTxnNo: string;
  readonly payUrl: string;
  readonly failureCode: string;
  readonly failureMessage: string;
  readonly retryableElsewhere: boolean;
}

export interface TransactionsRepo {
  /** Inserts in the initial state, with the trace context of the current request. */
  insert(row: NewTxnRow): Promise<void>;
  byId(txnId: string): Promise<Txn | undefined>;
  /** Reads and locks the row to the end of the transaction. */
  lock(txnId: string): Promise<Txn | undefined>;
  /** The guarded state change (from-states read from the domain's transition table). */
  moveTo(txnId: string, to: TxnState, details: TxnDetails): Promise<TransitionResult<TxnState>>;
  /** Records details and a new version without a state change (a new transaction's first announcement). */
  recordDetails(txnId: string, details: TxnDetails): Promise<void>;
  setChannelTxnNo(txnId: string, channelTxnNo: string): Promise<void>;
  /** Forgets the cap reservation once it has been given back (so it is given back once). */
  clearCapDate(txnId: string): Promise<void>;
  /** Refund amounts of a payment per state (at most one row per state). */
  refundSums(paymentTxnId: string): Promise<RefundSums>;
  /** The trace context of the request that created the transaction ({} if none was active). */
  traceHeaders(txnId: string): Promise<Record<string, string>>;
}

export interface SyncRepo {
  /** Claims up to `batchSizeMax` due transactions by pushing their next sync `leaseMs` ahead (replicas skip locked rows). */
  claimDue(batchSizeMax: number, leaseMs: number): Promise<Txn[]>;
  /** Next attempt at `atMs` if the transaction is still open. */
  scheduleSync(txnId: string, atMs: number): Promise<void>;
  /** The earliest next sync of any transaction (one indexed statement), undefined when none is scheduled. */
  nextDueAt(): Promise<Date | undefined>;
}

/** What the status sync loop sleeps on: woken when a transaction is created (here or by a peer), or at its timeout. */
export interface SyncWake {
  wait(timeoutMs?: number): Promise<'signal' | 'backstop' | 'closed'>;
  close(): void;
}

export interface ExceptionsRepo {
  /** Stops status sync of a still-open transaction and puts it on the exception list. */
  mark(txnId: string): Promise<void>;
  /** Oldest first. */
  list(limit: number): Promise<Txn[]>;
}

export interface StatementsRepo {
  save(
    channelNo: string,
    billDate: string,
    format: string,
    content: Buffer,
    lineCount: number,
  ): Promise<StatementRecord>;
  byId(statementId: string): Promise<{ record: StatementRecord; content: Buffer } | undefined>;
}

export interface CallbackRecord {
  readonly channelNo: string;
  readonly txnId: string | undefined;
  readonly verified: boolean;
  readonly outcome: string;
  readonly body: string;
}

export interface CallbacksRepo {
  record(callback: CallbackRecord): Promise<void>;
  /** How many unverified callbacks of the channel number were stored since `since`, counting at most `limit`. */
  unverifiedSince(channelNo: string, since: Date, limit: number): Promise<number>;
}

export interface TxnEvents {
  /** Writes channel.txn_updated for `after` to the outbox (previous undefined: the first announcement). */
  updated(after: Txn, previous: TxnState | undefined, source: ChangeSource): Promise<void>;
}

export interface ChannelTx extends TxPort {
  readonly registry: RegistryRepo;
  readonly caps: CapsRepo;
  readonly transactions: TransactionsRepo;
  readonly sync: SyncRepo;
  readonly exceptions: ExceptionsRepo;
  readonly statements: StatementsRepo;
  readonly callbacks: CallbacksRepo;
  readonly events: TxnEvents;
}

export interface ChannelStore {
  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: ChannelTx) => Promise<T>): Promise<T>;
  /** Plain reads outside any transaction (each one statement). */
  readonly reads: Pick<
    ChannelTx,
    'registry' | 'caps' | 'transactions' | 'sync' | 'exceptions' | 'statements'
  >;
}
