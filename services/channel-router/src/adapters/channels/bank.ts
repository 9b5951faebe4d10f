/**
 * Bank payout (代付) adapter: the signed JSON envelope of
 * @paycore/channel-protocols both ways. Codes: 0000 found/accepted (read
 * `status`), 1001–1005 refused before any effect, 9999 outcome unknown.
 */
import { randomUUID } from 'node:crypto';
import { bankPayload, bankSeal, bankVerify, parseBankEnvelope } from '@paycore/channel-protocols';
import type { ChannelCredentials } from '../../domain/credentials';
import type { AdapterOptions } from './alipay';
import { channelRequest } from './http';
import {
  NO_ANSWER,
  UnsupportedOperationError,
  type BillFile,
  type ChannelAdapter,
  type ChannelOutcome,
  type Payee,
  type PaymentRef,
} from './types';

type BankCredentials = Extract<ChannelCredentials, { protocol: 'BANK' }>;

function str(payload: Record<string, unknown>, name: string): string {
  const value = payload[name];
  return typeof value === 'string' ? value : '';
}

export class BankAdapter implements ChannelAdapter {
  constructor(
    private readonly credentials: BankCredentials,
    private readonly options: AdapterOptions,
  ) {}

  async call(path: string, payload: object): Promise<Record<string, unknown> | undefined> {
    const envelope = bankSeal(payload, {
      mchId: this.credentials.mchId,
      key: this.credentials.key,
      timestampMs: this.options.nowMs(),
      nonce: randomUUID(),
    });
    const answer = await channelRequest(
      `${this.options.baseUrl}${path}`,
      { method: 'POST', body: JSON.stringify(envelope), contentType: 'application/json; charset=utf-8' },
      this.options.timeoutMs,
    );
    if (answer === undefined || answer.status !== 200) return undefined;
    try {
      const parsed = parseBankEnvelope(answer.body.toString('utf8'));
      if (!bankVerify(parsed, this.credentials.key)) return undefined;
      return bankPayload(parsed);
    } catch {
      return undefined;
    }
  }

  private static outcome(payload: Record<string, unknown>, retryableElsewhere: boolean): ChannelOutcome {
    const code = str(payload, 'code');
    if (code === '9999')
      return { state: 'UNKNOWN', healthy: false, failureCode: code, failureMessage: str(payload, 'message') };
    if (code === '1004') return { state: undefined, healthy: true, failureCode: code };
    if (code !== '0000') {
      return {
        state: 'FAIL',
        healthy: true,
        failureCode: code,
        failureMessage: str(payload, 'message'),
        retryableElsewhere,
      };
    }
    const status = str(payload, 'status');
    const amount = str(payload, 'amount');
    return {
      state: status === 'SUCCESS' ? 'SUCCESS' : status === 'FAILED' ? 'FAIL' : 'PROCESSING',
      healthy: true,
      channelTxnNo: str(payload, 'bank_serial_no'),
      ...(status === 'FAILED'
        ? { failureCode: 'PAYOUT_FAILED', failureMessage: str(payload, 'fail_reason') }
        : {}),
      ...(/^\d{1,18}$/.test(amount) ? { amountFen: BigInt(amount) } : {}),
    };
  }

  async createPayout(payout: PaymentRef, payee: Payee): Promise<ChannelOutcome> {
    const payload = await this.call('/payout', {
      out_payout_no: payout.txnId,
      amount: payout.amountFen.toString(),
      currency: 'CNY',
      account_no: payee.accountNo,
      account_name: payee.accountName,
      bank_code: payee.bankCode,
      ...(payee.remark !== '' ? { remark: payee.remark } : {}),
    });
    if (payload === undefined) return NO_ANSWER;
    // 1001-1005 are refusals of the request itself: the bank moved nothing.
    return BankAdapter.outcome(payload, true);
  }

  async queryPayout(payout: PaymentRef): Promise<ChannelOutcome> {
    const payload = await this.call('/payout/query', { out_payout_no: payout.txnId });
    if (payload === undefined) return NO_ANSWER;
    return BankAdapter.outcome(payload, false);
  }

  private unsupported(): never {
    throw new UnsupportedOperationError('bank channel numbers only pay out');
  }

  createPayment(): Promise<ChannelOutcome> {
    this.unsupported();
  }
  queryPayment(): Promise<ChannelOutcome> {
    this.unsupported();
  }
  closePayment(): Promise<ChannelOutcome> {
    this.unsupported();
  }
  refund(): Promise<ChannelOutcome> {
    this.unsupported();
  }
  queryRefund(): Promise<ChannelOutcome> {
    this.unsupported();
  }
  downloadBill(): Promise<BillFile | undefined> {
    this.unsupported();
  }
}
