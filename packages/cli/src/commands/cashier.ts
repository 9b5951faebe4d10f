/**
 * Cashier commands: merchants, orders, pay, refund, exceptions. Each action
 * names the RPCs it calls, so its token carries only their scopes.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { proto } from '@paycore/client';
import type { Row } from '../output';
import { enumName } from '../output';
import type { Runtime } from '../runtime';
import { amountText, iso, newRequestId, parseAmount, parseCount } from './common';
import { orderRow, partText, paymentRow, refundRow } from './cashier-views';

const { BizMode, PartKind, Resolution, ExceptionState } = proto.cashier;
const CASHIER = 'paycore.cashier.v1.CashierService';
const EXCEPTIONS_PAGE_MAX = 500;

type Runtimes = () => Runtime;

export function register(program: Command, runtime: Runtimes): void {
  merchants(program, runtime);
  orders(program, runtime);
  pay(program, runtime);
  refund(program, runtime);
  exceptions(program, runtime);
}

function merchants(program: Command, runtime: Runtimes): void {
  const merchant = program.command('merchants').description('merchants of the cashier');
  merchant
    .command('register')
    .description('register a merchant (opens its settlement and escrow accounts)')
    .requiredOption('--id <merchantId>', 'merchant id')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--notify-key <key>', 'HMAC key for notification signatures (16+ characters)')
    .option('--request-id <id>', 'idempotency key (default: generated)')
    .action(async (o: { id: string; name: string; notifyKey: string; requestId?: string }) => {
      const rt = runtime();
      const res = await rt.client([`${CASHIER}/RegisterMerchant`]).cashier.registerMerchant({
        requestId: o.requestId ?? newRequestId('reg'),
        merchantId: o.id,
        name: o.name,
        notifyKey: o.notifyKey,
        riskLimits: {
          perTransactionMaxMinor: 0n,
          merchantDailyMaxMinor: 0n,
          payerDailyMaxMinor: 0n,
          payerPaymentsPerMinuteMax: 0,
        },
      });
      rt.print({ kind: 'record', record: merchantRow(res.merchant) });
    });
  merchant
    .command('get <merchantId>')
    .description('a merchant and its balances')
    .action(async (merchantId: string) => {
      const rt = runtime();
      const res = await rt.client([`${CASHIER}/GetMerchant`]).cashier.getMerchant({ merchantId });
      rt.print({
        kind: 'record',
        record: {
          ...merchantRow(res.merchant),
          settlement_balance: amountText(res.settlementBalance),
          escrow_balance: amountText(res.escrowBalance),
        },
      });
    });
}

function merchantRow(m: proto.cashier.Merchant | undefined): Row {
  return {
    merchant_id: m?.merchantId,
    name: m?.name,
    settlement_account_id: m?.settlementAccountId,
    escrow_account_id: m?.escrowAccountId,
    created_at: iso(m?.createdAt),
  };
}

// eslint-disable-next-line max-lines-per-function -- a commander table of subcommands, one short entry each
function orders(program: Command, runtime: Runtimes): void {
  const order = program.command('orders').description('payment orders');
  order
    .command('create')
    .description('create a payment order (state WAIT_PAY)')
    .requiredOption('--merchant <merchantId>', 'merchant id')
    .requiredOption('--no <merchantOrderNo>', "the merchant's order number (idempotent with --merchant)")
    .requiredOption('--amount <yuan>', 'amount in major units, e.g. 12.34', (v) => parseAmount(v))
    .option('--product <code>', '6-digit product code', '100101')
    .addOption(new Option('--mode <mode>', 'biz mode').choices(['instant', 'escrow']).default('instant'))
    .option('--subject <text>', 'what is sold', 'paycore cli order')
    .option('--notify-url <url>', 'where paycore POSTs the signed payment notification', '')
    .option('--request-id <id>', 'idempotency key (default: generated)')
    .action(
      async (o: {
        merchant: string;
        no: string;
        amount: proto.common.Money;
        product: string;
        mode: string;
        subject: string;
        notifyUrl: string;
        requestId?: string;
      }) => {
        const rt = runtime();
        const res = await rt.client([`${CASHIER}/CreatePaymentOrder`]).cashier.createPaymentOrder({
          requestId: o.requestId ?? newRequestId('ord'),
          merchantId: o.merchant,
          merchantOrderNo: o.no,
          amount: o.amount,
          product: o.product,
          bizMode: o.mode === 'escrow' ? BizMode.BIZ_MODE_ESCROW : BizMode.BIZ_MODE_INSTANT,
          subject: o.subject,
          notifyUrl: o.notifyUrl,
        });
        if (res.order) rt.print({ kind: 'record', record: orderRow(res.order) });
      },
    );
  order
    .command('get <orderId>')
    .description('an order with its payments and refunds')
    .action(async (orderId: string) => {
      const rt = runtime();
      const res = await rt.client([`${CASHIER}/GetPaymentOrder`]).cashier.getPaymentOrder({ orderId });
      if (rt.settings.output === 'text') {
        rt.print({ kind: 'record', record: res.order ? orderRow(res.order) : {} });
        process.stdout.write('\npayments:\n');
        rt.print({ kind: 'rows', rows: res.payments.map(paymentRow) });
        process.stdout.write('\nrefunds:\n');
        rt.print({ kind: 'rows', rows: res.refunds.map(refundRow) });
        return;
      }
      rt.print({
        kind: 'rows',
        rows: [
          ...(res.order ? [{ type: 'order', ...orderRow(res.order) }] : []),
          ...res.payments.map((p) => ({ type: 'payment', ...paymentRow(p) })),
          ...res.refunds.map((r) => ({ type: 'refund', ...refundRow(r) })),
        ],
      });
    });
  order
    .command('close <orderId>')
    .description('close an unpaid order')
    .action(async (orderId: string) => {
      const rt = runtime();
      const res = await rt
        .client([`${CASHIER}/ClosePaymentOrder`])
        .cashier.closePaymentOrder({ requestId: newRequestId('close'), orderId });
      if (res.order) rt.print({ kind: 'record', record: orderRow(res.order) });
    });
  order
    .command('methods <orderId>')
    .description('what a payer can pay this order with now')
    .requiredOption('--payer <payerId>', 'payer id')
    .action(async (orderId: string, o: { payer: string }) => {
      const rt = runtime();
      const res = await rt
        .client([`${CASHIER}/ListPayMethods`])
        .cashier.listPayMethods({ orderId, payerId: o.payer });
      const rows: Row[] = [
        ...(res.balance ? [{ method: 'balance', detail: '', available: amountText(res.balance) }] : []),
        ...(res.storedValue
          ? [{ method: 'stored_value', detail: '', available: amountText(res.storedValue) }]
          : []),
        ...res.coupons.map((c) => ({
          method: 'coupon',
          detail: c.couponId,
          available: amountText(c.amount),
        })),
        ...res.payChannels.map((c) => ({
          method: `channel:${c.payChannel}`,
          detail: c.label,
          available: '',
        })),
      ];
      rt.print({ kind: 'rows', rows, columns: ['method', 'detail', 'available'] });
    });
}

/** `--part balance:1.00`, `--part channel:1001:5.00`, `--part coupon:<id>:2.00`, `--part stored_value:1.00`. */
export function parsePart(
  text: string,
  previous: proto.cashier.PaymentPart[] = [],
): proto.cashier.PaymentPart[] {
  const fields = text.split(':');
  const kindName = fields[0] ?? '';
  const amount = fields[fields.length - 1] ?? '';
  const middle = fields.slice(1, -1).join(':');
  const kinds: Record<string, proto.cashier.PartKind> = {
    balance: PartKind.PART_KIND_BALANCE,
    coupon: PartKind.PART_KIND_COUPON,
    stored_value: PartKind.PART_KIND_STORED_VALUE,
    channel: PartKind.PART_KIND_CHANNEL,
  };
  const kind = kinds[kindName];
  if (kind === undefined || fields.length < 2) {
    throw new InvalidArgumentError(
      `"${text}": expected balance:<yuan>, stored_value:<yuan>, coupon:<id>:<yuan> or channel:<code>:<yuan>`,
    );
  }
  const needsMiddle = kind === PartKind.PART_KIND_CHANNEL || kind === PartKind.PART_KIND_COUPON;
  if (needsMiddle !== (middle !== '')) throw new InvalidArgumentError(`"${text}": malformed part`);
  return [
    ...previous,
    {
      kind,
      amount: parseAmount(amount),
      payChannel: kind === PartKind.PART_KIND_CHANNEL ? middle : '',
      couponId: kind === PartKind.PART_KIND_COUPON ? middle : '',
      bizCode: '',
      refunded: undefined,
      channelTxnId: '',
      channelNo: '',
      asset: '',
      quantity: 0n,
      consumptionType: '',
    },
  ];
}

function pay(program: Command, runtime: Runtimes): void {
  program
    .command('pay <orderId>')
    .description('pay an order: --channel <code> or --balance pays the whole amount; --part combines parts')
    .requiredOption('--payer <payerId>', 'payer id')
    .option('--channel <payChannel>', 'pay the whole order through this pay channel (e.g. 1001 Alipay QR)')
    .option('--balance', "pay the whole order from the payer's balance")
    .option(
      '--part <part>',
      'a part (repeatable): balance:<yuan>, coupon:<id>:<yuan>, channel:<code>:<yuan>',
      parsePart,
      [],
    )
    .option('--request-id <id>', 'idempotency key (default: generated)')
    .action(
      async (
        orderId: string,
        o: {
          payer: string;
          channel?: string;
          balance?: boolean;
          part: proto.cashier.PaymentPart[];
          requestId?: string;
        },
      ) => {
        const rt = runtime();
        const client = rt.client([`${CASHIER}/GetPaymentOrder`, `${CASHIER}/Pay`]);
        let parts = o.part;
        if (o.channel !== undefined || o.balance === true) {
          if (parts.length > 0 || (o.channel !== undefined && o.balance === true)) {
            throw new InvalidArgumentError('use one of --channel, --balance or --part');
          }
          const view = await client.cashier.getPaymentOrder({ orderId });
          const amount = view.order?.amount;
          if (!amount) throw new Error(`order ${orderId} has no amount`);
          const whole = `${o.balance === true ? 'balance' : `channel:${o.channel ?? ''}`}:${amountText(amount).split(' ')[0] ?? ''}`;
          parts = parsePart(whole);
        }
        if (parts.length === 0)
          throw new InvalidArgumentError('say how to pay: --channel, --balance or --part');
        let traceparent = '';
        const res = await client.cashier.pay(
          { requestId: o.requestId ?? newRequestId('pay'), orderId, payerId: o.payer, parts },
          { onTraceparent: (t) => (traceparent = t) },
        );
        rt.print({
          kind: 'record',
          record: {
            ...(res.payment ? paymentRow(res.payment) : {}),
            order_state: res.order ? orderRow(res.order)['state'] : '',
            trace_id: traceparent.split('-')[1] ?? '',
          },
        });
      },
    );
}

function refund(program: Command, runtime: Runtimes): void {
  const command = program
    .command('refund')
    .description('refund part or all of a paid order along the original path; `refund get` reads one');
  command
    .command('create <orderId>', { isDefault: true })
    .description('refund an order (idempotent by --no)')
    .requiredOption('--amount <yuan>', 'amount to refund, major units', (v) => parseAmount(v))
    .requiredOption('--no <merchantRefundNo>', "the merchant's refund number")
    .option('--reason <text>', 'why', 'refund from the paycore cli')
    .action(async (orderId: string, o: { amount: proto.common.Money; no: string; reason: string }) => {
      const rt = runtime();
      let traceparent = '';
      const res = await rt.client([`${CASHIER}/Refund`]).cashier.refund(
        {
          requestId: newRequestId('ref'),
          orderId,
          merchantRefundNo: o.no,
          amount: o.amount,
          reason: o.reason,
        },
        { onTraceparent: (t) => (traceparent = t) },
      );
      if (res.refund)
        rt.print({
          kind: 'record',
          record: { ...refundRow(res.refund), trace_id: traceparent.split('-')[1] },
        });
    });
  command
    .command('get <refundId>')
    .description('a refund by id')
    .action(async (refundId: string) => {
      const rt = runtime();
      const res = await rt.client([`${CASHIER}/GetRefund`]).cashier.getRefund({ refundId });
      if (res.refund) rt.print({ kind: 'record', record: refundRow(res.refund) });
    });
}

function exceptions(program: Command, runtime: Runtimes): void {
  const command = program
    .command('exceptions')
    .description("the cashier's exception queue (outcomes unknown past their window)");
  command
    .command('list')
    .description('open exceptions (with --all, resolved ones too)')
    .option('--all', 'include resolved exceptions')
    .option('--limit <n>', `at most n (1..${EXCEPTIONS_PAGE_MAX})`, parseCount(EXCEPTIONS_PAGE_MAX), 100)
    .action(async (o: { all?: boolean; limit: number }) => {
      const rt = runtime();
      const res = await rt
        .client([`${CASHIER}/ListExceptions`])
        .cashier.listExceptions({ includeResolved: o.all === true, pageSize: o.limit });
      rt.print({ kind: 'rows', rows: res.exceptions.map(exceptionRow) });
    });
  command
    .command('resolve <exceptionId>')
    .description(
      'resolve an exception after checking with the channel (audited: your token subject is recorded)',
    )
    .addOption(
      new Option('--resolution <r>', 'what happened to the money')
        .choices(['succeeded', 'failed'])
        .makeOptionMandatory(),
    )
    .requiredOption('--reason <text>', 'the evidence, for the audit trail')
    .action(async (exceptionId: string, o: { resolution: string; reason: string }) => {
      const rt = runtime();
      const res = await rt.client([`${CASHIER}/ResolveException`]).cashier.resolveException({
        requestId: newRequestId('resolve'),
        exceptionId,
        resolution:
          o.resolution === 'succeeded' ? Resolution.RESOLUTION_SUCCEEDED : Resolution.RESOLUTION_FAILED,
        reason: o.reason,
      });
      if (res.exception) rt.print({ kind: 'record', record: exceptionRow(res.exception) });
    });
}

function exceptionRow(e: proto.cashier.CashierException): Row {
  return {
    exception_id: e.exceptionId,
    flow: `${e.flowKind} ${e.flowId}`,
    state: enumName(ExceptionState, e.state, 'EXCEPTION_STATE_'),
    resolution:
      e.resolution === Resolution.RESOLUTION_UNSPECIFIED
        ? ''
        : enumName(Resolution, e.resolution, 'RESOLUTION_'),
    biz_code: e.bizCode,
    detail: e.detail,
    operator: e.operator,
    created_at: iso(e.createdAt),
  };
}

export { partText };
