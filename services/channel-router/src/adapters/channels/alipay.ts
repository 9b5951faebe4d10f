/**
 * Alipay openapi adapter (`alipay.trade.*` over the v2 gateway). Requests are
 * form posts signed RSA2 with the merchant app key; every answer is verified
 * against Alipay's public key over the raw response text before it is read
 * (an unverifiable answer is "no answer": UNKNOWN, and unhealthy for the
 * breaker). Result codes: 10000 success, 40004 business failure (ACQ.*),
 * 20000 system error (outcome unknown), 4000x request rejected before any
 * effect.
 */
import {
  alipaySign,
  fenToYuan,
  parseAlipayBill,
  toForm,
  verifyResponse,
  yuanToFen,
} from '@paycore/channel-protocols';
import type { ChannelCredentials } from '../../domain/credentials';
import type { TxnState } from '../../domain/txn';
import { channelRequest } from './http';
import {
  NO_ANSWER,
  UnsupportedOperationError,
  type BillFile,
  type ChannelAdapter,
  type ChannelOutcome,
  type PaymentRef,
} from './types';

type AlipayCredentials = Extract<ChannelCredentials, { protocol: 'ALIPAY' }>;
type Answer = Record<string, unknown>;

export interface AdapterOptions {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly nowMs: () => number;
}

function text(answer: Answer, name: string): string {
  const value = answer[name];
  return typeof value === 'string' ? value : '';
}

function chinaDateTime(nowMs: number): string {
  return new Date(nowMs + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** WAIT_BUYER_PAY → PROCESSING; TRADE_SUCCESS / FINISHED → SUCCESS; TRADE_CLOSED → CLOSED unless it was paid (then refunded). */
export function alipayTradeState(answer: Answer): TxnState | undefined {
  switch (text(answer, 'trade_status')) {
    case 'WAIT_BUYER_PAY':
      return 'PROCESSING';
    case 'TRADE_SUCCESS':
    case 'TRADE_FINISHED':
      return 'SUCCESS';
    case 'TRADE_CLOSED':
      // A fully refunded trade is also TRADE_CLOSED; it was paid, and the payment itself succeeded.
      return text(answer, 'gmt_payment') !== '' || text(answer, 'send_pay_date') !== ''
        ? 'SUCCESS'
        : 'CLOSED';
    default:
      return undefined;
  }
}

function amountOf(answer: Answer, name: string): bigint | undefined {
  const value = text(answer, name);
  if (value === '') return undefined;
  try {
    return yuanToFen(value);
  } catch {
    return undefined;
  }
}

function refused(answer: Answer, retryableElsewhere: boolean): ChannelOutcome {
  return {
    state: 'FAIL',
    healthy: true,
    failureCode: text(answer, 'sub_code') || text(answer, 'code'),
    failureMessage: text(answer, 'sub_msg') || text(answer, 'msg'),
    retryableElsewhere,
  };
}

function unknown(answer: Answer): ChannelOutcome {
  return {
    state: 'UNKNOWN',
    healthy: false,
    failureCode: text(answer, 'sub_code') || text(answer, 'code'),
    failureMessage: text(answer, 'sub_msg') || text(answer, 'msg'),
  };
}

export class AlipayAdapter implements ChannelAdapter {
  constructor(
    private readonly credentials: AlipayCredentials,
    private readonly options: AdapterOptions,
  ) {}

  /** The verified `<method>_response` object, or undefined when there was no trustworthy answer. */
  async call(method: string, biz: Record<string, string>, notifyUrl?: string): Promise<Answer | undefined> {
    const params: Record<string, string> = {
      app_id: this.credentials.appId,
      method,
      format: 'JSON',
      charset: 'utf-8',
      sign_type: 'RSA2',
      timestamp: chinaDateTime(this.options.nowMs()),
      version: '1.0',
      biz_content: JSON.stringify(biz),
      ...(notifyUrl !== undefined ? { notify_url: notifyUrl } : {}),
    };
    params.sign = alipaySign(params, this.credentials.merchantPrivateKey);
    const answer = await channelRequest(
      this.options.baseUrl,
      {
        method: 'POST',
        body: toForm(params),
        contentType: 'application/x-www-form-urlencoded;charset=utf-8',
      },
      this.options.timeoutMs,
    );
    if (answer === undefined || answer.status !== 200) return undefined;
    try {
      const verified = verifyResponse(answer.body.toString('utf8'), method, this.credentials.alipayPublicKey);
      return verified.ok ? verified.response : undefined;
    } catch {
      return undefined;
    }
  }

  async createPayment(
    payment: PaymentRef,
    subject: string,
    _payChannel: string,
    notifyUrl: string,
  ): Promise<ChannelOutcome> {
    const answer = await this.call(
      'alipay.trade.precreate',
      { out_trade_no: payment.txnId, total_amount: fenToYuan(payment.amountFen), subject },
      notifyUrl,
    );
    if (answer === undefined) return NO_ANSWER;
    const code = text(answer, 'code');
    if (code === '10000') return { state: 'PROCESSING', healthy: true, payUrl: text(answer, 'qr_code') };
    if (code === '20000') return unknown(answer);
    // A precreate refused (40004) or rejected as a request (4000x) created nothing: safe elsewhere.
    return refused(answer, true);
  }

  async queryPayment(payment: PaymentRef): Promise<ChannelOutcome> {
    const answer = await this.call('alipay.trade.query', { out_trade_no: payment.txnId });
    if (answer === undefined) return NO_ANSWER;
    const code = text(answer, 'code');
    if (code === '20000') return unknown(answer);
    // TRADE_NOT_EXIST right after a lost create answer says nothing final; status sync asks again.
    if (code !== '10000') return { state: undefined, healthy: true, failureCode: text(answer, 'sub_code') };
    const amountFen = amountOf(answer, 'total_amount');
    return {
      state: alipayTradeState(answer),
      healthy: true,
      channelTxnNo: text(answer, 'trade_no'),
      ...(amountFen !== undefined ? { amountFen } : {}),
    };
  }

  async closePayment(payment: PaymentRef): Promise<ChannelOutcome> {
    const answer = await this.call('alipay.trade.close', { out_trade_no: payment.txnId });
    if (answer === undefined) return NO_ANSWER;
    const code = text(answer, 'code');
    if (code === '10000') return { state: 'CLOSED', healthy: true };
    if (code === '20000') return unknown(answer);
    // ACQ.TRADE_STATUS_ERROR: the trade was paid meanwhile; the caller queries to learn it.
    return {
      state: undefined,
      healthy: true,
      failureCode: text(answer, 'sub_code'),
      failureMessage: text(answer, 'sub_msg'),
    };
  }

  async refund(refund: PaymentRef, payment: PaymentRef, reason: string): Promise<ChannelOutcome> {
    const answer = await this.call('alipay.trade.refund', {
      out_trade_no: payment.txnId,
      refund_amount: fenToYuan(refund.amountFen),
      out_request_no: refund.txnId,
      ...(reason !== '' ? { refund_reason: reason } : {}),
    });
    if (answer === undefined) return NO_ANSWER;
    const code = text(answer, 'code');
    if (code === '10000') return { state: 'SUCCESS', healthy: true, channelTxnNo: text(answer, 'trade_no') };
    if (code === '20000') return unknown(answer);
    return refused(answer, false);
  }

  async queryRefund(refund: PaymentRef, payment: PaymentRef): Promise<ChannelOutcome> {
    const answer = await this.call('alipay.trade.fastpay.refund.query', {
      out_trade_no: payment.txnId,
      out_request_no: refund.txnId,
    });
    if (answer === undefined) return NO_ANSWER;
    const code = text(answer, 'code');
    if (code === '20000') return unknown(answer);
    if (code !== '10000') return { state: undefined, healthy: true };
    // Alipay answers 10000 without refund_amount when no such refund exists.
    const amountFen = amountOf(answer, 'refund_amount');
    if (amountFen === undefined) return { state: undefined, healthy: true };
    const status = text(answer, 'refund_status');
    return {
      state: status === '' || status === 'REFUND_SUCCESS' ? 'SUCCESS' : undefined,
      healthy: true,
      amountFen,
    };
  }

  createPayout(): Promise<ChannelOutcome> {
    throw new UnsupportedOperationError('Alipay channel numbers do not pay out here');
  }

  queryPayout(): Promise<ChannelOutcome> {
    throw new UnsupportedOperationError('Alipay channel numbers do not pay out here');
  }

  async downloadBill(billDate: string): Promise<BillFile | undefined> {
    const answer = await this.call('alipay.data.dataservice.bill.downloadurl.query', {
      bill_type: 'trade',
      bill_date: billDate,
    });
    if (answer === undefined) throw new BillDownloadError('no verified answer from the bill URL query');
    if (text(answer, 'code') !== '10000') return undefined;
    const url = text(answer, 'bill_download_url');
    if (url === '') return undefined;
    const file = await channelRequest(url, { method: 'GET' }, this.options.timeoutMs);
    if (file === undefined) throw new BillDownloadError('bill download failed');
    if (file.status === 404) return undefined;
    if (file.status !== 200) throw new BillDownloadError(`bill download answered ${file.status}`);
    const parsed = parseAlipayBill(file.body);
    return { format: 'ALIPAY_TRADE_ZIP', content: file.body, lineCount: parsed.lines.length };
  }
}

/** The channel could not be reached for a bill; the RPC answers UNAVAILABLE. */
export class BillDownloadError extends Error {
  readonly reason = 'DEPENDENCY_UNAVAILABLE';
  readonly grpcCode = 'UNAVAILABLE' as const;
}
