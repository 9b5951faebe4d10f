/**
 * Channel callbacks (异步通知) on the service's HTTP server:
 * `POST /callbacks/alipay/<channelNo>` (form, RSA2, answered exactly
 * `success`) and `POST /callbacks/wechat/<channelNo>` (XML, MD5 / HMAC-SHA256,
 * answered with XML return_code SUCCESS).
 *
 * Order of checks: the channel number exists and speaks this protocol; the
 * signature verifies with that channel's key and names our merchant ids (a
 * forgery gets 400, changes nothing and is counted); the order is one of our
 * payments on this channel number and the amount is its amount (a mismatch
 * gets 400 and is counted: retrying will not fix it, an operator must look).
 * Only then is the state applied — through the same state machine as every
 * other path, so duplicated and reordered notifications are harmless. Every
 * verified callback is recorded; unverified ones (unknown channel, malformed,
 * bad signature) are all counted in channel_callback_unverified_total and
 * only a bounded sample of them is stored (ChannelRouter.recordCallback).
 */
import {
  alipayVerify,
  fromXml,
  parseFen,
  parseForm,
  toXml,
  wechatVerify,
  yuanToFen,
} from '@paycore/channel-protocols';
import { continueStoredTrace, type HttpRequest, type HttpResponse } from '@paycore/platform';
import { SpanKind } from '@opentelemetry/api';
import { Counter, type Registry } from 'prom-client';
import type { RouterMetrics } from '../metrics';
import type { Logger } from 'pino';
import type { ChannelRouter } from '../../application/channel-router';
import type { ChannelCredentials } from '../../domain/credentials';
import type { TxnState } from '../../domain/txn';
import { alipayTradeState } from '../channels/alipay';
import { wechatTradeState } from '../channels/wechat';

export type CallbackProtocol = 'alipay' | 'wechat';

const ALIPAY_ACK: HttpResponse = {
  status: 200,
  headers: { 'content-type': 'text/plain; charset=utf-8' },
  body: 'success',
};
const WECHAT_ACK: HttpResponse = {
  status: 200,
  headers: { 'content-type': 'text/xml; charset=utf-8' },
  body: toXml({ return_code: 'SUCCESS', return_msg: 'OK' }),
};

function refusal(protocol: CallbackProtocol, status: number, message: string): HttpResponse {
  if (protocol === 'alipay')
    return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'fail' };
  return {
    status,
    headers: { 'content-type': 'text/xml; charset=utf-8' },
    body: toXml({ return_code: 'FAIL', return_msg: message }),
  };
}

interface Parsed {
  readonly fields: Record<string, string>;
  readonly verified: boolean;
  readonly outTradeNo: string;
  readonly amountFen: bigint | undefined;
  readonly state: TxnState | undefined;
  readonly channelTxnNo: string;
}

export class CallbackHandler {
  private readonly rejected: Counter<'channel_no' | 'reason'>;
  private readonly accepted: Counter<'channel_no' | 'protocol'>;

  constructor(
    private readonly router: ChannelRouter,
    private readonly logger: Logger,
    registry: Registry,
    private readonly metrics: RouterMetrics,
  ) {
    this.rejected = new Counter({
      name: 'channel_callback_rejected_total',
      help: 'Channel callbacks refused: bad signature (forged or tampered), unknown order, amount mismatch, malformed.',
      labelNames: ['channel_no', 'reason'],
      registers: [registry],
    });
    this.accepted = new Counter({
      name: 'channel_callback_accepted_total',
      help: 'Channel callbacks verified and applied (duplicates included).',
      labelNames: ['channel_no', 'protocol'],
      registers: [registry],
    });
  }

  async handle(protocol: CallbackProtocol, channelNo: string, req: HttpRequest): Promise<HttpResponse> {
    const body = req.body.toString('utf8');
    const reject = async (
      status: number,
      reason: string,
      verified: boolean,
      txnId?: string,
    ): Promise<HttpResponse> => {
      this.rejected.inc({ channel_no: channelNo, reason });
      if (!verified) this.metrics.unverifiedCallbacks.inc({ channel_no: channelNo, reason });
      const stored = await this.router.recordCallback({
        channelNo,
        txnId,
        verified,
        outcome: `REJECTED_${reason}`,
        body,
      });
      this.logger.warn({ channel_no: channelNo, reason, txn_id: txnId, stored }, 'channel callback rejected');
      return refusal(protocol, status, reason);
    };
    const found = await this.router.callbackCredentials(channelNo);
    if (found === undefined || found.channel.protocol.toLowerCase() !== protocol)
      return reject(404, 'UNKNOWN_CHANNEL', false);
    let parsed: Parsed;
    try {
      parsed =
        protocol === 'alipay'
          ? this.parseAlipay(body, found.credentials)
          : this.parseWechat(body, found.credentials);
    } catch {
      return reject(400, 'MALFORMED', false);
    }
    if (!parsed.verified) return reject(400, 'BAD_SIGNATURE', false);
    const txn = await this.router.txn(parsed.outTradeNo);
    if (txn === undefined || txn.kind !== 'PAYMENT' || txn.channelNo !== channelNo) {
      return reject(400, 'UNKNOWN_ORDER', true, parsed.outTradeNo);
    }
    if (parsed.amountFen !== txn.amount) return reject(400, 'AMOUNT_MISMATCH', true, txn.txnId);
    // Verified and ours: continue the payment's trace (stored at creation) for the change it causes.
    const stored = await this.router.traceHeaders(txn.txnId);
    return continueStoredTrace(
      stored,
      `POST /callbacks/${protocol}/${channelNo}`,
      SpanKind.SERVER,
      async () => {
        const result =
          parsed.state === undefined
            ? { changed: false }
            : await this.router.recordOutcome(
                txn.txnId,
                { state: parsed.state, healthy: true, channelTxnNo: parsed.channelTxnNo },
                'callback',
              );
        this.accepted.inc({ channel_no: channelNo, protocol });
        await this.router.recordCallback({
          channelNo,
          txnId: txn.txnId,
          verified: true,
          outcome: result.changed ? 'APPLIED' : 'NO_CHANGE',
          body,
        });
        return protocol === 'alipay' ? ALIPAY_ACK : WECHAT_ACK;
      },
    );
  }

  private parseAlipay(body: string, credentials: ChannelCredentials): Parsed {
    const fields = parseForm(body);
    if (credentials.protocol !== 'ALIPAY') throw new Error('not an Alipay channel');
    const verified =
      alipayVerify(fields, credentials.alipayPublicKey, { forNotify: true }) &&
      fields.app_id === credentials.appId;
    return {
      fields,
      verified,
      outTradeNo: fields.out_trade_no ?? '',
      amountFen: fields.total_amount === undefined ? undefined : yuanToFen(fields.total_amount),
      state: alipayTradeState(fields),
      channelTxnNo: fields.trade_no ?? '',
    };
  }

  private parseWechat(body: string, credentials: ChannelCredentials): Parsed {
    const fields = fromXml(body);
    if (credentials.protocol !== 'WECHAT') throw new Error('not a WeChat channel');
    const verified =
      wechatVerify(fields, credentials.apiKey, credentials.signType) &&
      fields.appid === credentials.appId &&
      fields.mch_id === credentials.mchId;
    const paid = fields.return_code === 'SUCCESS' && fields.result_code === 'SUCCESS';
    return {
      fields,
      verified,
      outTradeNo: fields.out_trade_no ?? '',
      amountFen: fields.total_fee === undefined ? undefined : parseFen(fields.total_fee),
      // A v2 payment notification is sent for a paid order; result_code FAIL says the payment failed.
      state: paid ? 'SUCCESS' : fields.return_code === 'SUCCESS' ? wechatTradeState('PAYERROR') : undefined,
      channelTxnNo: fields.transaction_id ?? '',
    };
  }
}
