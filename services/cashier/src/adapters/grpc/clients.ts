/**
 * AccountPort and ChannelPort over gRPC. Every call has a deadline; a
 * refusal by the other service (a business reason) becomes DependencyRefusal
 * or a CashierError; unreachability becomes CashierError
 * DEPENDENCY_UNAVAILABLE, which leaves the flow where it is for the recovery
 * worker to resume.
 */
import { createClient, peerCallError, unary, type Metrics } from '@paycore/platform';
export { serviceAddress } from '@paycore/platform';
import {
  AccountServiceClient,
  OwnerType,
  Side,
  type TransferLeg,
} from '@paycore/proto/paycore/account/v1/account_service';
import { StoredValueServiceClient } from '@paycore/proto/paycore/account/v1/stored_value_service';
import { ChannelServiceClient } from '@paycore/proto/paycore/channel/v1/channel_service';
import { TxnState, type ChannelTransaction } from '@paycore/proto/paycore/channel/v1/types';
import { CURRENCY } from '../../domain/model';
import { CashierError } from '../../domain/errors';
import type { AccountRef } from '../../domain/accounts';
import {
  DependencyRefusal,
  type AccountPort,
  type ChannelPort,
  type ChannelTxn,
  type ChannelTxnState,
  type Leg,
  type LotSpend,
  type StoredValuePort,
} from '../../application/ports';

const CALL_DEADLINE_MS = 10_000;

/** Maps a failed call: transient -> DEPENDENCY_UNAVAILABLE, otherwise a refusal with the callee's reason. */
function failure(service: string, method: string, err: unknown): Error {
  return peerCallError(service, method, err, {
    unavailable: (message) => new CashierError('DEPENDENCY_UNAVAILABLE', message),
    refused: (reason, message) => new DependencyRefusal(service, reason, message),
  });
}

const OWNER_TYPES = {
  CUSTOMER: OwnerType.OWNER_TYPE_CUSTOMER,
  MERCHANT: OwnerType.OWNER_TYPE_MERCHANT,
  INTERNAL: OwnerType.OWNER_TYPE_INTERNAL,
} as const;

function toLegs(legs: readonly Leg[]): TransferLeg[] {
  return legs.map((leg) => ({
    accountId: leg.accountId,
    side: leg.side === 'DEBIT' ? Side.SIDE_DEBIT : Side.SIDE_CREDIT,
    amount: { amountMinor: leg.amountMinor, currency: CURRENCY },
  }));
}

export class GrpcAccountPort implements AccountPort {
  private readonly client: AccountServiceClient;

  constructor(address: string, token: () => string | undefined, metrics?: Metrics) {
    this.client = createClient(AccountServiceClient, {
      address,
      token,
      defaultDeadlineMs: CALL_DEADLINE_MS,
      // Every mutation below carries a request id, so a replay is safe.
      idempotent: [
        'openAccount',
        'tryTransfer',
        'confirmTransfer',
        'cancelTransfer',
        'transfer',
        'getBalance',
      ],
      ...(metrics !== undefined ? { metrics } : {}),
    });
  }

  private async call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw failure('account', method, err);
    }
  }

  async openAccount(requestId: string, bizCode: string, ref: AccountRef, currency: string): Promise<string> {
    const res = await this.call('OpenAccount', () =>
      unary(this.client.openAccount.bind(this.client), {
        requestId,
        bizContext: { code: bizCode },
        ownerType: OWNER_TYPES[ref.ownerType],
        ownerId: ref.ownerId,
        subjectCode: ref.subject,
        currency,
        normalSide: ref.normalSide === 'DEBIT' ? Side.SIDE_DEBIT : Side.SIDE_CREDIT,
        allowOverdraft: ref.allowOverdraft,
      }),
    );
    const id = res.account?.accountId;
    if (id === undefined || id === '') throw new Error('account OpenAccount returned no account id');
    return id;
  }

  async tryTransfer(
    pendingId: string,
    bizCode: string,
    legs: readonly Leg[],
    timeoutMs: number,
  ): Promise<void> {
    await this.call('TryTransfer', () =>
      unary(this.client.tryTransfer.bind(this.client), {
        requestId: `try:${pendingId}`,
        bizContext: { code: bizCode },
        pendingId,
        legs: toLegs(legs),
        timeout: { seconds: BigInt(Math.ceil(timeoutMs / 1000)), nanos: 0 },
      }),
    );
  }

  async confirmTransfer(pendingId: string, bizCode: string): Promise<void> {
    await this.call('ConfirmTransfer', () =>
      unary(this.client.confirmTransfer.bind(this.client), {
        requestId: `confirm:${pendingId}`,
        bizContext: { code: bizCode },
        pendingId,
        legs: [],
      }),
    );
  }

  async cancelTransfer(pendingId: string, bizCode: string): Promise<void> {
    await this.call('CancelTransfer', () =>
      unary(this.client.cancelTransfer.bind(this.client), {
        requestId: `cancel:${pendingId}`,
        bizContext: { code: bizCode },
        pendingId,
      }),
    );
  }

  async transfer(requestId: string, bizCode: string, legs: readonly Leg[], memo: string): Promise<void> {
    await this.call('Transfer', () =>
      unary(this.client.transfer.bind(this.client), {
        requestId,
        bizContext: { code: bizCode },
        legs: toLegs(legs),
        memo: memo.slice(0, 256),
      }),
    );
  }

  async balance(accountId: string): Promise<{ availableMinor: bigint; totalMinor: bigint }> {
    const res = await this.call('GetBalance', () =>
      unary(this.client.getBalance.bind(this.client), { accountId, asOf: undefined }),
    );
    return {
      availableMinor: res.balance?.available?.amountMinor ?? 0n,
      totalMinor: res.balance?.total?.amountMinor ?? 0n,
    };
  }
}

/** account's TryConsume accepts a hold of 1 s to 24 h. */
const CONSUME_TIMEOUT_MAX_S = 24 * 3_600;

export class GrpcStoredValuePort implements StoredValuePort {
  private readonly client: StoredValueServiceClient;

  constructor(address: string, token: () => string | undefined, metrics?: Metrics) {
    this.client = createClient(StoredValueServiceClient, {
      address,
      token,
      defaultDeadlineMs: CALL_DEADLINE_MS,
      // Every mutation below carries a request id derived from the consumption id, so a replay is safe.
      idempotent: ['tryConsume', 'confirmConsume', 'cancelConsume', 'refundConsumption'],
      ...(metrics !== undefined ? { metrics } : {}),
    });
  }

  private async call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw failure('account', method, err);
    }
  }

  async tryConsume(
    consumptionId: string,
    bizCode: string,
    spend: LotSpend,
    timeoutMs: number,
  ): Promise<void> {
    const seconds = Math.min(CONSUME_TIMEOUT_MAX_S, Math.max(1, Math.ceil(timeoutMs / 1000)));
    await this.call('TryConsume', () =>
      unary(this.client.tryConsume.bind(this.client), {
        requestId: `sv-try:${consumptionId}`,
        bizContext: { code: bizCode },
        consumptionId,
        ownerId: spend.ownerId,
        asset: spend.asset,
        consumptionType: spend.consumptionType,
        quantity: spend.quantity,
        timeout: { seconds: BigInt(seconds), nanos: 0 },
      }),
    );
  }

  async confirmConsume(consumptionId: string, bizCode: string): Promise<void> {
    await this.call('ConfirmConsume', () =>
      unary(this.client.confirmConsume.bind(this.client), {
        requestId: `sv-confirm:${consumptionId}`,
        bizContext: { code: bizCode },
        consumptionId,
      }),
    );
  }

  async cancelConsume(consumptionId: string, bizCode: string): Promise<void> {
    await this.call('CancelConsume', () =>
      unary(this.client.cancelConsume.bind(this.client), {
        requestId: `sv-cancel:${consumptionId}`,
        bizContext: { code: bizCode },
        consumptionId,
      }),
    );
  }

  async refundConsumption(
    requestId: string,
    bizCode: string,
    consumptionId: string,
    quantity: bigint,
  ): Promise<void> {
    await this.call('RefundConsumption', () =>
      unary(this.client.refundConsumption.bind(this.client), {
        requestId,
        bizContext: { code: bizCode },
        consumptionId,
        quantity,
      }),
    );
  }
}

const TXN_STATES: Readonly<Partial<Record<TxnState, ChannelTxnState>>> = {
  [TxnState.TXN_STATE_PROCESSING]: 'PROCESSING',
  [TxnState.TXN_STATE_SUCCESS]: 'SUCCESS',
  [TxnState.TXN_STATE_FAIL]: 'FAIL',
  [TxnState.TXN_STATE_CLOSED]: 'CLOSED',
  [TxnState.TXN_STATE_UNKNOWN]: 'UNKNOWN',
};

export function fromChannelTxn(txn: ChannelTransaction | undefined): ChannelTxn {
  if (txn === undefined) throw new Error('channel-router returned no transaction');
  const state = TXN_STATES[txn.state];
  if (state === undefined) throw new Error(`channel-router returned transaction state ${txn.state}`);
  return {
    txnId: txn.txnId,
    state,
    payUrl: txn.payUrl,
    failureCode: txn.failureCode,
    failureMessage: txn.failureMessage,
    channelNo: txn.channelNo,
  };
}

export class GrpcChannelPort implements ChannelPort {
  private readonly client: ChannelServiceClient;

  constructor(address: string, token: () => string | undefined, metrics?: Metrics) {
    this.client = createClient(ChannelServiceClient, {
      address,
      token,
      defaultDeadlineMs: CALL_DEADLINE_MS,
      idempotent: [
        'listPayChannels',
        'route',
        'createChannelPayment',
        'queryChannelPayment',
        'closeChannelPayment',
        'refundChannelPayment',
        'createPayout',
        'queryPayout',
      ],
      ...(metrics !== undefined ? { metrics } : {}),
    });
  }

  private async call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw failure('channel-router', method, err);
    }
  }

  async listPayChannels(
    bizCode: string,
    amountMinor: bigint,
  ): Promise<{ payChannel: string; label: string }[]> {
    const res = await this.call('ListPayChannels', () =>
      unary(this.client.listPayChannels.bind(this.client), {
        bizContext: { code: bizCode },
        amount: { amountMinor, currency: CURRENCY },
      }),
    );
    return res.payChannels.map((p) => ({ payChannel: p.payChannel, label: p.label }));
  }

  async route(bizCode: string, amountMinor: bigint, merchantId: string, payChannel: string) {
    const res = await this.call('Route', () =>
      unary(this.client.route.bind(this.client), {
        bizContext: { code: bizCode },
        amount: { amountMinor, currency: CURRENCY },
        merchantId,
        payChannel,
        strategy: 0,
      }),
    );
    return { payChannel: res.payChannel, channelNo: res.channelNo, bizCode: res.bizContext?.code ?? '' };
  }

  async createPayment(requestId: string, bizCode: string, amountMinor: bigint, subject: string) {
    const res = await this.call('CreateChannelPayment', () =>
      unary(this.client.createChannelPayment.bind(this.client), {
        requestId,
        bizContext: { code: bizCode },
        amount: { amountMinor, currency: CURRENCY },
        subject,
      }),
    );
    return fromChannelTxn(res.transaction);
  }

  async query(txnId: string) {
    const res = await this.call('QueryChannelPayment', () =>
      unary(this.client.queryChannelPayment.bind(this.client), { txnId }),
    );
    return fromChannelTxn(res.transaction);
  }

  async close(requestId: string, txnId: string): Promise<ChannelTxn | 'ALREADY_PAID'> {
    try {
      const res = await unary(this.client.closeChannelPayment.bind(this.client), { requestId, txnId });
      return fromChannelTxn(res.transaction);
    } catch (err) {
      const mapped = failure('channel-router', 'CloseChannelPayment', err);
      if (mapped instanceof DependencyRefusal && mapped.reason === 'ALREADY_PAID') return 'ALREADY_PAID';
      throw mapped;
    }
  }

  async refund(
    requestId: string,
    paymentTxnId: string,
    amountMinor: bigint,
    reason: string,
    bizCode: string,
  ) {
    const res = await this.call('RefundChannelPayment', () =>
      unary(this.client.refundChannelPayment.bind(this.client), {
        requestId,
        paymentTxnId,
        amount: { amountMinor, currency: CURRENCY },
        reason: reason.slice(0, 128),
        bizContext: { code: bizCode },
      }),
    );
    return fromChannelTxn(res.transaction);
  }

  async createPayout(
    requestId: string,
    bizCode: string,
    amountMinor: bigint,
    payee: { accountNo: string; accountName: string; bankCode: string },
  ) {
    const res = await this.call('CreatePayout', () =>
      unary(this.client.createPayout.bind(this.client), {
        requestId,
        bizContext: { code: bizCode },
        amount: { amountMinor, currency: CURRENCY },
        accountNo: payee.accountNo,
        accountName: payee.accountName,
        bankCode: payee.bankCode,
        remark: 'paycore withdrawal',
      }),
    );
    return fromChannelTxn(res.transaction);
  }

  async queryPayout(txnId: string) {
    const res = await this.call('QueryPayout', () =>
      unary(this.client.queryPayout.bind(this.client), { txnId }),
    );
    return fromChannelTxn(res.transaction);
  }
}
