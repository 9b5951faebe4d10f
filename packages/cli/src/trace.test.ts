/**
 * `paycore trace` over span files in the span-file contract's format and pino
 * log lines, written to a temporary run directory: an order id finds the
 * order's own trace and, through the payment and refund ids that trace
 * mentions, the payment's and the refund's traces; steps come out in time
 * order across services; a log line of a span's own handler fills in state
 * without adding a step; unrelated traces stay out.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { amountOf, findFlow, traceFiles } from './trace';

const T_ORDER = 'a'.repeat(32);
const T_PAY = 'b'.repeat(32);
const T_REFUND = 'c'.repeat(32);
const T_OTHER = 'd'.repeat(32);
const CODE = '10010101100110000100';

let spanCounter = 0;
function span(
  service: string,
  traceId: string,
  name: string,
  atMs: number,
  attributes: Record<string, string>,
): string {
  spanCounter += 1;
  const start = BigInt(atMs) * 1_000_000n;
  return JSON.stringify({
    service,
    traceId,
    spanId: spanCounter.toString(16).padStart(16, '0'),
    parentSpanId: null,
    name,
    kind: 'SERVER',
    startUnixNano: start.toString(),
    endUnixNano: (start + 2_000_000n).toString(),
    durationMs: 2,
    status: 'OK',
    attributes: { 'paycore.biz_code': CODE, ...attributes },
  });
}

describe('paycore trace over span files and log lines', () => {
  let runDir: string;
  before(() => {
    runDir = mkdtempSync(path.join(tmpdir(), 'paycore-trace-'));
    mkdirSync(path.join(runDir, 'spans'));
    mkdirSync(path.join(runDir, 'logs'));
    const base = Date.parse('2026-12-01T10:00:00Z');
    const files: Record<string, string[]> = {
      cashier: [
        span('cashier', T_ORDER, 'CashierService/CreatePaymentOrder', base, {
          'paycore.order_id': 'o-1',
          'paycore.state': 'WAIT_PAY',
        }),
        span('cashier', T_PAY, 'CashierService/Pay', base + 1000, {
          'paycore.order_id': 'o-1',
          'paycore.payment_id': 'p-1',
          'paycore.amount': '1999',
          'paycore.currency': 'CNY',
        }),
        span('cashier', T_REFUND, 'CashierService/Refund', base + 5000, {
          'paycore.order_id': 'o-1',
          'paycore.refund_id': 'r-1',
        }),
        span('cashier', T_OTHER, 'CashierService/Pay', base + 1500, {
          'paycore.order_id': 'o-9',
          'paycore.payment_id': 'p-9',
        }),
      ],
      'channel-router': [
        span('channel-router', T_PAY, 'ChannelService/CreateChannelPayment', base + 1100, {
          'paycore.channel_txn_id': 't-1',
          'paycore.state': 'PROCESSING',
        }),
        span('channel-router', T_PAY, 'POST /callbacks/alipay', base + 2000, {
          'paycore.channel_txn_id': 't-1',
          'paycore.state': 'SUCCEEDED',
        }),
      ],
      account: [
        span('account', T_PAY, 'AccountService/Transfer', base + 2100, { 'paycore.transfer_id': 'x-1' }),
      ],
      ledger: [
        span('ledger', T_PAY, 'paycore.account.transfer_posted.v1', base + 2200, {
          'paycore.voucher_id': 'v-1',
        }),
      ],
    };
    for (const [service, lines] of Object.entries(files)) {
      writeFileSync(path.join(runDir, 'spans', `${service}.jsonl`), `${lines.join('\n')}\n`);
    }
    const paySpanId = (JSON.parse(files['cashier']?.[1] ?? '{}') as { spanId: string }).spanId;
    writeFileSync(
      path.join(runDir, 'logs', 'cashier.log'),
      [
        JSON.stringify({
          level: 'info',
          time: new Date(base + 1001).toISOString(),
          service: 'cashier',
          trace_id: T_PAY,
          span_id: paySpanId,
          rpc: 'Pay',
          payment_state: 'PROCESSING',
          payment_id: 'p-1',
          msg: 'rpc',
        }),
        JSON.stringify({
          level: 'info',
          time: new Date(base + 2300).toISOString(),
          service: 'cashier',
          trace_id: T_PAY,
          span_id: '0'.repeat(15) + 'f',
          payment_id: 'p-1',
          order_id: 'o-1',
          payment_state: 'SUCCEEDED',
          msg: 'payment step',
        }),
        'not json at all',
        JSON.stringify({
          level: 'info',
          time: new Date(base).toISOString(),
          service: 'cashier',
          msg: 'started',
        }),
      ].join('\n'),
    );
  });
  after(() => rmSync(runDir, { recursive: true, force: true }));

  it('follows an order id to its payment and refund traces, in time order across four services', () => {
    const steps = findFlow(traceFiles(runDir), 'o-1');
    expect(steps.map((s) => `${s.service} ${s.step}`)).to.deep.equal([
      'cashier CashierService/CreatePaymentOrder',
      'cashier CashierService/Pay',
      'channel-router ChannelService/CreateChannelPayment',
      'channel-router POST /callbacks/alipay',
      'account AccountService/Transfer',
      'ledger paycore.account.transfer_posted.v1',
      'cashier payment step',
      'cashier CashierService/Refund',
    ]);
    expect(new Set(steps.map((s) => s.traceId))).to.deep.equal(new Set([T_ORDER, T_PAY, T_REFUND]));
  });

  it("fills a span's state from its handler's log line and shows the amount in yuan", () => {
    const pay = findFlow(traceFiles(runDir), 'p-1').find((s) => s.step === 'CashierService/Pay');
    expect(pay?.state).to.equal('PROCESSING');
    expect(pay && amountOf(pay)).to.equal('19.99 CNY');
    expect(pay?.bizCode).to.equal(CODE);
  });

  it('finds a flow by trace id and leaves out every other trace', () => {
    const steps = findFlow(traceFiles(runDir), T_OTHER);
    expect(steps.map((s) => s.step)).to.deep.equal(['CashierService/Pay']);
    expect(findFlow(traceFiles(runDir), 'no-such-id')).to.deep.equal([]);
  });
});
