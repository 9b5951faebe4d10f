/**
 * ChannelPort, AccountPort and LedgerPort over gRPC. Every call has a
 * deadline and every mutation a request id (so the kit may retry it); an
 * unreachable peer becomes ReconError DEPENDENCY_UNAVAILABLE (the run stays
 * at its recorded step and resumes), a refusal keeps the peer's reason in
 * the message.
 */
import { createClient, errorReason, peerCallError, unary, type Metrics } from '@paycore/platform';
export { serviceAddress } from '@paycore/platform';
import { AccountServiceClient, OwnerType, Side } from '@paycore/proto/paycore/account/v1/account_service';
import { StoredValueServiceClient } from '@paycore/proto/paycore/account/v1/stored_value_service';
import { ChannelServiceClient } from '@paycore/proto/paycore/channel/v1/channel_service';
import { TxnState } from '@paycore/proto/paycore/channel/v1/types';
import { CheckStatus, LedgerServiceClient } from '@paycore/proto/paycore/ledger/v1/ledger_service';
import type {
  AccountPort,
  ChannelPort,
  LedgerPort,
  PurchaseCommand,
  PurchaseOutcome,
} from '../../application/ports';
import { ReconError } from '../../domain/errors';
import type { Leg, TxnState as TxnStateName } from '../../domain/model';

const CALL_DEADLINE_MS = 10_000;
/** Bills may be large; channel-router serves at most 32 MiB. */
const STATEMENT_DEADLINE_MS = 60_000;
const ACCOUNT_PAGES_MAX = 100;
const ENTRY_PAGES_MAX = 2_000;
const PLATFORM_OWNER = 'platform';
/** The platform-operations adjustment code (900101 · 01 · 08 · 0001 · 000000) under which reconciliation opens its accounts. */
const OPEN_ACCOUNT_CODE = '90010101080001000000';

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A refusal by a peer that reconciliation does not map to one of its own reasons. */
export class PeerRefusal extends Error {
  constructor(
    readonly peer: string,
    readonly peerReason: string,
    message: string,
  ) {
    super(message);
    this.name = 'PeerRefusal';
  }
}

async function call<T>(peer: string, method: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw peerCallError(peer, method, err, {
      unavailable: (message) => new ReconError('DEPENDENCY_UNAVAILABLE', message),
      refused: (reason, message) => new PeerRefusal(peer, reason, message),
    });
  }
}

const TXN_STATES: Readonly<Record<number, TxnStateName>> = {
  [TxnState.TXN_STATE_PROCESSING]: 'PROCESSING',
  [TxnState.TXN_STATE_SUCCESS]: 'SUCCESS',
  [TxnState.TXN_STATE_FAIL]: 'FAIL',
  [TxnState.TXN_STATE_CLOSED]: 'CLOSED',
  [TxnState.TXN_STATE_UNKNOWN]: 'UNKNOWN',
};

export function txnStateName(state: TxnState): TxnStateName {
  const name = TXN_STATES[state];
  if (name === undefined) throw new Error(`unexpected channel transaction state ${state}`);
  return name;
}

export class GrpcChannelPort implements ChannelPort {
  private readonly client: ChannelServiceClient;

  constructor(address: string, token: () => string | undefined, metrics?: Metrics) {
    this.client = createClient(ChannelServiceClient, {
      address,
      token,
      defaultDeadlineMs: CALL_DEADLINE_MS,
      idempotent: ['downloadStatement', 'getStatement', 'queryChannelPayment'],
      ...(metrics !== undefined ? { metrics } : {}),
    });
  }

  async downloadStatement(
    channelNo: string,
    billDate: string,
  ): Promise<{ format: string; content: Buffer } | undefined> {
    let described;
    try {
      described = await unary(
        this.client.downloadStatement.bind(this.client),
        { channelNo, billDate },
        {
          deadlineMs: STATEMENT_DEADLINE_MS,
        },
      );
    } catch (err) {
      if (errorReason(err) === 'BILL_NOT_READY') return undefined;
      return call('channel-router', 'DownloadStatement', () => Promise.reject(asError(err)));
    }
    const stored = await call('channel-router', 'GetStatement', () =>
      unary(
        this.client.getStatement.bind(this.client),
        { statementId: described.statementId },
        {
          deadlineMs: STATEMENT_DEADLINE_MS,
        },
      ),
    );
    return { format: described.format, content: Buffer.from(stored.content) };
  }

  async queryPayment(txnId: string): Promise<{ state: TxnStateName; amountMinor: bigint }> {
    const res = await call('channel-router', 'QueryChannelPayment', () =>
      unary(this.client.queryChannelPayment.bind(this.client), { txnId }),
    );
    const txn = res.transaction;
    if (txn === undefined) throw new Error('QueryChannelPayment returned no transaction');
    return { state: txnStateName(txn.state), amountMinor: txn.amount?.amountMinor ?? 0n };
  }

  close(): void {
    this.client.close();
  }
}

export class GrpcAccountPort implements AccountPort {
  private readonly client: AccountServiceClient;
  private readonly storedValue: StoredValueServiceClient;
  private readonly found = new Map<string, string>();

  constructor(address: string, token: () => string | undefined, metrics?: Metrics) {
    this.client = createClient(AccountServiceClient, {
      address,
      token,
      defaultDeadlineMs: CALL_DEADLINE_MS,
      idempotent: ['openAccount', 'transfer', 'getBalance', 'listAccounts', 'listEntries'],
      ...(metrics !== undefined ? { metrics } : {}),
    });
    this.storedValue = createClient(StoredValueServiceClient, {
      address,
      token,
      defaultDeadlineMs: CALL_DEADLINE_MS,
      // Purchase is idempotent by its request id (derived from the claim's), so the kit may retry it.
      idempotent: ['purchase'],
      ...(metrics !== undefined ? { metrics } : {}),
    });
  }

  async purchase(command: PurchaseCommand): Promise<PurchaseOutcome> {
    const { purchase } = command;
    let res;
    try {
      res = await call('account', 'Purchase', () =>
        unary(this.storedValue.purchase.bind(this.storedValue), {
          requestId: command.requestId,
          bizContext: { code: command.bizCode },
          contractId: command.contractId,
          ownerId: purchase.ownerId,
          asset: purchase.asset,
          quantity: purchase.quantity,
          paid: { amountMinor: command.paidMinor, currency: command.currency },
          promotionalQuantity: purchase.promotionalQuantity,
          consumptionType: purchase.consumptionType,
          effectiveTime: purchase.effectiveAt,
          expireTime: purchase.expiresAt,
          fundingAccountId: command.fundingAccountId,
        }),
      );
    } catch (err) {
      if (err instanceof PeerRefusal)
        return { kind: 'refused', reason: err.peerReason, message: err.message };
      throw err;
    }
    const contract = res.contract;
    if (contract === undefined || contract.purchaseTransferId === '')
      throw new Error('Purchase returned no contract or no purchase posting');
    return {
      kind: 'bought',
      contractId: contract.contractId,
      transferId: contract.purchaseTransferId,
      lotIds: res.lots.map((lot) => lot.lotId),
    };
  }

  /** The platform's account on the subject that the cashier (or anyone) opened first, else a new one. */
  async internalAccount(
    subjectCode: string,
    normalSide: 'DEBIT' | 'CREDIT',
    currency: string,
    openRequestId: string,
  ): Promise<string> {
    const key = `${subjectCode}:${currency}`;
    const cached = this.found.get(key);
    if (cached !== undefined) return cached;
    let pageToken = '';
    for (let page = 0; page < ACCOUNT_PAGES_MAX; page += 1) {
      const res = await call('account', 'ListAccounts', () =>
        unary(this.client.listAccounts.bind(this.client), {
          ownerType: OwnerType.OWNER_TYPE_INTERNAL,
          ownerId: PLATFORM_OWNER,
          page: { pageSize: 500, pageToken },
        }),
      );
      const match = res.accounts.find((a) => a.subjectCode === subjectCode && a.currency === currency);
      if (match !== undefined) {
        this.found.set(key, match.accountId);
        return match.accountId;
      }
      pageToken = res.page?.nextPageToken ?? '';
      if (pageToken === '') break;
    }
    const opened = await call('account', 'OpenAccount', () =>
      unary(this.client.openAccount.bind(this.client), {
        requestId: openRequestId,
        bizContext: { code: OPEN_ACCOUNT_CODE },
        ownerType: OwnerType.OWNER_TYPE_INTERNAL,
        ownerId: PLATFORM_OWNER,
        subjectCode,
        currency,
        normalSide: normalSide === 'DEBIT' ? Side.SIDE_DEBIT : Side.SIDE_CREDIT,
        allowOverdraft: true,
      }),
    );
    const id = opened.account?.accountId ?? '';
    if (id === '') throw new Error('OpenAccount returned no account id');
    this.found.set(key, id);
    return id;
  }

  async transfer(requestId: string, bizCode: string, legs: readonly Leg[], memo: string): Promise<string> {
    const res = await call('account', 'Transfer', () =>
      unary(this.client.transfer.bind(this.client), {
        requestId,
        bizContext: { code: bizCode },
        legs: legs.map((leg) => ({
          accountId: leg.accountId,
          side: leg.side === 'DEBIT' ? Side.SIDE_DEBIT : Side.SIDE_CREDIT,
          amount: { amountMinor: leg.amountMinor, currency: 'CNY' },
        })),
        memo,
      }),
    );
    const id = res.transfer?.transferId ?? '';
    if (id === '') throw new Error('Transfer returned no transfer id');
    return id;
  }

  async balance(accountId: string): Promise<bigint> {
    const res = await call('account', 'GetBalance', () =>
      unary(this.client.getBalance.bind(this.client), { accountId, asOf: undefined }),
    );
    return res.balance?.total?.amountMinor ?? 0n;
  }

  async movement(accountId: string, start: Date, end: Date, excludeCodePrefix: string): Promise<bigint> {
    let total = 0n;
    let pageToken = '';
    for (let page = 0; page < ENTRY_PAGES_MAX; page += 1) {
      const res = await call('account', 'ListEntries', () =>
        unary(this.client.listEntries.bind(this.client), {
          accountId,
          startTime: start,
          endTime: end,
          bizCode: '',
          page: { pageSize: 500, pageToken },
        }),
      );
      for (const entry of res.entries) {
        if (entry.bizCode.startsWith(excludeCodePrefix)) continue;
        const amount = entry.amount?.amountMinor ?? 0n;
        total += entry.side === Side.SIDE_DEBIT ? amount : -amount;
      }
      pageToken = res.page?.nextPageToken ?? '';
      if (pageToken === '') return total;
    }
    throw new Error(`more than ${ENTRY_PAGES_MAX} pages of entries on ${accountId}`);
  }

  close(): void {
    this.client.close();
    this.storedValue.close();
  }
}

export class GrpcLedgerPort implements LedgerPort {
  private readonly client: LedgerServiceClient;

  constructor(address: string, token: () => string | undefined, metrics?: Metrics) {
    this.client = createClient(LedgerServiceClient, {
      address,
      token,
      defaultDeadlineMs: CALL_DEADLINE_MS,
      idempotent: ['getCheckReport'],
      ...(metrics !== undefined ? { metrics } : {}),
    });
  }

  async checkReport(accountingDate: string): Promise<{ status: string; detail: string } | undefined> {
    try {
      const res = await unary(this.client.getCheckReport.bind(this.client), { accountingDate });
      const report = res.report;
      if (report === undefined) return undefined;
      return {
        status: report.status === CheckStatus.CHECK_STATUS_PASSED ? 'PASSED' : 'FAILED',
        detail: `${report.voucherCount} vouchers, ${report.accountBalanceCount} account balances, ${report.differences.length} differences`,
      };
    } catch (err) {
      if (errorReason(err) === 'CHECK_REPORT_NOT_FOUND') return undefined;
      return call('ledger', 'GetCheckReport', () => Promise.reject(asError(err)));
    }
  }

  close(): void {
    this.client.close();
  }
}
