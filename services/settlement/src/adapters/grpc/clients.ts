/**
 * The account port (OpenAccount, ListAccounts, Transfer) and the payout port
 * (channel-router CreatePayout / QueryPayout) over gRPC. Every call has a
 * deadline and carries the caller's request id, so a retried call after a
 * lost answer or a crash is a replay on the other side, never a second
 * posting or a second payout. Unreachability becomes SettlementError
 * DEPENDENCY_UNAVAILABLE (the batch stays where it is and is redelivered).
 */
import { createClient, peerCallError, unary, type Metrics } from '@paycore/platform';
export { serviceAddress } from '@paycore/platform';
import { AccountServiceClient, OwnerType, Side } from '@paycore/proto/paycore/account/v1/account_service';
import { ChannelServiceClient } from '@paycore/proto/paycore/channel/v1/channel_service';
import { TxnState, type ChannelTransaction } from '@paycore/proto/paycore/channel/v1/types';
import { SettlementError } from '../../domain/errors';
import type { AccountPort, AccountRef, PayoutPort, PayoutState, ResolvedLeg } from '../../application/ports';

export const CALL_DEADLINE_MS = 10_000;
const ACCOUNT_PAGE_SIZE = 200;
const ACCOUNT_PAGES_MAX = 50;

/** A refusal keeps the callee's reason in the message; transient failures become DEPENDENCY_UNAVAILABLE. */
async function call<T>(service: string, method: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw peerCallError(service, method, err, {
      unavailable: (message) => new SettlementError('DEPENDENCY_UNAVAILABLE', message),
      refused: (reason, message) => new Error(`${message} (${reason})`),
    });
  }
}

const OWNER_TYPES = {
  MERCHANT: OwnerType.OWNER_TYPE_MERCHANT,
  INTERNAL: OwnerType.OWNER_TYPE_INTERNAL,
} as const;
const sideOf = (side: 'DEBIT' | 'CREDIT'): Side => (side === 'DEBIT' ? Side.SIDE_DEBIT : Side.SIDE_CREDIT);

export class GrpcAccountPort implements AccountPort {
  private readonly client: AccountServiceClient;

  constructor(address: string, token: () => string | undefined, metrics?: Metrics) {
    this.client = createClient(AccountServiceClient, {
      address,
      token,
      defaultDeadlineMs: CALL_DEADLINE_MS,
      // Mutations carry request ids: a replay is safe.
      idempotent: ['openAccount', 'transfer', 'listAccounts'],
      ...(metrics !== undefined ? { metrics } : {}),
    });
  }

  async find(ref: AccountRef, currency: string): Promise<string | undefined> {
    let pageToken = '';
    for (let page = 0; page < ACCOUNT_PAGES_MAX; page++) {
      const res = await call('account', 'ListAccounts', () =>
        unary(this.client.listAccounts.bind(this.client), {
          ownerType: OWNER_TYPES[ref.ownerType],
          ownerId: ref.ownerId,
          page: { pageSize: ACCOUNT_PAGE_SIZE, pageToken },
        }),
      );
      const found = res.accounts
        .filter((a) => a.subjectCode === ref.subject && a.currency === currency)
        .sort((a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0))[0];
      if (found !== undefined) return found.accountId;
      pageToken = res.page?.nextPageToken ?? '';
      if (pageToken === '') return undefined;
    }
    throw new Error(`more than ${ACCOUNT_PAGES_MAX} pages of accounts of ${ref.ownerId}`);
  }

  async open(requestId: string, bizCode: string, ref: AccountRef, currency: string): Promise<string> {
    const res = await call('account', 'OpenAccount', () =>
      unary(this.client.openAccount.bind(this.client), {
        requestId,
        bizContext: { code: bizCode },
        ownerType: OWNER_TYPES[ref.ownerType],
        ownerId: ref.ownerId,
        subjectCode: ref.subject,
        currency,
        normalSide: sideOf(ref.normalSide),
        allowOverdraft: ref.allowOverdraft,
      }),
    );
    const id = res.account?.accountId ?? '';
    if (id === '') throw new Error('account OpenAccount returned no account id');
    return id;
  }

  async transfer(
    requestId: string,
    bizCode: string,
    legs: readonly ResolvedLeg[],
    currency: string,
    memo: string,
  ): Promise<void> {
    await call('account', 'Transfer', () =>
      unary(this.client.transfer.bind(this.client), {
        requestId,
        bizContext: { code: bizCode },
        legs: legs.map((leg) => ({
          accountId: leg.accountId,
          side: sideOf(leg.side),
          amount: { amountMinor: leg.amountMinor, currency },
        })),
        memo: memo.slice(0, 256),
      }),
    );
  }

  close(): void {
    this.client.close();
  }
}

const PAYOUT_STATES: Readonly<Partial<Record<TxnState, PayoutState>>> = {
  [TxnState.TXN_STATE_PROCESSING]: 'PROCESSING',
  [TxnState.TXN_STATE_SUCCESS]: 'SUCCESS',
  [TxnState.TXN_STATE_FAIL]: 'FAIL',
  [TxnState.TXN_STATE_UNKNOWN]: 'UNKNOWN',
};

function payoutOf(txn: ChannelTransaction | undefined): { txnId: string; state: PayoutState } {
  if (txn === undefined) throw new Error('channel-router returned no payout transaction');
  const state = PAYOUT_STATES[txn.state];
  if (state === undefined) throw new Error(`channel-router returned payout state ${txn.state}`);
  return { txnId: txn.txnId, state };
}

export class GrpcPayoutPort implements PayoutPort {
  private readonly client: ChannelServiceClient;

  constructor(address: string, token: () => string | undefined, metrics?: Metrics) {
    this.client = createClient(ChannelServiceClient, {
      address,
      token,
      defaultDeadlineMs: CALL_DEADLINE_MS,
      idempotent: ['createPayout', 'queryPayout'],
      ...(metrics !== undefined ? { metrics } : {}),
    });
  }

  async createPayout(
    requestId: string,
    bizCode: string,
    amountMinor: bigint,
    bank: { accountNo: string; accountName: string; bankCode: string },
  ) {
    const res = await call('channel-router', 'CreatePayout', () =>
      unary(this.client.createPayout.bind(this.client), {
        requestId,
        bizContext: { code: bizCode },
        amount: { amountMinor, currency: 'CNY' },
        accountNo: bank.accountNo,
        accountName: bank.accountName,
        bankCode: bank.bankCode,
        remark: `settlement ${requestId}`.slice(0, 64),
      }),
    );
    return payoutOf(res.transaction);
  }

  async queryPayout(txnId: string) {
    const res = await call('channel-router', 'QueryPayout', () =>
      unary(this.client.queryPayout.bind(this.client), { txnId }),
    );
    return payoutOf(res.transaction);
  }

  close(): void {
    this.client.close();
  }
}
