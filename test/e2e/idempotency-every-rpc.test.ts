/**
 * Every mutating RPC of every service treats its idempotency key the same
 * way, over real gRPC against the whole platform as real processes
 * (platform.ts).
 *
 * The list of RPCs is read from the generated service descriptors, not
 * written by hand: every method that is not a read (Get*, List*, Query*,
 * Download*, or one of the few reads named in READS with the reason) must
 * have a case in the table below, and the test fails on an RPC without one,
 * so a new RPC cannot be forgotten.
 *
 * For each case, in this order, after its prerequisites exist:
 * 1. the request under a fresh id succeeds;
 * 2. the same id with the same payload answers the first answer again,
 *    byte for byte (the response message re-encoded);
 * 3. the same id with a payload that differs in one named field is
 *    ALREADY_EXISTS / IDEMPOTENCY_KEY_REUSED, and ErrorInfo.metadata.field
 *    names that field (its proto path, or the path's last segments when the
 *    service flattens the request). The changed payload is chosen so that,
 *    evaluated as a new request, it would pass or fail a state check (a
 *    second refund, another order, a closed order): the answer proves the
 *    claim came first;
 * 4. an empty id and a 129-character id are INVALID_ARGUMENT with a field
 *    violation on the id, although the same request now meets a state that
 *    would refuse or replay it (the id is checked before the state).
 * Cases may add a check of their own (e.g. one refund exists, not three).
 *
 * The list of services is checked too: every gRPC service generated under
 * packages/proto/src/gen/paycore/<package>/v1/*_service.ts (each exported
 * `XxxServiceService`) is read from the directory at test time, and the test
 * fails on one that is neither in SERVICES nor in EXCLUDED_SERVICES with the
 * reason, so a new service cannot be forgotten either. (The channel sandbox
 * stands in for the outside channels over HTTP and has no gRPC API.)
 *
 * The registry RPCs of channel-router carry no idempotency key: they are
 * last-write-wins upserts (ADR 0044). Their case proves the property that
 * makes that safe: the same request twice answers the same bytes and
 * leaves one row.
 *
 * This test calls the services through raw gRPC clients, not @paycore/client
 * like the other end-to-end tests, on purpose: it chooses every request id
 * itself (the client would put a fresh key in place of the empty id of step
 * 4), compares the response bytes, and must see each refusal as the server
 * sent it, without the client's retries.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { expect } from 'chai';
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { decodeStatusDetails, unary } from '@paycore/platform';
import {
  AccountServiceService,
  OwnerType,
  PostingMode,
  Side,
  type TransferLeg,
} from '@paycore/proto/paycore/account/v1/account_service';
import { StoredValueServiceService } from '@paycore/proto/paycore/account/v1/stored_value_service';
import {
  BizMode,
  CashierServiceService,
  PartKind,
  Resolution as CashierResolution,
  TopUpTarget,
} from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { ChannelServiceService } from '@paycore/proto/paycore/channel/v1/channel_service';
import { TxnState } from '@paycore/proto/paycore/channel/v1/types';
import {
  EntrySide,
  LedgerServiceService,
  NormalSide,
  SubjectCategory,
} from '@paycore/proto/paycore/ledger/v1/ledger_service';
import { Resolution as ReconResolution } from '@paycore/proto/paycore/reconciliation/v1/events';
import {
  ReconciliationServiceService,
  type ReconciliationServiceClient,
  type UploadStatementRequest,
  type UploadStatementResponse,
} from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
import {
  CycleKind,
  FeeBearer,
  FeeKind,
  SettlementServiceService,
  ShareKind,
  TierBasis,
} from '@paycore/proto/paycore/settlement/v1/settlement_service';
import iconv from 'iconv-lite';
import { payAtSandbox, startPlatform, waitFor as waitUpTo, type Platform } from './platform';
import { chinaToday, cny, createOrder, fundPayer, part, registerMerchant, uid } from './helpers';

/** A loaded shared machine delays events between services: conditions get two minutes. */
function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  return waitUpTo(what, fn, timeoutMs);
}

interface MethodDefinition {
  readonly path: string;
  readonly requestStream?: boolean;
  readonly responseSerialize: (value: never) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => unknown;
}
type ServiceDefinition = Readonly<Record<string, MethodDefinition>>;
type AnyRequest = Record<string, unknown> & { requestId?: string };
type Call = (request: AnyRequest) => Promise<Buffer>;

const SERVICES: Readonly<Record<string, ServiceDefinition>> = {
  account: AccountServiceService,
  storedValue: StoredValueServiceService,
  ledger: LedgerServiceService,
  channel: ChannelServiceService,
  cashier: CashierServiceService,
  recon: ReconciliationServiceService,
  settlement: SettlementServiceService,
};

/** Generated gRPC services deliberately not walked, by full name, each with the reason. */
const EXCLUDED_SERVICES: Readonly<Record<string, string>> = {};

const GEN_ROOT = path.resolve(__dirname, '..', '..', 'packages', 'proto', 'src', 'gen', 'paycore');

/** The full service names ("paycore.x.v1.XService") of a service definition's methods. */
function serviceNamesOf(definition: ServiceDefinition): string[] {
  return [...new Set(Object.values(definition).map((m) => rpcName(m).split('/')[0] ?? ''))];
}

/**
 * Every gRPC service generated under paycore/<package>/v1/*_service.ts: the
 * module's exports named `…ServiceService` whose values are method
 * definitions (a `path` each), by full service name.
 */
function generatedServices(): Map<string, string> {
  const load = createRequire(__filename);
  const found = new Map<string, string>();
  for (const pkg of readdirSync(GEN_ROOT, { withFileTypes: true })) {
    if (!pkg.isDirectory()) continue;
    const dir = path.join(GEN_ROOT, pkg.name, 'v1');
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((file) => file.endsWith('_service.ts'));
    } catch {
      continue;
    }
    for (const file of files) {
      const exported = load(path.join(dir, file)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(exported)) {
        if (!name.endsWith('ServiceService') || typeof value !== 'object' || value === null) continue;
        for (const service of serviceNamesOf(value as ServiceDefinition))
          found.set(service, `${pkg.name}/v1/${file} ${name}`);
      }
    }
  }
  return found;
}

const ALREADY_EXISTS: number = GrpcStatus.ALREADY_EXISTS;
const INVALID_ARGUMENT: number = GrpcStatus.INVALID_ARGUMENT;

const READ_PREFIX = /^(Get|List|Query|Download)/;
/** Reads whose names do not say so, each with the reason it writes nothing. */
const READS: Readonly<Record<string, string>> = {
  'paycore.channel.v1.ChannelService/Route':
    'decides a route for the caller; records nothing (scope channel:read)',
};

const BIZ_ACCOUNT = '10010102050000000000';
const BIZ_ADJUST = '90010101080001000000';
const ALIPAY_QR = '10010101011001100001';
const PAYOUT = '10050101064001300001';
const BANK = '300001';
const ALIPAY = '100001';
const OPERATOR = 'ops-idem';
/** Stored value: ad-credit coins bought (top-up) and spent (consume). */
const BIZ_SV_TOP_UP = '10030103030000000000';
const BIZ_SV_CONSUME = '10030103070003000000';
const SV_ASSET = 'ADCOIN';
const SV_TYPE = 'LISTING_BOOST';
const DAY_MS = 86_400_000;

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** The RPC's full name, "paycore.x.v1.XService/Method", from its descriptor path. */
function rpcName(definition: MethodDefinition): string {
  return definition.path.replace(/^\//, '');
}

interface Refusal {
  readonly code: number;
  readonly reason: string;
  readonly field: string;
  readonly violations: readonly string[];
  readonly message: string;
}

async function refusalOf(call: Promise<unknown>): Promise<Refusal> {
  try {
    await call;
  } catch (err) {
    const decoded = decodeStatusDetails(err as ServiceError);
    return {
      code: decoded.code,
      reason: decoded.errorInfo?.reason ?? '',
      field: decoded.errorInfo?.metadata['field'] ?? '',
      violations: decoded.badRequest?.fieldViolations.map((v) => v.field) ?? [],
      message: decoded.message,
    };
  }
  return {
    code: GrpcStatus.OK,
    reason: 'SUCCEEDED',
    field: '',
    violations: [],
    message: 'the call succeeded',
  };
}

function codeName(code: number): string {
  return GrpcStatus[code] ?? String(code);
}

/** The first differing top-level fields of two encoded responses of `rpc`, as JSON. */
function describeDiff(rpc: string, first: Buffer, second: Buffer): string {
  const method = Object.values(SERVICES)
    .flatMap((definition) => Object.values(definition))
    .find((m) => rpcName(m) === rpc);
  if (!method) return 'bytes differ';
  const show = (bytes: Buffer): string =>
    JSON.stringify(method.responseDeserialize(bytes), (_key, value: unknown) =>
      typeof value === 'bigint' ? value.toString() : value,
    );
  return `first ${show(first).slice(0, 1_500)} then ${show(second).slice(0, 1_500)}`;
}

/** True when `named` is the proto path `expected` or its last dotted segments. */
function namesField(named: string, expected: string): boolean {
  return named === expected || expected.endsWith(`.${named}`);
}

type Builder = (requestId: string) => AnyRequest;

interface Differ {
  /** Proto paths of the changed fields; the error may name any of them. */
  readonly fields: readonly string[];
  readonly change: (request: AnyRequest) => AnyRequest;
}

interface Case {
  /** Builds the prerequisites and returns the valid request under an id. */
  readonly prepare: () => Builder | Promise<Builder>;
  /** Absent for RPCs without an idempotency key (ADR 0044). */
  readonly differ?: Differ;
  /** A check of the case's own after the refusals (given the first request), e.g. one refund exists. */
  readonly after?: (request: AnyRequest) => Promise<void>;
}

describe('every mutating RPC of every service: one idempotency behaviour (every service a real process)', function () {
  this.timeout(900_000);
  let p: Platform;
  const calls = new Map<string, Call>();

  before(async function () {
    this.timeout(900_000);
    p = await startPlatform({
      cashier: { CASHIER_EXCEPTION_WINDOW_MS: '2000' },
      // The expiry job runs often, so the reactivation case gets its expired lot soon.
      account: { ACCOUNT_SV_JOB_TICK_MS: '200' },
    });
    const clients: Record<string, object> = {
      account: p.account,
      storedValue: p.storedValue,
      ledger: p.ledger,
      channel: p.channel,
      cashier: p.cashier,
      recon: p.recon,
      settlement: p.settlement,
    };
    for (const [service, definition] of Object.entries(SERVICES)) {
      for (const [key, method] of Object.entries(definition)) {
        const client = clients[service] as Record<string, (...args: unknown[]) => unknown>;
        const bound = client[key]?.bind(client);
        if (!bound) throw new Error(`no client method ${service}.${key}`);
        if (method.requestStream === true) {
          // Client-streaming uploads: the case's request is the metadata plus `content`, sent in chunks.
          calls.set(rpcName(method), async (request) => {
            const response = await uploadInChunks(p.recon, request);
            return method.responseSerialize(response as never);
          });
          continue;
        }
        calls.set(rpcName(method), async (request) => {
          const response = await unary(bound as never, request);
          return method.responseSerialize(response as never);
        });
      }
    }
  });
  after(async () => {
    await p?.close();
  });

  const call = (rpc: string, request: AnyRequest): Promise<Buffer> => {
    const fn = calls.get(rpc);
    if (!fn) throw new Error(`no RPC ${rpc}`);
    return fn(request);
  };
  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    Number((await p.query<{ n: string }>(sql, params))[0]?.n ?? -1);

  // Shared prerequisites, made once and lazily.
  let merchant: Promise<string> | undefined;
  const merchantId = (): Promise<string> => {
    merchant ??= (async () => {
      const id = await registerMerchant(p);
      await waitFor('merchant known to settlement', async () =>
        (await count('SELECT count(*) AS n FROM settlement.merchants WHERE merchant_id = $1', [id])) === 1
          ? true
          : undefined,
      );
      return id;
    })();
    return merchant;
  };
  let fundedPayer: Promise<string> | undefined;
  const payerId = (): Promise<string> => {
    fundedPayer ??= (async () => {
      const id = uid('payer');
      await fundPayer(p, id, 50_000n, (txnId) => payAtSandbox(p.sandboxUrl, 'alipay', txnId));
      return id;
    })();
    return fundedPayer;
  };
  const accounts = { debit: '', credit: '' };
  const openPair = async (): Promise<{ debit: string; credit: string }> => {
    if (accounts.debit !== '') return accounts;
    for (const side of [Side.SIDE_DEBIT, Side.SIDE_CREDIT]) {
      const res = await unary(p.account.openAccount.bind(p.account), {
        requestId: uid('open'),
        bizContext: { code: BIZ_ACCOUNT },
        ownerType: OwnerType.OWNER_TYPE_CUSTOMER,
        ownerId: uid('owner'),
        subjectCode: side === Side.SIDE_DEBIT ? '122101' : '224101',
        currency: 'CNY',
        normalSide: side,
        allowOverdraft: side === Side.SIDE_DEBIT,
      });
      if (side === Side.SIDE_DEBIT) accounts.debit = res.account?.accountId ?? '';
      else accounts.credit = res.account?.accountId ?? '';
    }
    return accounts;
  };
  const legs = (from: string, to: string, amountMinor: bigint): TransferLeg[] => [
    { accountId: from, side: Side.SIDE_DEBIT, amount: cny(amountMinor) },
    { accountId: to, side: Side.SIDE_CREDIT, amount: cny(amountMinor) },
  ];
  const fundedCredit = async (): Promise<string> => {
    const pair = await openPair();
    await call('paycore.account.v1.AccountService/Transfer', {
      requestId: uid('fund'),
      bizContext: { code: BIZ_ACCOUNT },
      legs: legs(pair.debit, pair.credit, 10_000n),
      memo: 'fund',
    });
    return pair.credit;
  };
  const paidOrder = async (mode = BizMode.BIZ_MODE_INSTANT): Promise<string> => {
    const order = await createOrder(p, await merchantId(), 1_000n, { mode, notify: false });
    await unary(p.cashier.pay.bind(p.cashier), {
      requestId: uid('pay'),
      orderId: order.orderId,
      payerId: await payerId(),
      parts: [part(PartKind.PART_KIND_BALANCE, 1_000n)],
    });
    return order.orderId;
  };
  const channelPayment = async (amountMinor: bigint): Promise<string> => {
    const res = await unary(p.channel.createChannelPayment.bind(p.channel), {
      requestId: uid('cp'),
      bizContext: { code: ALIPAY_QR },
      amount: cny(amountMinor),
      subject: 'idempotency',
    });
    return res.transaction?.txnId ?? '';
  };
  const bankCsv = (serial: string, yuan: string): Buffer =>
    iconv.encode(
      `流水号,付款人,金额,币种,起息日\r\n${serial},上海某某贸易有限公司,${yuan},CNY,${chinaToday()}\r\n`,
      'gbk',
    );
  const payoutBill = (date: string, no: string, fen: number): Buffer =>
    Buffer.from(
      [
        'out_payout_no,bank_serial,type,status,amount_fen,fee_fen,currency,finished_at,account_no_masked,remark',
        `${no},S-${no},代付,成功,${fen},0,CNY,${date.replace(/-/g, '')}120000,,`,
      ].join('\r\n'),
    );
  const yesterday = addDays(chinaToday(), -1);
  /** The bank channel number's routes before the route upsert case: the upsert adds none. */
  let listedRoutes = -1;

  // Stored value: a funding account (bank deposits, debit-normal), and lots bought for a member.
  let fundingAccount: Promise<string> | undefined;
  const fundingAccountId = (): Promise<string> => {
    fundingAccount ??= (async () => {
      const opened = await unary(p.account.openAccount.bind(p.account), {
        requestId: uid('open-bank'),
        bizContext: { code: BIZ_SV_TOP_UP },
        ownerType: OwnerType.OWNER_TYPE_INTERNAL,
        ownerId: uid('sv-bank'),
        subjectCode: '100201',
        currency: 'CNY',
        normalSide: Side.SIDE_DEBIT,
        allowOverdraft: true,
      });
      return opened.account?.accountId ?? '';
    })();
    return fundingAccount;
  };
  const svCall = (method: string, request: AnyRequest): Promise<Buffer> =>
    call(`paycore.account.v1.StoredValueService/${method}`, request);
  /** Buys 1,000 coins for 100.00 CNY for `ownerId`; returns the paid lot's id. */
  const buyLot = async (
    ownerId: string,
    dates: { effectiveTime: Date; expireTime: Date } = {
      effectiveTime: new Date(Date.now() - 60_000),
      expireTime: new Date(Date.now() + 30 * DAY_MS),
    },
  ): Promise<string> => {
    const bought = await unary(p.storedValue.purchase.bind(p.storedValue), {
      requestId: uid('buy'),
      bizContext: { code: BIZ_SV_TOP_UP },
      contractId: uid('K'),
      ownerId,
      asset: SV_ASSET,
      quantity: 1_000n,
      paid: cny(10_000n),
      promotionalQuantity: 0n,
      consumptionType: '',
      ...dates,
      fundingAccountId: await fundingAccountId(),
    });
    return bought.lots[0]?.lotId ?? '';
  };
  const tryConsume = (ownerId: string, consumptionId: string, quantity: bigint): Promise<unknown> =>
    unary(p.storedValue.tryConsume.bind(p.storedValue), {
      requestId: uid('try'),
      bizContext: { code: BIZ_SV_CONSUME },
      consumptionId,
      ownerId,
      asset: SV_ASSET,
      consumptionType: SV_TYPE,
      quantity,
      timeout: { seconds: 600n, nanos: 0 },
    });
  const consumptionState = async (consumptionId: string): Promise<string> =>
    (
      await p.query<{ state: string }>(
        'SELECT state FROM account.sv_consumptions WHERE consumption_id = $1',
        [consumptionId],
      )
    )[0]?.state ?? 'NONE';
  const lotBuckets = async (lotId: string): Promise<{ frozen: string; held: string; available: string }> =>
    (
      await p.query<{ frozen: string; held: string; available: string }>(
        `SELECT frozen_quantity::text AS frozen, held_quantity::text AS held, available_quantity::text AS available
           FROM account.sv_lots WHERE lot_id = $1`,
        [lotId],
      )
    )[0] ?? { frozen: '', held: '', available: '' };

  const CASES: Readonly<Record<string, Case>> = {
    // account — being moved onto the platform unit of work on another branch.
    'paycore.account.v1.AccountService/OpenAccount': {
      prepare: () => {
        const ownerId = uid('owner');
        return (requestId) => ({
          requestId,
          bizContext: { code: BIZ_ACCOUNT },
          ownerType: OwnerType.OWNER_TYPE_CUSTOMER,
          ownerId,
          subjectCode: '224101',
          currency: 'CNY',
          normalSide: Side.SIDE_CREDIT,
          allowOverdraft: false,
        });
      },
      differ: { fields: ['allow_overdraft'], change: (r) => ({ ...r, allowOverdraft: true }) },
    },
    'paycore.account.v1.AccountService/CloseAccount': {
      prepare: async () => {
        const opened = await unary(p.account.openAccount.bind(p.account), {
          requestId: uid('open'),
          bizContext: { code: BIZ_ACCOUNT },
          ownerType: OwnerType.OWNER_TYPE_CUSTOMER,
          ownerId: uid('closing'),
          subjectCode: '224101',
          currency: 'CNY',
          normalSide: Side.SIDE_CREDIT,
          allowOverdraft: false,
        });
        const target = opened.account?.accountId ?? '';
        return (requestId) => ({ requestId, bizContext: { code: BIZ_ACCOUNT }, accountId: target });
      },
      differ: {
        fields: ['account_id'],
        change: (r) => ({ ...r, accountId: randomUUID() }),
      },
    },
    'paycore.account.v1.AccountService/Transfer': {
      prepare: async () => {
        const pair = await openPair();
        return (requestId) => ({
          requestId,
          bizContext: { code: BIZ_ACCOUNT },
          legs: legs(pair.debit, pair.credit, 700n),
          memo: 'idempotency',
        });
      },
      differ: {
        fields: ['legs'],
        change: (r) => ({ ...r, legs: legs(accounts.debit, accounts.credit, 701n) }),
      },
    },
    'paycore.account.v1.AccountService/TryTransfer': {
      prepare: async () => {
        const credit = await fundedCredit();
        const pendingId = uid('pending');
        return (requestId) => ({
          requestId,
          bizContext: { code: BIZ_ACCOUNT },
          pendingId,
          legs: legs(credit, accounts.debit, 100n),
          timeout: { seconds: 600n, nanos: 0 },
        });
      },
      differ: {
        fields: ['legs'],
        change: (r) => ({ ...r, legs: legs(accounts.credit, accounts.debit, 101n) }),
      },
    },
    'paycore.account.v1.AccountService/ConfirmTransfer': {
      prepare: async () => {
        const credit = await fundedCredit();
        const tried: string[] = [];
        for (let i = 0; i < 2; i++) {
          const pendingId = uid('pending');
          await call('paycore.account.v1.AccountService/TryTransfer', {
            requestId: uid('try'),
            bizContext: { code: BIZ_ACCOUNT },
            pendingId,
            legs: legs(credit, accounts.debit, 100n),
            timeout: { seconds: 600n, nanos: 0 },
          });
          tried.push(pendingId);
        }
        return (requestId) => ({
          requestId,
          bizContext: { code: BIZ_ACCOUNT },
          pendingId: tried[0],
          legs: [],
        });
      },
      differ: {
        fields: ['pending_id'],
        change: (r) => ({ ...r, pendingId: `${String(r['pendingId'])}-other` }),
      },
    },
    'paycore.account.v1.AccountService/CancelTransfer': {
      prepare: () => {
        const pendingId = uid('pending');
        return (requestId) => ({ requestId, bizContext: { code: BIZ_ACCOUNT }, pendingId });
      },
      differ: {
        fields: ['pending_id'],
        change: (r) => ({ ...r, pendingId: `${String(r['pendingId'])}-other` }),
      },
    },
    'paycore.account.v1.AccountService/Freeze': {
      prepare: async () => {
        const credit = await fundedCredit();
        return (requestId) => ({
          requestId,
          bizContext: { code: BIZ_ACCOUNT },
          accountId: credit,
          amount: cny(50n),
          wholeAccount: false,
          reason: 'idempotency',
        });
      },
      differ: { fields: ['amount.amount_minor'], change: (r) => ({ ...r, amount: cny(51n) }) },
    },
    'paycore.account.v1.AccountService/Unfreeze': {
      prepare: async () => {
        const credit = await fundedCredit();
        const freezes: string[] = [];
        for (let i = 0; i < 2; i++) {
          const frozen = await unary(p.account.freeze.bind(p.account), {
            requestId: uid('frz'),
            bizContext: { code: BIZ_ACCOUNT },
            accountId: credit,
            amount: cny(10n),
            wholeAccount: false,
            reason: 'to release',
          });
          freezes.push(frozen.freezeId);
        }
        return (requestId) => ({ requestId, bizContext: { code: BIZ_ACCOUNT }, freezeId: freezes[0] });
      },
      differ: { fields: ['freeze_id'], change: (r) => ({ ...r, freezeId: `${String(r['freezeId'])}0` }) },
    },
    'paycore.account.v1.AccountService/SetPostingMode': {
      prepare: async () => {
        const pair = await openPair();
        return (requestId) => ({
          requestId,
          bizContext: { code: BIZ_ACCOUNT },
          accountId: pair.debit,
          postingMode: PostingMode.POSTING_MODE_BUFFERED,
          flushInterval: { seconds: 1n, nanos: 0 },
          flushBatchMax: 100,
        });
      },
      differ: { fields: ['flush_batch_max'], change: (r) => ({ ...r, flushBatchMax: 101 }) },
    },
    'paycore.account.v1.AccountService/SealDay': {
      prepare: () => (requestId) => ({
        requestId,
        bizContext: { code: BIZ_ADJUST },
        accountingDate: yesterday,
      }),
      differ: {
        fields: ['accounting_date'],
        change: (r) => ({ ...r, accountingDate: addDays(yesterday, -1) }),
      },
    },

    // account: stored value
    'paycore.account.v1.StoredValueService/Purchase': {
      prepare: async () => {
        const ownerId = uid('member');
        const contractId = uid('K');
        const fundingId = await fundingAccountId();
        const effectiveTime = new Date(Date.now() - 60_000);
        const expireTime = new Date(Date.now() + 30 * DAY_MS);
        return (requestId) => ({
          requestId,
          bizContext: { code: BIZ_SV_TOP_UP },
          contractId,
          ownerId,
          asset: SV_ASSET,
          quantity: 1_000n,
          paid: cny(10_000n),
          promotionalQuantity: 100n,
          consumptionType: '',
          effectiveTime,
          expireTime,
          fundingAccountId: fundingId,
        });
      },
      // Evaluated afresh: the contract id is taken, CONTRACT_ID_IN_USE.
      differ: { fields: ['paid.amount_minor'], change: (r) => ({ ...r, paid: cny(10_001n) }) },
      after: async (request) => {
        expect(
          await count('SELECT count(*) AS n FROM account.sv_lots WHERE owner_id = $1', [request['ownerId']]),
          'a paid and a promotional lot for one request_id',
        ).to.equal(2);
        expect(
          await count('SELECT count(*) AS n FROM account.sv_movements WHERE request_id = $1', [
            request['requestId'],
          ]),
          'purchase movements of the request',
        ).to.equal(2);
      },
    },
    'paycore.account.v1.StoredValueService/Consume': {
      prepare: async () => {
        const ownerId = uid('member');
        await buyLot(ownerId);
        const consumptionId = uid('c');
        return (requestId) => ({
          requestId,
          bizContext: { code: BIZ_SV_CONSUME },
          consumptionId,
          ownerId,
          asset: SV_ASSET,
          consumptionType: SV_TYPE,
          quantity: 100n,
        });
      },
      // Evaluated afresh: another consumption, drawn from the same lot.
      differ: {
        fields: ['consumption_id'],
        change: (r) => ({ ...r, consumptionId: `${String(r['consumptionId'])}-2` }),
      },
      after: async (request) => {
        expect(
          await count('SELECT count(*) AS n FROM account.sv_consumptions WHERE owner_id = $1', [
            request['ownerId'],
          ]),
          'one consumption for one request_id',
        ).to.equal(1);
      },
    },
    'paycore.account.v1.StoredValueService/TryConsume': {
      prepare: async () => {
        const ownerId = uid('member');
        await buyLot(ownerId);
        const consumptionId = uid('try');
        return (requestId) => ({
          requestId,
          bizContext: { code: BIZ_SV_CONSUME },
          consumptionId,
          ownerId,
          asset: SV_ASSET,
          consumptionType: SV_TYPE,
          quantity: 100n,
          timeout: { seconds: 600n, nanos: 0 },
        });
      },
      // Evaluated afresh: the same consumption id and shape, answered by that consumption.
      differ: { fields: ['timeout'], change: (r) => ({ ...r, timeout: { seconds: 900n, nanos: 0 } }) },
      after: async (request) => {
        const held = await p.query<{ n: string }>(
          'SELECT sum(held_quantity)::text AS n FROM account.sv_lots WHERE owner_id = $1',
          [request['ownerId']],
        );
        expect(held[0]?.n, 'units held for one request_id').to.equal('100');
      },
    },
    'paycore.account.v1.StoredValueService/ConfirmConsume': {
      prepare: async () => {
        const ownerId = uid('member');
        await buyLot(ownerId);
        const consumptionId = uid('try');
        await tryConsume(ownerId, consumptionId, 100n);
        await tryConsume(ownerId, `${consumptionId}-other`, 50n);
        return (requestId) => ({ requestId, bizContext: { code: BIZ_SV_CONSUME }, consumptionId });
      },
      // Evaluated afresh: the other try, held and confirmable.
      differ: {
        fields: ['consumption_id'],
        change: (r) => ({ ...r, consumptionId: `${String(r['consumptionId'])}-other` }),
      },
      after: async (request) => {
        expect(await consumptionState(String(request['consumptionId']))).to.equal('CONFIRMED');
        expect(
          await consumptionState(`${String(request['consumptionId'])}-other`),
          'the other try, named under a reused id',
        ).to.equal('TRIED');
      },
    },
    'paycore.account.v1.StoredValueService/CancelConsume': {
      prepare: async () => {
        const ownerId = uid('member');
        await buyLot(ownerId);
        const consumptionId = uid('try');
        await tryConsume(ownerId, consumptionId, 100n);
        return (requestId) => ({ requestId, bizContext: { code: BIZ_SV_CONSUME }, consumptionId });
      },
      // Evaluated afresh: an id never tried, an empty rollback (a CANCELLED_EMPTY row).
      differ: {
        fields: ['consumption_id'],
        change: (r) => ({ ...r, consumptionId: `${String(r['consumptionId'])}-never-tried` }),
      },
      after: async (request) => {
        expect(await consumptionState(String(request['consumptionId']))).to.equal('CANCELLED');
        expect(
          await consumptionState(`${String(request['consumptionId'])}-never-tried`),
          'an empty rollback under a reused id',
        ).to.equal('NONE');
      },
    },
    'paycore.account.v1.StoredValueService/RefundConsumption': {
      prepare: async () => {
        const ownerId = uid('member');
        await buyLot(ownerId);
        const consumptionId = uid('c');
        await unary(p.storedValue.consume.bind(p.storedValue), {
          requestId: uid('consume'),
          bizContext: { code: BIZ_SV_CONSUME },
          consumptionId,
          ownerId,
          asset: SV_ASSET,
          consumptionType: SV_TYPE,
          quantity: 100n,
        });
        return (requestId) => ({
          requestId,
          bizContext: { code: BIZ_SV_CONSUME },
          consumptionId,
          quantity: 10n,
        });
      },
      // Evaluated afresh: more than was consumed, REFUND_EXCEEDS_CONSUMPTION.
      differ: { fields: ['quantity'], change: (r) => ({ ...r, quantity: 1_000n }) },
      after: async (request) => {
        const refunded = await p.query<{ n: string }>(
          'SELECT sum(refunded_quantity)::text AS n FROM account.sv_draws WHERE consumption_id = $1',
          [request['consumptionId']],
        );
        expect(refunded[0]?.n, 'units refunded for one request_id').to.equal('10');
      },
    },
    'paycore.account.v1.StoredValueService/Reactivate': {
      prepare: async () => {
        const ownerId = uid('member');
        const lotId = await buyLot(ownerId, {
          effectiveTime: new Date(Date.now() - 2 * 3_600_000),
          expireTime: new Date(Date.now() - 3_600_000),
        });
        await waitFor('lot expired by the expiry job', async () =>
          (await count("SELECT count(*) AS n FROM account.sv_lots WHERE lot_id = $1 AND state = 'EXPIRED'", [
            lotId,
          ])) === 1
            ? true
            : undefined,
        );
        const expireTime = new Date(Date.now() + 7 * DAY_MS);
        return (requestId) => ({
          requestId,
          bizContext: { code: BIZ_SV_CONSUME },
          lotId,
          expireTime,
          operator: OPERATOR,
          reason: 'expired during an outage',
        });
      },
      // Evaluated afresh: the lot is active again, LOT_NOT_EXPIRED.
      differ: {
        fields: ['expire_time'],
        change: (r) => ({ ...r, expireTime: new Date((r['expireTime'] as Date).getTime() + DAY_MS) }),
      },
      after: async (request) => {
        expect(
          await count(
            "SELECT count(*) AS n FROM account.sv_movements WHERE lot_id = $1 AND kind = 'REACTIVATE'",
            [request['lotId']],
          ),
          'one reactivation for one request_id',
        ).to.equal(1);
      },
    },
    'paycore.account.v1.StoredValueService/FreezeLot': {
      prepare: async () => {
        const lotId = await buyLot(uid('member'));
        return (requestId) => ({
          requestId,
          bizContext: { code: BIZ_SV_CONSUME },
          lotId,
          quantity: 50n,
          reason: 'under dispute',
        });
      },
      // Evaluated afresh: more than the lot has available, LOT_QUANTITY_EXCEEDED.
      differ: { fields: ['quantity'], change: (r) => ({ ...r, quantity: 5_000n }) },
      after: async (request) => {
        expect((await lotBuckets(String(request['lotId']))).frozen, 'units frozen').to.equal('50');
      },
    },
    'paycore.account.v1.StoredValueService/UnfreezeLot': {
      prepare: async () => {
        const lotId = await buyLot(uid('member'));
        await svCall('FreezeLot', {
          requestId: uid('freeze'),
          bizContext: { code: BIZ_SV_CONSUME },
          lotId,
          quantity: 50n,
          reason: 'under dispute',
        });
        return (requestId) => ({ requestId, bizContext: { code: BIZ_SV_CONSUME }, lotId, quantity: 20n });
      },
      // Evaluated afresh: more than is frozen, LOT_QUANTITY_EXCEEDED.
      differ: { fields: ['quantity'], change: (r) => ({ ...r, quantity: 40n }) },
      after: async (request) => {
        expect((await lotBuckets(String(request['lotId']))).frozen, 'units still frozen').to.equal('30');
      },
    },

    // ledger
    'paycore.ledger.v1.LedgerService/CreateSubject': {
      prepare: () => (requestId) => ({
        requestId,
        bizContext: { code: BIZ_ADJUST },
        code: '671199',
        name: 'idempotency test expense',
        category: SubjectCategory.SUBJECT_CATEGORY_PROFIT_AND_LOSS,
        normalSide: NormalSide.NORMAL_SIDE_DEBIT,
        accountKept: false,
      }),
      differ: { fields: ['name'], change: (r) => ({ ...r, name: 'another name' }) },
    },
    'paycore.ledger.v1.LedgerService/PostManualVoucher': {
      prepare: () => (requestId) => ({
        requestId,
        bizContext: { code: BIZ_ADJUST },
        accountingDate: chinaToday(),
        reason: 'idempotency test',
        lines: [
          { subjectCode: '671101', side: EntrySide.ENTRY_SIDE_DEBIT, amount: cny(300n) },
          { subjectCode: '4103', side: EntrySide.ENTRY_SIDE_CREDIT, amount: cny(300n) },
        ],
      }),
      differ: { fields: ['reason'], change: (r) => ({ ...r, reason: 'another reason' }) },
    },
    'paycore.ledger.v1.LedgerService/CloseDay': {
      prepare: async () => {
        await waitFor('ledger knows the sealed day', async () =>
          (await count(
            'SELECT count(*) AS n FROM ledger.days WHERE accounting_date = $1 AND sealed_at IS NOT NULL',
            [yesterday],
          )) === 1
            ? true
            : undefined,
        );
        return (requestId) => ({ requestId, bizContext: { code: BIZ_ADJUST }, accountingDate: yesterday });
      },
      differ: {
        fields: ['accounting_date'],
        change: (r) => ({ ...r, accountingDate: chinaToday() }),
      },
    },

    // channel-router
    'paycore.channel.v1.ChannelService/UpsertChannelNumber': {
      prepare: async () => {
        const listed = await unary(p.channel.listRegistry.bind(p.channel), {});
        const number = listed.channelNumbers.find((c) => c.channelNo === BANK) ?? listed.channelNumbers[0];
        return () => ({ channelNumber: number });
      },
      after: async () => {
        expect(
          await count('SELECT count(*) AS n FROM channel.channel_numbers WHERE channel_no = $1', [BANK]),
        ).to.equal(1);
      },
    },
    'paycore.channel.v1.ChannelService/SetChannelCredentials': {
      prepare: async () => {
        // The bank's own credentials again, so the payout cases still reach the sandbox.
        const response = await fetch(`${p.sandboxUrl}/sandbox/keys`);
        const keys = (await response.json()) as { bank: { mch_id: string; key: string } };
        return () => ({ channelNo: BANK, credentials: { mch_id: keys.bank.mch_id, key: keys.bank.key } });
      },
    },
    'paycore.channel.v1.ChannelService/UpsertPayChannelRoute': {
      prepare: async () => {
        const listed = await unary(p.channel.listRegistry.bind(p.channel), {});
        const route = listed.routes.find((r) => r.channelNo === BANK) ?? listed.routes[0];
        listedRoutes = listed.routes.filter((r) => r.channelNo === BANK).length;
        return () => ({ route });
      },
      after: async () => {
        expect(
          await count('SELECT count(*) AS n FROM channel.routes WHERE channel_no = $1', [BANK]),
          'the routes of the bank channel number',
        ).to.equal(listedRoutes);
      },
    },
    'paycore.channel.v1.ChannelService/CreateChannelPayment': {
      prepare: () => (requestId) => ({
        requestId,
        bizContext: { code: ALIPAY_QR },
        amount: cny(501n),
        subject: 'idempotency',
      }),
      differ: { fields: ['amount.amount_minor'], change: (r) => ({ ...r, amount: cny(502n) }) },
    },
    'paycore.channel.v1.ChannelService/CloseChannelPayment': {
      prepare: async () => {
        const txnId = await channelPayment(601n);
        return (requestId) => ({ requestId, txnId });
      },
      // A well-formed transaction id that does not exist: evaluated afresh, TXN_NOT_FOUND.
      differ: { fields: ['txn_id'], change: (r) => ({ ...r, txnId: 'NOSUCHTXN0000000000000001' }) },
    },
    'paycore.channel.v1.ChannelService/RefundChannelPayment': {
      prepare: async () => {
        const txnId = await channelPayment(1_000n);
        await payAtSandbox(p.sandboxUrl, 'alipay', txnId);
        await waitFor('channel payment paid', async () => {
          const got = await unary(p.channel.queryChannelPayment.bind(p.channel), { txnId });
          return got.transaction?.state === TxnState.TXN_STATE_SUCCESS ? true : undefined;
        });
        return (requestId) => ({
          requestId,
          paymentTxnId: txnId,
          amount: cny(100n),
          reason: 'idempotency',
          bizContext: undefined,
        });
      },
      differ: { fields: ['amount.amount_minor'], change: (r) => ({ ...r, amount: cny(2_000n) }) },
    },
    'paycore.channel.v1.ChannelService/CreatePayout': {
      prepare: () => (requestId) => ({
        requestId,
        bizContext: { code: PAYOUT },
        amount: cny(700n),
        accountNo: '6222020202020202',
        accountName: 'Idem Payee',
        bankCode: 'ICBC',
        remark: 'idempotency',
      }),
      differ: { fields: ['amount.amount_minor'], change: (r) => ({ ...r, amount: cny(701n) }) },
    },

    // cashier
    'paycore.cashier.v1.CashierService/RegisterMerchant': {
      prepare: () => {
        const id = uid('m');
        return (requestId) => ({
          requestId,
          merchantId: id,
          name: `merchant ${id}`,
          notifyKey: 'merchant-notify-key-0123456789',
          riskLimits: {
            perTransactionMaxMinor: 0n,
            merchantDailyMaxMinor: 0n,
            payerDailyMaxMinor: 0n,
            payerPaymentsPerMinuteMax: 0,
          },
        });
      },
      differ: { fields: ['name'], change: (r) => ({ ...r, name: 'another name' }) },
    },
    'paycore.cashier.v1.CashierService/CreatePaymentOrder': {
      prepare: async () => {
        // A merchant of its own, so that its orders can be counted.
        const m = await registerMerchant(p);
        const no = uid('no');
        return (requestId) => ({
          requestId,
          merchantId: m,
          merchantOrderNo: no,
          amount: cny(1_000n),
          product: '100101',
          bizMode: BizMode.BIZ_MODE_INSTANT,
          subject: 'idempotency',
          expireTime: undefined,
          notifyUrl: '',
        });
      },
      // Another order number and a merchant that does not exist: evaluated afresh, a second order or MERCHANT_NOT_FOUND.
      differ: {
        fields: ['merchant_id', 'merchant_order_no'],
        change: (r) => ({
          ...r,
          merchantId: uid('no-such-merchant'),
          merchantOrderNo: `${String(r['merchantOrderNo'])}-2`,
        }),
      },
      after: async (request) => {
        expect(
          await count('SELECT count(*) AS n FROM cashier.orders WHERE merchant_id = $1', [
            request['merchantId'],
          ]),
          'one order for one request_id',
        ).to.equal(1);
      },
    },
    'paycore.cashier.v1.CashierService/Pay': {
      prepare: async () => {
        const order = await createOrder(p, await merchantId(), 1_000n, { notify: false });
        const payer = await payerId();
        return (requestId) => ({
          requestId,
          orderId: order.orderId,
          payerId: payer,
          parts: [part(PartKind.PART_KIND_BALANCE, 1_000n)],
        });
      },
      differ: { fields: ['payer_id'], change: (r) => ({ ...r, payerId: uid('other-payer') }) },
    },
    'paycore.cashier.v1.CashierService/ConfirmReceipt': {
      prepare: async () => {
        const orderId = await paidOrder(BizMode.BIZ_MODE_ESCROW);
        return (requestId) => ({ requestId, orderId });
      },
      differ: { fields: ['order_id'], change: (r) => ({ ...r, orderId: randomUUID() }) },
    },
    'paycore.cashier.v1.CashierService/ClosePaymentOrder': {
      prepare: async () => {
        const m = await merchantId();
        const order = await createOrder(p, m, 1_000n, { notify: false });
        return (requestId) => ({ requestId, orderId: order.orderId });
      },
      // An order that does not exist: evaluated afresh it would be ORDER_NOT_FOUND.
      differ: { fields: ['order_id'], change: (r) => ({ ...r, orderId: randomUUID() }) },
    },
    'paycore.cashier.v1.CashierService/Refund': {
      prepare: async () => {
        const orderId = await paidOrder();
        const no = uid('rn');
        return (requestId) => ({
          requestId,
          orderId,
          merchantRefundNo: no,
          amount: cny(100n),
          reason: 'idempotency',
        });
      },
      differ: {
        fields: ['merchant_refund_no', 'amount.amount_minor'],
        // Evaluated afresh: a second refund number, and more than the order has left.
        change: (r) => ({
          ...r,
          merchantRefundNo: `${String(r['merchantRefundNo'])}-2`,
          amount: cny(5_000n),
        }),
      },
      after: async (request) => {
        expect(
          await count('SELECT count(*) AS n FROM cashier.refunds WHERE order_id = $1', [request['orderId']]),
          'one refund for one request_id',
        ).to.equal(1);
      },
    },
    'paycore.cashier.v1.CashierService/TopUp': {
      prepare: () => {
        const payer = uid('payer');
        return (requestId) => ({
          requestId,
          payerId: payer,
          amount: cny(800n),
          payChannel: '1001',
          target: TopUpTarget.TOP_UP_TARGET_BALANCE,
        });
      },
      differ: { fields: ['amount.amount_minor'], change: (r) => ({ ...r, amount: cny(801n) }) },
    },
    'paycore.cashier.v1.CashierService/Withdraw': {
      prepare: async () => {
        const payer = await payerId();
        return (requestId) => ({
          requestId,
          payerId: payer,
          amount: cny(300n),
          accountNo: '6222020202020202',
          accountName: 'Idem Payer',
          bankCode: 'ICBC',
        });
      },
      // A payer without a balance: evaluated afresh, PAYER_NOT_FOUND.
      differ: { fields: ['payer_id'], change: (r) => ({ ...r, payerId: uid('no-such-payer') }) },
    },
    'paycore.cashier.v1.CashierService/IssueCoupon': {
      prepare: async () => {
        const payer = await payerId();
        const expireTime = new Date(Date.now() + 86_400_000);
        return (requestId) => ({ requestId, payerId: payer, amount: cny(100n), expireTime });
      },
      differ: { fields: ['amount.amount_minor'], change: (r) => ({ ...r, amount: cny(101n) }) },
    },
    'paycore.cashier.v1.CashierService/ResolveException': {
      prepare: async () => {
        const order = await createOrder(p, await merchantId(), 900n, { notify: false });
        const res = await unary(p.cashier.pay.bind(p.cashier), {
          requestId: uid('pay'),
          orderId: order.orderId,
          payerId: uid('payer'),
          parts: [part(PartKind.PART_KIND_CHANNEL, 900n, { payChannel: '1001' })],
        });
        const paymentId = res.payment?.paymentId ?? '';
        const listed = await waitFor('exception listed', async () => {
          const list = await unary(p.cashier.listExceptions.bind(p.cashier), {
            includeResolved: false,
            pageSize: 0,
          });
          return list.exceptions.find((e) => e.flowId === paymentId);
        });
        return (requestId) => ({
          requestId,
          exceptionId: listed.exceptionId,
          resolution: CashierResolution.RESOLUTION_FAILED,
          reason: 'channel bill shows no trade',
        });
      },
      differ: {
        fields: ['resolution'],
        change: (r) => ({ ...r, resolution: CashierResolution.RESOLUTION_SUCCEEDED }),
      },
    },

    // reconciliation
    'paycore.reconciliation.v1.ReconciliationService/ReconcileDay': {
      prepare: () => (requestId) => ({ requestId, channelNo: ALIPAY, billDate: chinaToday() }),
      differ: { fields: ['bill_date'], change: (r) => ({ ...r, billDate: yesterday }) },
    },
    'paycore.reconciliation.v1.ReconciliationService/ImportStatement': {
      prepare: () => {
        const date = addDays(chinaToday(), -3);
        return (requestId) => ({
          requestId,
          channelNo: BANK,
          billDate: date,
          format: 'GENERIC_CSV',
          content: payoutBill(date, 'P-IDEM-1', 123),
          operator: OPERATOR,
        });
      },
      differ: {
        fields: ['content'],
        change: (r) => ({ ...r, content: payoutBill(String(r['billDate']), 'P-IDEM-1', 124) }),
      },
    },
    'paycore.reconciliation.v1.ReconciliationService/UploadStatement': {
      prepare: () => {
        const date = addDays(chinaToday(), -5);
        return (requestId) => ({
          requestId,
          channelNo: BANK,
          billDate: date,
          format: 'GENERIC_CSV',
          content: payoutBill(date, 'P-IDEM-3', 125),
          operator: OPERATOR,
        });
      },
      differ: {
        fields: ['checksum_sha256'],
        change: (r) => ({ ...r, content: payoutBill(String(r['billDate']), 'P-IDEM-3', 126) }),
      },
    },
    'paycore.reconciliation.v1.ReconciliationService/ResolveDifferences': {
      prepare: async () => {
        const date = addDays(chinaToday(), -4);
        await call('paycore.reconciliation.v1.ReconciliationService/ImportStatement', {
          requestId: uid('imp'),
          channelNo: BANK,
          billDate: date,
          format: 'GENERIC_CSV',
          content: payoutBill(date, 'P-IDEM-2', 222),
          operator: OPERATOR,
        });
        const listed = await unary(p.recon.listDifferences.bind(p.recon), {
          channelNo: BANK,
          billDate: date,
          pageSize: 10,
          pageToken: '',
        });
        const differenceId = listed.differences[0]?.differenceId ?? '';
        return (requestId) => ({
          requestId,
          operator: OPERATOR,
          decisions: [
            { differenceId, resolution: ReconResolution.RESOLUTION_WRITTEN_OFF, reason: 'idempotency' },
          ],
          decisionsCsv: Buffer.alloc(0),
        });
      },
      differ: {
        fields: ['decisions'],
        change: (r) => ({
          ...r,
          decisions: (r['decisions'] as { reason: string }[]).map((d) => ({ ...d, reason: 'another' })),
        }),
      },
    },
    'paycore.reconciliation.v1.ReconciliationService/ImportBankStatement': {
      prepare: () => (requestId) => ({
        requestId,
        bank: 'bankA',
        content: bankCsv('B-IDEM-1', '10.00'),
      }),
      differ: { fields: ['content'], change: (r) => ({ ...r, content: bankCsv('B-IDEM-1', '11.00') }) },
    },
    'paycore.reconciliation.v1.ReconciliationService/ClaimBankLine': {
      prepare: async () => {
        const imported = await unary(p.recon.importBankStatement.bind(p.recon), {
          requestId: uid('bank'),
          bank: 'bankA',
          content: bankCsv('B-IDEM-2', '100.00'),
        });
        const lineId = imported.lines[0]?.lineId ?? '';
        const m = await merchantId();
        const target =
          (
            await p.query<{ id: string }>(
              'SELECT settlement_account_id AS id FROM cashier.merchants WHERE merchant_id = $1',
              [m],
            )
          )[0]?.id ?? '';
        return (requestId) => ({
          requestId,
          lineId,
          amount: 3_000n,
          accountId: target,
          operator: OPERATOR,
          bizCode: BIZ_ADJUST,
        });
      },
      // More than the line has left: evaluated afresh, CLAIM_EXCEEDS_REMAINING.
      differ: { fields: ['amount'], change: (r) => ({ ...r, amount: 1_000_000n }) },
    },

    // settlement
    'paycore.settlement.v1.SettlementService/PutFeeRule': {
      prepare: async () => {
        const m = await merchantId();
        return (requestId) => ({
          requestId,
          rule: {
            ruleId: '',
            merchantId: m,
            product: '100101',
            payChannel: '1001',
            effectiveFrom: chinaToday(),
            effectiveTo: '',
            kind: FeeKind.FEE_KIND_PERCENTAGE,
            rate: '0.006',
            fixedMinor: 0n,
            minFeeMinor: 0n,
            maxFeeMinor: 0n,
            tierBasis: TierBasis.TIER_BASIS_UNSPECIFIED,
            tiers: [],
            rounding: 'ROUND_HALF_UP',
            bearer: FeeBearer.FEE_BEARER_MERCHANT,
            refundReturnsFee: false,
          },
        });
      },
      differ: {
        fields: ['rule.rate'],
        change: (r) => ({ ...r, rule: { ...(r['rule'] as object), rate: '0.007' } }),
      },
    },
    'paycore.settlement.v1.SettlementService/SetSettlementProfile': {
      prepare: async () => {
        const m = await merchantId();
        return (requestId) => ({
          requestId,
          profile: {
            merchantId: m,
            cycle: CycleKind.CYCLE_KIND_MANUAL,
            offsetDays: 0,
            anchorDay: 0,
            minimumPayoutMinor: 0n,
            holdUnconfirmed: false,
            d0HoldRate: '0',
            autoShare: false,
            bankAccountNo: '6222020200000001',
            bankAccountName: 'Idem Merchant Ltd',
            bankCode: 'ICBC',
          },
        });
      },
      differ: {
        fields: ['profile.minimum_payout_minor'],
        change: (r) => ({ ...r, profile: { ...(r['profile'] as object), minimumPayoutMinor: 1n } }),
      },
    },
    'paycore.settlement.v1.SettlementService/SetShareReceivers': {
      prepare: async () => {
        const m = await merchantId();
        return (requestId) => ({
          requestId,
          merchantId: m,
          receivers: [
            { receiverId: 'partner-1', kind: ShareKind.SHARE_KIND_RATIO, ratio: '0.1', fixedMinor: 0n },
          ],
        });
      },
      differ: {
        fields: ['receivers'],
        change: (r) => ({
          ...r,
          receivers: [
            { receiverId: 'partner-1', kind: ShareKind.SHARE_KIND_RATIO, ratio: '0.2', fixedMinor: 0n },
          ],
        }),
      },
    },
    'paycore.settlement.v1.SettlementService/SplitPayment': {
      prepare: async () => {
        const m = await merchantId();
        const orderId = await paidOrder();
        const cleared = await waitFor('payment cleared', async () => {
          const found = await p.query<{ payment_id: string }>(
            "SELECT payment_id FROM settlement.items WHERE order_id = $1 AND kind = 'PAY'",
            [orderId],
          );
          return found[0];
        });
        return (requestId) => ({ requestId, merchantId: m, paymentId: cleared.payment_id });
      },
      differ: { fields: ['payment_id'], change: (r) => ({ ...r, paymentId: randomUUID() }) },
    },
    'paycore.settlement.v1.SettlementService/RunSettlementDay': {
      prepare: () => (requestId) => ({ requestId, settlementDate: chinaToday() }),
      differ: {
        fields: ['settlement_date'],
        change: (r) => ({ ...r, settlementDate: addDays(chinaToday(), 1) }),
      },
      // The refused run of another date created nothing: the id was answered before any batch.
      after: async () => {
        expect(
          await count('SELECT count(*) AS n FROM settlement.batches WHERE settlement_date = $1', [
            addDays(chinaToday(), 1),
          ]),
          'batches of the refused date',
        ).to.equal(0);
      },
    },
    'paycore.settlement.v1.SettlementService/RequestSettlement': {
      prepare: async () => {
        const m = await merchantId();
        return (requestId) => ({ requestId, merchantId: m, settlementDate: chinaToday() });
      },
      differ: {
        fields: ['settlement_date'],
        change: (r) => ({ ...r, settlementDate: addDays(chinaToday(), 1) }),
      },
    },
  };

  it('walks every gRPC service generated under paycore/*/v1, or says why not', () => {
    const generated = generatedServices();
    const walked = new Set(Object.values(SERVICES).flatMap(serviceNamesOf));
    expect(generated.size, `services found under ${GEN_ROOT}`).to.be.greaterThan(0);
    expect(
      [...generated].filter(([name]) => !walked.has(name) && EXCLUDED_SERVICES[name] === undefined),
      'generated services neither walked nor excluded with a reason',
    ).to.deep.equal([]);
    expect(
      [...walked, ...Object.keys(EXCLUDED_SERVICES)].filter((name) => !generated.has(name)),
      'walked or excluded services that are not generated',
    ).to.deep.equal([]);
  });

  it('has a case for every RPC that is not a read, and no case for an RPC that does not exist', () => {
    const mutating: string[] = [];
    const all = new Set<string>();
    for (const definition of Object.values(SERVICES)) {
      for (const method of Object.values(definition)) {
        const name = rpcName(method);
        all.add(name);
        const short = name.split('/')[1] ?? '';
        if (!READ_PREFIX.test(short) && READS[name] === undefined) mutating.push(name);
      }
    }
    expect(
      mutating.filter((name) => CASES[name] === undefined),
      'mutating RPCs without a case',
    ).to.deep.equal([]);
    expect(
      Object.keys(CASES).filter((name) => !all.has(name) || !mutating.includes(name)),
      'cases for RPCs that are not mutating RPCs',
    ).to.deep.equal([]);
    expect(
      Object.keys(READS).filter((name) => !all.has(name)),
      'reads that do not exist',
    ).to.deep.equal([]);
  });

  for (const [rpc, testCase] of Object.entries(CASES)) {
    const short = rpc.replace(/^paycore\./, '');
    it(`${short}: replays byte for byte, refuses a changed payload naming the field, checks the id before the state`, async () => {
      const build = await Promise.resolve(testCase.prepare());
      const id = uid('idem');
      // Every way the RPC departs from the rule is collected, so one run reports all of them.
      const problems: string[] = [];
      const first = await call(rpc, build(id));
      const again = await call(rpc, build(id));
      if (!again.equals(first))
        problems.push(`the replay differs from the first answer: ${describeDiff(rpc, first, again)}`);
      if (testCase.differ) {
        const changed = testCase.differ.change(build(id));
        const reused = await refusalOf(call(rpc, changed));
        const fields = testCase.differ.fields;
        if (reused.code !== ALREADY_EXISTS || reused.reason !== 'IDEMPOTENCY_KEY_REUSED') {
          problems.push(
            `a changed ${fields.join(' and ')} under the same id: ${codeName(reused.code)} ${reused.reason} (${reused.message})`,
          );
        } else if (!fields.some((field) => namesField(reused.field, field))) {
          problems.push(`a changed ${fields.join(' and ')}: metadata.field is "${reused.field}"`);
        }
        for (const malformed of ['', 'x'.repeat(129)]) {
          const refused = await refusalOf(call(rpc, build(malformed)));
          if (refused.code !== INVALID_ARGUMENT || !refused.violations.includes('request_id')) {
            problems.push(
              `an id of ${malformed.length} characters: ${codeName(refused.code)} ${refused.reason} [${refused.violations.join(', ')}] (${refused.message})`,
            );
          }
        }
      }
      expect(problems, rpc).to.deep.equal([]);
      await testCase.after?.(build(id));
    });
  }
});

/**
 * UploadStatement as a client sends it: the metadata first (with the file's
 * SHA-256 and size), then the bytes in small chunks, with back-pressure.
 */
function uploadInChunks(
  client: ReconciliationServiceClient,
  request: AnyRequest,
): Promise<UploadStatementResponse> {
  const { content, ...fields } = request as AnyRequest & { content: Buffer };
  const messages: UploadStatementRequest[] = [
    {
      metadata: {
        requestId: fields.requestId ?? '',
        channelNo: String(fields['channelNo']),
        billDate: String(fields['billDate']),
        format: String(fields['format']),
        operator: String(fields['operator']),
        checksumSha256: createHash('sha256').update(content).digest('hex'),
        sizeBytes: BigInt(content.length),
      },
    },
  ];
  for (let at = 0; at < content.length; at += 64) messages.push({ chunk: content.subarray(at, at + 64) });
  return new Promise((resolve, reject) => {
    const stream = client.uploadStatement(new Metadata(), { deadline: Date.now() + 120_000 }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
    const pending = messages[Symbol.iterator]();
    const pump = (): void => {
      for (;;) {
        const next = pending.next();
        if (next.done === true) {
          stream.end();
          return;
        }
        if (!stream.write(next.value)) {
          stream.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}
