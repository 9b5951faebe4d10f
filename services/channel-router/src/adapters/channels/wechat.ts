/**
 * WeChat Pay API v2 adapter: signed XML requests (MD5 or HMAC-SHA256 with
 * the API key), answers verified before they are read. `return_code` FAIL
 * means the request was not processed (communication or signature), so a
 * create may go elsewhere; `result_code` FAIL with SYSTEMERROR is an unknown
 * outcome; other err_codes are business refusals.
 */
import { randomBytes } from 'node:crypto';
import {
  fromXml,
  parseFen,
  parseWechatBill,
  toXml,
  wechatSign,
  wechatVerify,
} from '@paycore/channel-protocols';
import type { ChannelCredentials } from '../../domain/credentials';
import type { TxnState } from '../../domain/txn';
import type { AdapterOptions } from './alipay';
import { BillDownloadError } from './alipay';
import { channelRequest } from './http';
import {
  NO_ANSWER,
  UnsupportedOperationError,
  type BillFile,
  type ChannelAdapter,
  type ChannelOutcome,
  type PaymentRef,
} from './types';

type WechatCredentials = Extract<ChannelCredentials, { protocol: 'WECHAT' }>;
type Fields = Record<string, string>;

/** NOTPAY / USERPAYING → PROCESSING; SUCCESS / REFUND → SUCCESS; CLOSED / REVOKED → CLOSED; PAYERROR → FAIL. */
export function wechatTradeState(tradeState: string | undefined): TxnState | undefined {
  switch (tradeState) {
    case 'NOTPAY':
    case 'USERPAYING':
      return 'PROCESSING';
    case 'SUCCESS':
    case 'REFUND':
      return 'SUCCESS';
    case 'CLOSED':
    case 'REVOKED':
      return 'CLOSED';
    case 'PAYERROR':
      return 'FAIL';
    default:
      return undefined;
  }
}

function fenOf(fields: Fields, name: string): bigint | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  try {
    return parseFen(value);
  } catch {
    return undefined;
  }
}

export class WechatAdapter implements ChannelAdapter {
  constructor(
    private readonly credentials: WechatCredentials,
    private readonly options: AdapterOptions,
  ) {}

  private sealed(body: Fields): string {
    const fields: Fields = {
      appid: this.credentials.appId,
      mch_id: this.credentials.mchId,
      nonce_str: randomBytes(16).toString('hex'),
      ...(this.credentials.signType === 'HMAC-SHA256' ? { sign_type: 'HMAC-SHA256' } : {}),
      ...body,
    };
    return toXml({ ...fields, sign: wechatSign(fields, this.credentials.apiKey, this.credentials.signType) });
  }

  /** The verified answer, or undefined when there was none worth trusting. */
  async call(path: string, body: Fields): Promise<Fields | undefined> {
    const answer = await channelRequest(
      `${this.options.baseUrl}${path}`,
      { method: 'POST', body: this.sealed(body), contentType: 'text/xml; charset=utf-8' },
      this.options.timeoutMs,
    );
    if (answer === undefined || answer.status !== 200) return undefined;
    let fields: Fields;
    try {
      fields = fromXml(answer.body.toString('utf8'));
    } catch {
      return undefined;
    }
    // return_code FAIL answers are unsigned by design; they carry no business data to trust.
    if (fields.return_code !== 'SUCCESS') return fields;
    return wechatVerify(fields, this.credentials.apiKey, this.credentials.signType) ? fields : undefined;
  }

  private static outcomeOfFailure(fields: Fields, retryableElsewhere: boolean): ChannelOutcome {
    if (fields.return_code !== 'SUCCESS') {
      return {
        state: 'FAIL',
        healthy: true,
        failureCode: 'RETURN_FAIL',
        failureMessage: fields.return_msg ?? '',
        retryableElsewhere: true,
      };
    }
    const code = fields.err_code ?? '';
    if (code === 'SYSTEMERROR' || code === 'BANKERROR') {
      return {
        state: 'UNKNOWN',
        healthy: false,
        failureCode: code,
        failureMessage: fields.err_code_des ?? '',
      };
    }
    return {
      state: 'FAIL',
      healthy: true,
      failureCode: code,
      failureMessage: fields.err_code_des ?? '',
      retryableElsewhere,
    };
  }

  async createPayment(
    payment: PaymentRef,
    subject: string,
    payChannel: string,
    notifyUrl: string,
  ): Promise<ChannelOutcome> {
    const fields = await this.call('/pay/unifiedorder', {
      body: subject,
      out_trade_no: payment.txnId,
      total_fee: payment.amountFen.toString(),
      spbill_create_ip: '127.0.0.1',
      notify_url: notifyUrl,
      // 2002 is WeChat JSAPI; everything else on a WeChat channel number is a native QR payment.
      trade_type: payChannel === '2002' ? 'JSAPI' : 'NATIVE',
      ...(payChannel === '2002' ? { openid: 'oPaycoreDemoPayer' } : {}),
    });
    if (fields === undefined) return NO_ANSWER;
    if (fields.return_code === 'SUCCESS' && fields.result_code === 'SUCCESS') {
      return { state: 'PROCESSING', healthy: true, payUrl: fields.code_url ?? fields.prepay_id ?? '' };
    }
    return WechatAdapter.outcomeOfFailure(fields, true);
  }

  async queryPayment(payment: PaymentRef): Promise<ChannelOutcome> {
    const fields = await this.call('/pay/orderquery', { out_trade_no: payment.txnId });
    if (fields === undefined) return NO_ANSWER;
    if (fields.return_code !== 'SUCCESS') return { state: undefined, healthy: true };
    if (fields.result_code !== 'SUCCESS') {
      const failure = WechatAdapter.outcomeOfFailure(fields, false);
      // ORDERNOTEXIST after a lost create answer says nothing final.
      return failure.state === 'UNKNOWN'
        ? failure
        : { state: undefined, healthy: true, failureCode: fields.err_code ?? '' };
    }
    const amountFen = fenOf(fields, 'total_fee');
    return {
      state: wechatTradeState(fields.trade_state),
      healthy: true,
      channelTxnNo: fields.transaction_id ?? '',
      ...(amountFen !== undefined ? { amountFen } : {}),
    };
  }

  async closePayment(payment: PaymentRef): Promise<ChannelOutcome> {
    const fields = await this.call('/pay/closeorder', { out_trade_no: payment.txnId });
    if (fields === undefined) return NO_ANSWER;
    if (fields.return_code === 'SUCCESS' && fields.result_code === 'SUCCESS')
      return { state: 'CLOSED', healthy: true };
    if (fields.err_code === 'ORDERCLOSED') return { state: 'CLOSED', healthy: true };
    if (fields.err_code === 'SYSTEMERROR') return WechatAdapter.outcomeOfFailure(fields, false);
    return {
      state: undefined,
      healthy: true,
      failureCode: fields.err_code ?? 'RETURN_FAIL',
      failureMessage: fields.err_code_des ?? '',
    };
  }

  async refund(refund: PaymentRef, payment: PaymentRef, reason: string): Promise<ChannelOutcome> {
    const fields = await this.call('/secapi/pay/refund', {
      out_trade_no: payment.txnId,
      out_refund_no: refund.txnId,
      total_fee: payment.amountFen.toString(),
      refund_fee: refund.amountFen.toString(),
      ...(reason !== '' ? { refund_desc: reason } : {}),
    });
    if (fields === undefined) return NO_ANSWER;
    // An accepted refund application is not yet money back: WeChat settles it later (refundquery).
    if (fields.return_code === 'SUCCESS' && fields.result_code === 'SUCCESS') {
      return { state: 'PROCESSING', healthy: true, channelTxnNo: fields.refund_id ?? '' };
    }
    return WechatAdapter.outcomeOfFailure(fields, false);
  }

  async queryRefund(refund: PaymentRef): Promise<ChannelOutcome> {
    const fields = await this.call('/pay/refundquery', { out_refund_no: refund.txnId });
    if (fields === undefined) return NO_ANSWER;
    if (fields.return_code !== 'SUCCESS') return { state: undefined, healthy: true };
    if (fields.result_code !== 'SUCCESS') {
      return fields.err_code === 'SYSTEMERROR'
        ? WechatAdapter.outcomeOfFailure(fields, false)
        : { state: undefined, healthy: true };
    }
    const status = fields.refund_status_0;
    const state: TxnState | undefined =
      status === 'SUCCESS'
        ? 'SUCCESS'
        : status === 'PROCESSING'
          ? 'PROCESSING'
          : status === 'REFUNDCLOSE' || status === 'CHANGE'
            ? 'FAIL'
            : undefined;
    const amountFen = fenOf(fields, 'refund_fee_0');
    return {
      state,
      healthy: true,
      channelTxnNo: fields.refund_id_0 ?? '',
      ...(amountFen !== undefined ? { amountFen } : {}),
    };
  }

  createPayout(): Promise<ChannelOutcome> {
    throw new UnsupportedOperationError('WeChat channel numbers do not pay out here');
  }

  queryPayout(): Promise<ChannelOutcome> {
    throw new UnsupportedOperationError('WeChat channel numbers do not pay out here');
  }

  async downloadBill(billDate: string): Promise<BillFile | undefined> {
    const answer = await channelRequest(
      `${this.options.baseUrl}/pay/downloadbill`,
      {
        method: 'POST',
        body: this.sealed({ bill_date: billDate.replace(/-/g, ''), bill_type: 'ALL' }),
        contentType: 'text/xml; charset=utf-8',
      },
      this.options.timeoutMs,
    );
    if (answer === undefined || answer.status !== 200) throw new BillDownloadError('bill download failed');
    const text = answer.body.toString('utf8');
    // Errors come as XML; a bill never starts with '<'.
    if (text.startsWith('<xml>')) return undefined;
    const parsed = parseWechatBill(text);
    return { format: 'WECHAT_TRADE_ALL', content: answer.body, lineCount: parsed.rows.length };
  }
}
