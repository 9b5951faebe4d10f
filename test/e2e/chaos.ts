/**
 * The load and the kills of the replicas chaos test (replicas-chaos.test.ts):
 * calls spread round-robin over one gRPC client per replica, where a
 * transient failure (the replica died, a dependency is down) retries the SAME
 * request — same request id — on the next replica, as a well-behaved caller
 * does; the mixed flows (balance Pay, channel Pay paid at the sandbox,
 * refunds, withdrawals, account transfers) recorded with what the caller
 * learned; and the kill plan drawn from the run's seeded generator.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { reasonOf } from '@paycore/client';
import { unary } from '@paycore/platform';
import { Side, type AccountServiceClient } from '@paycore/proto/paycore/account/v1/account_service';
import {
  BizMode,
  OrderState,
  PartKind,
  PaymentState,
  type CashierServiceClient,
} from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { cny, part, uid } from './helpers';
import { payAtSandbox, replicaName, type Platform } from './platform';

/** Attempts of one request across replicas before its outcome is left unknown (then the platform must still finish it). */
const ATTEMPTS_MAX = 12;
const CALL_DEADLINE_MS = 15_000;
const BACKOFF_MAX_MS = 2_000;
/** How long a channel Pay's caller waits for the channel transaction id when the answer was lost. */
const TXN_ID_WAIT_MS = 30_000;
export const BIZ_TRANSFER = '10010102050000000000';

const TRANSIENT_CODES: ReadonlySet<number> = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.CANCELLED,
  GrpcStatus.UNKNOWN,
  GrpcStatus.INTERNAL,
  GrpcStatus.ABORTED,
]);

export type Outcome<R> =
  { readonly ok: true; readonly value: R } | { readonly ok: false; readonly reason: string };

/** Transient failures seen, by gRPC code and reason: the figures of a run. */
export type TransientTally = Map<string, number>;

/** One client per replica, taken in turn. */
export class Spread<C> {
  private next = 0;

  constructor(
    private readonly clients: readonly C[],
    private readonly transient: TransientTally,
  ) {}

  /** Runs `fn` on the next replica; a transient failure runs the same request on the one after, bounded. */
  async call<R>(fn: (client: C, deadlineMs: number) => Promise<R>): Promise<Outcome<R>> {
    for (let attempt = 1; ; attempt++) {
      const client = this.clients[this.next++ % this.clients.length];
      if (client === undefined) throw new Error('no clients');
      try {
        return { ok: true, value: await fn(client, CALL_DEADLINE_MS) };
      } catch (err: unknown) {
        const code = (err as { code?: unknown }).code;
        const reason = reasonOf(err) ?? '';
        if (typeof code !== 'number' || !TRANSIENT_CODES.has(code))
          return { ok: false, reason: reason === '' ? String(err) : reason };
        const key = `${GrpcStatus[code]}${reason === '' ? '' : ` ${reason}`}`;
        this.transient.set(key, (this.transient.get(key) ?? 0) + 1);
        if (attempt >= ATTEMPTS_MAX) return { ok: false, reason: 'OUTCOME_UNKNOWN' };
        await sleep(Math.min(BACKOFF_MAX_MS, 100 * 2 ** attempt));
      }
    }
  }
}

export type FlowKind = 'balancePay' | 'channelPay' | 'refund' | 'withdrawal' | 'transfer';
export const FLOW_KINDS: readonly FlowKind[] = [
  'balancePay',
  'channelPay',
  'refund',
  'withdrawal',
  'transfer',
];
/** The mix: relative weights of the flows a client starts. */
const WEIGHTS: Readonly<Record<FlowKind, number>> = {
  balancePay: 30,
  channelPay: 25,
  refund: 15,
  withdrawal: 10,
  transfer: 20,
};

export interface Tally {
  started: number;
  /** The caller got a successful answer (the flow may still be in progress). */
  answered: number;
  /** Refused with a declared reason (by reason). */
  refused: Map<string, number>;
  /** No answer after every attempt. */
  unknown: number;
}

export interface PaidOrder {
  readonly orderId: string;
  refundableMinor: bigint;
}

export interface World {
  readonly p: Platform;
  readonly random: () => number;
  readonly cashier: Spread<CashierServiceClient>;
  readonly account: Spread<AccountServiceClient>;
  readonly merchants: readonly string[];
  readonly payers: readonly string[];
  readonly wallets: readonly string[];
  /** Orders created by the load, by id. */
  readonly orders: Set<string>;
  /** Orders known PAID with something left to refund. */
  readonly paid: PaidOrder[];
  /** Channel-paid orders not yet seen PAID. */
  readonly awaitingChannel: PaidOrder[];
  /** Transfers the account service acknowledged, by request id. */
  readonly transfersAcknowledged: Set<string>;
  readonly tallies: Record<FlowKind, Tally>;
}

export function emptyTallies(): Record<FlowKind, Tally> {
  const tally = (): Tally => ({ started: 0, answered: 0, refused: new Map(), unknown: 0 });
  return {
    balancePay: tally(),
    channelPay: tally(),
    refund: tally(),
    withdrawal: tally(),
    transfer: tally(),
  };
}

const pick = <T>(random: () => number, list: readonly T[]): T => {
  const value = list[Math.floor(random() * list.length)];
  if (value === undefined) throw new Error('empty list');
  return value;
};
const between = (random: () => number, min: number, max: number): bigint =>
  BigInt(min + Math.floor(random() * (max - min + 1)));

export function chooseFlow(random: () => number): FlowKind {
  const total = FLOW_KINDS.reduce((sum, kind) => sum + WEIGHTS[kind], 0);
  let left = random() * total;
  for (const kind of FLOW_KINDS) {
    left -= WEIGHTS[kind];
    if (left < 0) return kind;
  }
  return 'transfer';
}

function record<R>(tally: Tally, outcome: Outcome<R>): Outcome<R> {
  if (outcome.ok) tally.answered += 1;
  else if (outcome.reason === 'OUTCOME_UNKNOWN') tally.unknown += 1;
  else tally.refused.set(outcome.reason, (tally.refused.get(outcome.reason) ?? 0) + 1);
  return outcome;
}

async function createOrder(w: World, merchantId: string, amountMinor: bigint): Promise<string | undefined> {
  const request = {
    requestId: uid('ord'),
    merchantId,
    merchantOrderNo: uid('no'),
    amount: cny(amountMinor),
    product: '100101',
    bizMode: BizMode.BIZ_MODE_INSTANT,
    subject: 'chaos order',
    expireTime: undefined,
    notifyUrl: w.p.notifyUrl,
  };
  const res = await w.cashier.call((c, deadlineMs) =>
    unary(c.createPaymentOrder.bind(c), request, { deadlineMs }),
  );
  const orderId = res.ok ? res.value.order?.orderId : undefined;
  if (orderId !== undefined) w.orders.add(orderId);
  return orderId;
}

async function balancePay(w: World): Promise<void> {
  const tally = w.tallies.balancePay;
  tally.started += 1;
  const amountMinor = between(w.random, 100, 2_000);
  const orderId = await createOrder(w, pick(w.random, w.merchants), amountMinor);
  if (orderId === undefined) return void (tally.unknown += 1);
  const request = {
    requestId: uid('pay'),
    orderId,
    payerId: pick(w.random, w.payers),
    parts: [part(PartKind.PART_KIND_BALANCE, amountMinor)],
  };
  const res = record(
    tally,
    await w.cashier.call((c, deadlineMs) => unary(c.pay.bind(c), request, { deadlineMs })),
  );
  if (res.ok && res.value.payment?.state === PaymentState.PAYMENT_STATE_SUCCEEDED)
    w.paid.push({ orderId, refundableMinor: amountMinor });
}

/** The channel transaction id of the order's payment: from the Pay answer, else asked for until known or final. */
async function channelTxnId(w: Pick<World, 'cashier'>, orderId: string, answered: string): Promise<string> {
  if (answered !== '') return answered;
  const deadline = Date.now() + TXN_ID_WAIT_MS;
  while (Date.now() < deadline) {
    const res = await w.cashier.call((c, deadlineMs) =>
      unary(c.getPaymentOrder.bind(c), { orderId, merchantId: '', merchantOrderNo: '' }, { deadlineMs }),
    );
    const payment = res.ok ? res.value.payments[0] : undefined;
    const txnId = payment?.parts[0]?.channelTxnId ?? '';
    if (txnId !== '') return txnId;
    if (payment?.state === PaymentState.PAYMENT_STATE_FAILED) return '';
    await sleep(300);
  }
  return '';
}

async function channelPay(w: World): Promise<void> {
  const tally = w.tallies.channelPay;
  tally.started += 1;
  const amountMinor = between(w.random, 100, 5_000);
  const orderId = await createOrder(w, pick(w.random, w.merchants), amountMinor);
  if (orderId === undefined) return void (tally.unknown += 1);
  const wechat = w.random() < 0.5;
  const request = {
    requestId: uid('pay'),
    orderId,
    payerId: uid('payer'),
    parts: [part(PartKind.PART_KIND_CHANNEL, amountMinor, { payChannel: wechat ? '2001' : '1001' })],
  };
  const res = record(
    tally,
    await w.cashier.call((c, deadlineMs) => unary(c.pay.bind(c), request, { deadlineMs })),
  );
  const txnId = await channelTxnId(
    w,
    orderId,
    res.ok ? (res.value.payment?.parts[0]?.channelTxnId ?? '') : '',
  );
  if (txnId === '') return;
  // The payer pays; a payment the platform already gave up is refused by the sandbox (409), which is fine.
  await payAtSandbox(w.p.sandboxUrl, wechat ? 'wechat' : 'alipay', txnId).catch(() => undefined);
  w.awaitingChannel.push({ orderId, refundableMinor: amountMinor });
}

/**
 * Tops up a payer's balance through Alipay, paid at the sandbox, and waits until it is credited; a
 * transient failure retries the same top-up (one request id), so a payer is funded exactly once.
 */
export async function fundPayer(
  p: Platform,
  cashier: Spread<CashierServiceClient>,
  payerId: string,
  amountMinor: bigint,
): Promise<void> {
  const request = { requestId: uid('top'), payerId, amount: cny(amountMinor), payChannel: '1001', target: 1 };
  const res = await cashier.call((c, deadlineMs) => unary(c.topUp.bind(c), request, { deadlineMs }));
  if (!res.ok) throw new Error(`top-up for ${payerId}: ${res.reason}`);
  const orderId = res.value.order?.orderId ?? '';
  const txnId = await channelTxnId({ cashier }, orderId, res.value.payment?.parts[0]?.channelTxnId ?? '');
  await payAtSandbox(p.sandboxUrl, 'alipay', txnId);
  const deadline = Date.now() + TXN_ID_WAIT_MS;
  for (;;) {
    const view = await cashier.call((c, deadlineMs) =>
      unary(c.getPaymentOrder.bind(c), { orderId, merchantId: '', merchantOrderNo: '' }, { deadlineMs }),
    );
    if (view.ok && view.value.order?.state === OrderState.ORDER_STATE_PAID) return;
    if (Date.now() > deadline) throw new Error(`top-up ${orderId} for ${payerId} not credited`);
    await sleep(200);
  }
}

/** A channel-paid order seen PAID becomes refundable. */
async function promoteOne(w: World): Promise<void> {
  const waiting = w.awaitingChannel.shift();
  if (waiting === undefined) return;
  const res = await w.cashier.call((c, deadlineMs) =>
    unary(
      c.getPaymentOrder.bind(c),
      { orderId: waiting.orderId, merchantId: '', merchantOrderNo: '' },
      { deadlineMs },
    ),
  );
  const state = res.ok ? res.value.order?.state : undefined;
  if (state === OrderState.ORDER_STATE_PAID) w.paid.push(waiting);
  else if (state === OrderState.ORDER_STATE_WAIT_PAY) w.awaitingChannel.push(waiting);
}

async function refund(w: World): Promise<void> {
  await promoteOne(w);
  await promoteOne(w);
  const index = Math.floor(w.random() * w.paid.length);
  const [order] = w.paid.splice(index, 1);
  if (order === undefined) return;
  const tally = w.tallies.refund;
  tally.started += 1;
  const cap = order.refundableMinor < 1_000n ? Number(order.refundableMinor) : 1_000;
  const amountMinor = between(w.random, 1, cap);
  const request = {
    requestId: uid('rf'),
    orderId: order.orderId,
    merchantRefundNo: uid('rn'),
    amount: cny(amountMinor),
    reason: 'chaos refund',
  };
  const res = record(
    tally,
    await w.cashier.call((c, deadlineMs) => unary(c.refund.bind(c), request, { deadlineMs })),
  );
  order.refundableMinor -= res.ok ? amountMinor : 0n;
  if (order.refundableMinor > 0n) w.paid.push(order);
}

async function withdrawal(w: World): Promise<void> {
  const tally = w.tallies.withdrawal;
  tally.started += 1;
  const request = {
    requestId: uid('wd'),
    payerId: pick(w.random, w.payers),
    amount: cny(between(w.random, 100, 1_000)),
    accountNo: '6222020202020202',
    accountName: 'Chaos Payer',
    bankCode: 'ICBC',
  };
  record(tally, await w.cashier.call((c, deadlineMs) => unary(c.withdraw.bind(c), request, { deadlineMs })));
}

async function transfer(w: World): Promise<void> {
  const tally = w.tallies.transfer;
  tally.started += 1;
  const source = pick(w.random, w.wallets);
  const target = pick(
    w.random,
    w.wallets.filter((wallet) => wallet !== source),
  );
  const amount = cny(between(w.random, 1, 300));
  const request = {
    requestId: uid('tr'),
    bizContext: { code: BIZ_TRANSFER },
    legs: [
      { accountId: source, side: Side.SIDE_DEBIT, amount },
      { accountId: target, side: Side.SIDE_CREDIT, amount },
    ],
    memo: 'chaos transfer',
  };
  const res = record(
    tally,
    await w.account.call((c, deadlineMs) => unary(c.transfer.bind(c), request, { deadlineMs })),
  );
  if (res.ok) w.transfersAcknowledged.add(request.requestId);
}

const FLOWS: Readonly<Record<FlowKind, (w: World) => Promise<void>>> = {
  balancePay,
  channelPay,
  refund,
  withdrawal,
  transfer,
};

/** One client: starts flows from the mix, one at a time, until `untilMs`. */
export async function runClient(w: World, untilMs: number): Promise<void> {
  while (Date.now() < untilMs) await FLOWS[chooseFlow(w.random)](w);
}

export const SERVICES = [
  'account',
  'ledger',
  'channel-router',
  'cashier',
  'reconciliation',
  'settlement',
] as const;

export interface Kill {
  readonly service: string;
  readonly process: string;
  /** Milliseconds after the load started. */
  readonly atMs: number;
  /** Wall-clock time the process was seen dead. */
  diedAtMs?: number;
  restartedAtMs?: number;
}

/** One replica of each service, killed at a seeded moment between a quarter and two fifths of the load, a few seconds apart (so a restarted one rejoins while the load still runs). */
export function planKills(random: () => number, loadMs: number, replicas: number): Kill[] {
  const baseMs = Math.floor(loadMs * (0.25 + 0.15 * random()));
  return SERVICES.map((service) => ({
    service,
    process: replicaName(service, Math.floor(random() * replicas)),
    atMs: baseMs + Math.floor(random() * 3_000),
  }));
}

/** Carries out the plan: SIGKILL, wait for the death, and (when asked) start the replica again after `restartAfterMs`. */
export async function executeKills(
  p: Platform,
  kills: Kill[],
  loadStartMs: number,
  restartAfterMs: number | undefined,
): Promise<void> {
  await Promise.all(
    kills.map(async (kill) => {
      await sleep(Math.max(0, loadStartMs + kill.atMs - Date.now()));
      const child = p.process(kill.process);
      child.kill('SIGKILL');
      await child.exited;
      kill.diedAtMs = Date.now();
      if (restartAfterMs === undefined) return;
      await sleep(restartAfterMs);
      await p.restart(kill.process);
      kill.restartedAtMs = Date.now();
    }),
  );
}
