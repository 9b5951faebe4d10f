/**
 * gRPC handlers of paycore.cashier.v1.CashierService: decode, call one use
 * case, encode. Authentication, scopes, deadlines, context-code propagation
 * and error mapping are the platform kit's; validation is the application's.
 */
import { trace } from '@opentelemetry/api';
import { setSpanBizCode } from '@paycore/context';
import type { Handlers, Specs } from '@paycore/platform';
import { CashierServiceService } from '@paycore/proto/paycore/cashier/v1/cashier_service';
import type { Cashier } from '../../application/cashier';
import { invalidField } from '../../domain/errors';
import { NO_RISK_LIMITS, type RequestedPart } from '../../domain/model';
import {
  bizModeName,
  partKindName,
  resolutionName,
  toCoupon,
  toException,
  toMerchant,
  toOrder,
  toPayment,
  toRefund,
  toWithdrawal,
  topUpTargetName,
} from './mapping';

type Definition = typeof CashierServiceService;

/** Tags the server span with the flow's code once the cashier knows it (callers often send none). */
function tagSpan(code: string): void {
  const span = trace.getActiveSpan();
  if (span !== undefined && /^[0-9]{20}$/.test(code)) setSpanBizCode(span, code);
}

// eslint-disable-next-line max-lines-per-function -- a table of thin RPC handlers, one entry each
export function cashierHandlers(cashier: Cashier): Handlers<Definition> {
  return {
    registerMerchant: async (req) => {
      const limits = req.riskLimits;
      const merchant = await cashier.registerMerchant({
        requestId: req.requestId,
        merchantId: req.merchantId,
        name: req.name,
        notifyKey: req.notifyKey,
        limits:
          limits === undefined
            ? NO_RISK_LIMITS
            : {
                perTransactionMaxMinor: limits.perTransactionMaxMinor,
                merchantDailyMaxMinor: limits.merchantDailyMaxMinor,
                payerDailyMaxMinor: limits.payerDailyMaxMinor,
                payerPaymentsPerMinuteMax: limits.payerPaymentsPerMinuteMax,
              },
      });
      return { merchant: toMerchant(merchant) };
    },
    getMerchant: async (req) => {
      const { merchant, settlementMinor, escrowMinor } = await cashier.merchant(req.merchantId);
      return {
        merchant: toMerchant(merchant),
        settlementBalance: { amountMinor: settlementMinor, currency: 'CNY' },
        escrowBalance: { amountMinor: escrowMinor, currency: 'CNY' },
      };
    },
    createPaymentOrder: async (req) => {
      const order = await cashier.createOrder({
        requestId: req.requestId,
        merchantId: req.merchantId,
        merchantOrderNo: req.merchantOrderNo,
        amountMinor: req.amount?.amountMinor,
        currency: req.amount?.currency,
        product: req.product,
        bizMode: bizModeName(req.bizMode),
        subject: req.subject,
        expireAt: req.expireTime,
        notifyUrl: req.notifyUrl,
      });
      tagSpan(order.bizCode);
      return { order: toOrder(order) };
    },
    getPaymentOrder: async (req) => {
      const view =
        req.orderId !== ''
          ? await cashier.orderView(req.orderId)
          : await cashier.orderViewByMerchantNo(req.merchantId, req.merchantOrderNo);
      return {
        order: toOrder(view.order),
        payments: view.payments.map((p) => toPayment(p, view.order.currency)),
        refunds: view.refunds.map(toRefund),
      };
    },
    listPayMethods: async (req) => {
      const methods = await cashier.payMethods(req.orderId, req.payerId);
      return {
        balance:
          methods.balanceMinor === undefined
            ? undefined
            : { amountMinor: methods.balanceMinor, currency: 'CNY' },
        storedValue:
          methods.storedValueMinor === undefined
            ? undefined
            : { amountMinor: methods.storedValueMinor, currency: 'CNY' },
        coupons: methods.coupons.map(toCoupon),
        payChannels: methods.payChannels,
      };
    },
    pay: async (req) => {
      const parts: RequestedPart[] = req.parts.map((part, index) => {
        const kind = partKindName(part.kind);
        if (kind === undefined) throw invalidField(`parts[${index}].kind`, 'is required');
        if (part.amount !== undefined && part.amount.currency !== 'CNY') {
          throw invalidField(`parts[${index}].amount.currency`, 'must be CNY');
        }
        return {
          kind,
          amountMinor: part.amount?.amountMinor ?? 0n,
          ...(part.payChannel !== '' ? { payChannel: part.payChannel } : {}),
          ...(part.couponId !== '' ? { couponId: part.couponId } : {}),
          ...(part.asset !== '' || part.quantity !== 0n || part.consumptionType !== ''
            ? {
                storedValue: {
                  asset: part.asset,
                  quantity: part.quantity,
                  consumptionType: part.consumptionType,
                },
              }
            : {}),
        };
      });
      const { order, payment } = await cashier.pay({
        requestId: req.requestId,
        orderId: req.orderId,
        payerId: req.payerId,
        parts,
      });
      tagSpan(order.bizCode);
      return { order: toOrder(order), payment: toPayment(payment, order.currency) };
    },
    confirmReceipt: async (req) => ({
      order: toOrder(await cashier.confirmReceipt({ requestId: req.requestId, orderId: req.orderId })),
    }),
    closePaymentOrder: async (req) => ({
      order: toOrder(
        await cashier.closeOrder({
          requestId: req.requestId,
          orderId: req.orderId,
          cause: 'CLOSED_BY_MERCHANT',
        }),
      ),
    }),
    refund: async (req) => {
      const refund = await cashier.refunds.refund({
        requestId: req.requestId,
        orderId: req.orderId,
        merchantRefundNo: req.merchantRefundNo,
        amountMinor: req.amount?.amountMinor,
        currency: req.amount?.currency,
        reason: req.reason,
      });
      tagSpan(refund.bizCode);
      return { refund: toRefund(refund) };
    },
    getRefund: async (req) => ({
      refund: toRefund(
        req.refundId !== ''
          ? await cashier.refunds.refundById(req.refundId)
          : await cashier.refunds.refundByMerchantNo(req.merchantId, req.merchantRefundNo),
      ),
    }),
    topUp: async (req) => {
      const { order, payment } = await cashier.topUp({
        requestId: req.requestId,
        payerId: req.payerId,
        amountMinor: req.amount?.amountMinor,
        currency: req.amount?.currency,
        payChannel: req.payChannel,
        target: topUpTargetName(req.target),
      });
      return { order: toOrder(order), payment: toPayment(payment, order.currency) };
    },
    withdraw: async (req) => {
      const withdrawal = await cashier.withdraw({
        requestId: req.requestId,
        payerId: req.payerId,
        amountMinor: req.amount?.amountMinor,
        currency: req.amount?.currency,
        accountNo: req.accountNo,
        accountName: req.accountName,
        bankCode: req.bankCode,
      });
      tagSpan(withdrawal.bizCode);
      return { withdrawal: toWithdrawal(withdrawal) };
    },
    getWithdrawal: async (req) => ({
      withdrawal: toWithdrawal(await cashier.withdrawalById(req.withdrawalId)),
    }),
    issueCoupon: async (req) => ({
      coupon: toCoupon(
        await cashier.issueCoupon({
          requestId: req.requestId,
          payerId: req.payerId,
          amountMinor: req.amount?.amountMinor,
          currency: req.amount?.currency,
          expireAt: req.expireTime,
        }),
      ),
    }),
    listExceptions: async (req) => ({
      exceptions: (await cashier.listExceptions(req.includeResolved, req.pageSize)).map(toException),
    }),
    resolveException: async (req, ctx) => ({
      exception: toException(
        await cashier.exceptionDesk.resolve({
          requestId: req.requestId,
          exceptionId: req.exceptionId,
          resolution: resolutionName(req.resolution),
          reason: req.reason,
          operator: ctx.caller?.subject ?? 'anonymous',
        }),
      ),
    }),
  };
}

export const cashierScopes: Specs<Definition> = {
  registerMerchant: { scope: 'cashier:write' },
  getMerchant: { scope: 'cashier:read' },
  createPaymentOrder: { scope: 'cashier:write' },
  getPaymentOrder: { scope: 'cashier:read' },
  listPayMethods: { scope: 'cashier:read' },
  pay: { scope: 'cashier:write' },
  confirmReceipt: { scope: 'cashier:write' },
  closePaymentOrder: { scope: 'cashier:write' },
  refund: { scope: 'cashier:write' },
  getRefund: { scope: 'cashier:read' },
  topUp: { scope: 'cashier:write' },
  withdraw: { scope: 'cashier:write' },
  getWithdrawal: { scope: 'cashier:read' },
  issueCoupon: { scope: 'cashier:ops' },
  listExceptions: { scope: 'cashier:ops' },
  resolveException: { scope: 'cashier:ops' },
};
