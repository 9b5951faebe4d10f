/**
 * Bills for a date, built from the sandbox's own records with the protocol
 * package's builders, so a download is byte-identical to what the builder
 * makes of the same records (`billRecords` exposes those records). Trades
 * count on the day they were paid, refunds on the day they succeeded (China
 * time). The service fee is 0.6 % rounded half up per line, given back
 * proportionally on refunds. Bill faults are applied to the records before
 * building.
 */
import {
  alipayBillFileNames,
  alipayBillLine,
  buildAlipayBill,
  buildWechatBill,
  nextDate,
  wechatBillRow,
  type AlipayBill,
  type AlipayBillLine,
  type WechatBill,
  type WechatBillRow,
  type WechatBillType,
} from '@paycore/channel-protocols';
import type { SandboxContext } from './context';
import type { Fault } from './faults';
import { MERCHANT } from './keys';
import type { Order } from './store';
import { chinaDate, chinaDateTime } from './timers';

/** 0.6 %, half up: the standard rate of both wallets for most merchants. */
export function serviceFeeFen(amountFen: bigint): bigint {
  return (amountFen * 6n + 500n) / 1000n;
}

function applies(fault: Fault, outTradeNo: string): boolean {
  return fault.outTradeNo === undefined || fault.outTradeNo === outTradeNo;
}

function billOrders(ctx: SandboxContext, channel: 'alipay' | 'wechat'): Order[] {
  return ctx.store.allOrders(channel).filter((order) => order.paidAtMs !== undefined);
}

export const ALIPAY_BILL_ACCOUNT = `${MERCHANT.alipayPid}0156`;

export function alipayBillRecords(ctx: SandboxContext, billDate: string): AlipayBill {
  const lines: AlipayBillLine[] = [];
  for (const order of billOrders(ctx, 'alipay')) {
    const paidAtMs = order.paidAtMs ?? 0;
    const common = {
      tradeNo: order.tradeNo,
      outTradeNo: order.outTradeNo,
      subject: order.subject,
      createdAt: chinaDateTime(order.createdAtMs),
      counterparty: `${order.buyerId.slice(-4)}***@sandbox.example`,
    };
    if (chinaDate(paidAtMs) === billDate) {
      lines.push(
        alipayBillLine({
          ...common,
          businessType: '交易',
          finishedAt: chinaDateTime(paidAtMs),
          orderAmountFen: order.amountFen,
          serviceFeeFen: -serviceFeeFen(order.amountFen),
        }),
      );
    }
    for (const refund of order.refunds) {
      if (chinaDate(refund.succeededAtMs) !== billDate) continue;
      lines.push(
        alipayBillLine({
          ...common,
          businessType: '退款',
          finishedAt: chinaDateTime(refund.succeededAtMs),
          orderAmountFen: -refund.amountFen,
          refundRequestNo: refund.outRefundNo,
          serviceFeeFen: serviceFeeFen(refund.amountFen),
          remark: refund.reason,
        }),
      );
    }
  }
  lines.sort((a, b) =>
    a.finishedAt === b.finishedAt ? (a.tradeNo < b.tradeNo ? -1 : 1) : a.finishedAt < b.finishedAt ? -1 : 1,
  );
  return {
    account: ALIPAY_BILL_ACCOUNT,
    billDate,
    // Alipay produces the previous day's bill the next morning; a fixed time keeps the file reproducible.
    exportedAt: `${nextDate(billDate)} 09:00:00`,
    lines: applyAlipayBillFaults(ctx, billDate, lines),
  };
}

function applyAlipayBillFaults(
  ctx: SandboxContext,
  billDate: string,
  input: AlipayBillLine[],
): AlipayBillLine[] {
  let lines = input;
  for (const fault of ctx.faults.all('bill_missing', 'alipay')) {
    lines = lines.filter((line) => !applies(fault, line.outTradeNo));
  }
  for (const fault of ctx.faults.all('bill_wrong_amount', 'alipay')) {
    const delta = fault.deltaFen ?? 1n;
    lines = lines.map((line) =>
      applies(fault, line.outTradeNo)
        ? {
            ...line,
            orderAmountFen: line.orderAmountFen + delta,
            merchantReceivedFen: line.merchantReceivedFen + delta,
          }
        : line,
    );
  }
  for (const fault of ctx.faults.all('bill_wrong_status', 'alipay')) {
    lines = lines.map((line) =>
      applies(fault, line.outTradeNo) && line.businessType === '交易'
        ? {
            ...line,
            businessType: '退款',
            orderAmountFen: -line.orderAmountFen,
            merchantReceivedFen: -line.merchantReceivedFen,
          }
        : line,
    );
  }
  for (const fault of ctx.faults.all('bill_extra', 'alipay')) {
    lines = [
      ...lines,
      alipayBillLine({
        tradeNo: `${billDate.replace(/-/g, '')}22009${String(fault.id).padStart(15, '0')}`,
        outTradeNo: fault.outTradeNo ?? `EXTRA-${fault.id}`,
        businessType: '交易',
        subject: 'sandbox extra line',
        createdAt: `${billDate} 12:00:00`,
        finishedAt: `${billDate} 12:00:00`,
        orderAmountFen: 100n,
        serviceFeeFen: -1n,
      }),
    ];
  }
  return lines;
}

export function buildAlipayBillFile(
  ctx: SandboxContext,
  billDate: string,
): { fileName: string; zip: Buffer } {
  return {
    fileName: alipayBillFileNames(ALIPAY_BILL_ACCOUNT, billDate).zip,
    zip: buildAlipayBill(alipayBillRecords(ctx, billDate)),
  };
}

export function wechatBillRecords(
  ctx: SandboxContext,
  billDate: string,
  billType: WechatBillType,
): WechatBill {
  const rows: WechatBillRow[] = [];
  for (const order of billOrders(ctx, 'wechat')) {
    const paidAtMs = order.paidAtMs ?? 0;
    const common = {
      appId: MERCHANT.wechatAppId,
      mchId: MERCHANT.wechatMchId,
      transactionId: order.tradeNo,
      outTradeNo: order.outTradeNo,
      openId: order.buyerId,
      tradeType: order.tradeType,
      body: order.subject,
      attach: order.attach,
    };
    if (billType !== 'REFUND' && chinaDate(paidAtMs) === billDate) {
      rows.push(
        wechatBillRow({
          ...common,
          tradeTime: chinaDateTime(paidAtMs),
          tradeState: 'SUCCESS',
          totalFen: order.amountFen,
          feeFen: serviceFeeFen(order.amountFen),
        }),
      );
    }
    if (billType === 'SUCCESS') continue;
    for (const refund of order.refunds) {
      if (chinaDate(refund.succeededAtMs) !== billDate) continue;
      const succeededAt = chinaDateTime(refund.succeededAtMs);
      rows.push(
        wechatBillRow({
          ...common,
          tradeTime: succeededAt,
          tradeState: 'REFUND',
          totalFen: 0n,
          refundId: refund.refundId,
          outRefundNo: refund.outRefundNo,
          refundFen: refund.amountFen,
          requestedRefundFen: refund.amountFen,
          refundType: 'ORIGINAL',
          refundStatus: 'SUCCESS',
          feeFen: -serviceFeeFen(refund.amountFen),
          ...(billType === 'REFUND'
            ? { refundRequestedAt: chinaDateTime(refund.createdAtMs), refundSucceededAt: succeededAt }
            : {}),
        }),
      );
    }
  }
  rows.sort((a, b) =>
    a.tradeTime === b.tradeTime
      ? a.transactionId < b.transactionId
        ? -1
        : 1
      : a.tradeTime < b.tradeTime
        ? -1
        : 1,
  );
  return { billType, rows: applyWechatBillFaults(ctx, billDate, rows) };
}

function applyWechatBillFaults(
  ctx: SandboxContext,
  billDate: string,
  input: WechatBillRow[],
): WechatBillRow[] {
  let rows = input;
  for (const fault of ctx.faults.all('bill_missing', 'wechat'))
    rows = rows.filter((row) => !applies(fault, row.outTradeNo));
  for (const fault of ctx.faults.all('bill_wrong_amount', 'wechat')) {
    const delta = fault.deltaFen ?? 1n;
    rows = rows.map((row) =>
      applies(fault, row.outTradeNo) && row.tradeState === 'SUCCESS'
        ? { ...row, totalFen: row.totalFen + delta, settlementTotalFen: row.settlementTotalFen + delta }
        : row,
    );
  }
  for (const fault of ctx.faults.all('bill_wrong_status', 'wechat')) {
    rows = rows.map((row) =>
      applies(fault, row.outTradeNo) && row.tradeState === 'SUCCESS'
        ? { ...row, tradeState: 'REVOKED' }
        : row,
    );
  }
  for (const fault of ctx.faults.all('bill_extra', 'wechat')) {
    rows = [
      ...rows,
      wechatBillRow({
        tradeTime: `${billDate} 12:00:00`,
        appId: MERCHANT.wechatAppId,
        mchId: MERCHANT.wechatMchId,
        transactionId: `4200${billDate.replace(/-/g, '')}9${String(fault.id).padStart(15, '0')}`,
        outTradeNo: fault.outTradeNo ?? `EXTRA-${fault.id}`,
        tradeState: 'SUCCESS',
        totalFen: 100n,
        feeFen: 1n,
        body: 'sandbox extra row',
      }),
    ];
  }
  return rows;
}

export function buildWechatBillFile(
  ctx: SandboxContext,
  billDate: string,
  billType: WechatBillType,
): string | undefined {
  const bill = wechatBillRecords(ctx, billDate, billType);
  return bill.rows.length === 0 ? undefined : buildWechatBill(bill);
}
