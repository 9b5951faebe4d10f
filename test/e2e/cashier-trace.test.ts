/**
 * End-to-end must-show item 8 (as far as it holds today): every service a
 * real process exporting its spans over OTLP/HTTP (JSON) to a collector this
 * test runs. A balance payment's trace, started by the test's own client
 * span, covers the cashier, account (TryTransfer / ConfirmTransfer), the
 * NATS hop of `transfer_posted` and the ledger's voucher, under one trace id,
 * and every cashier, account and ledger span of it carries the context code
 * (`paycore.biz_code`). Postgres spans are switched on for this test
 * (OTEL_PG_SPANS=sampled; off by default) and appear under the payment.
 *
 * A channel payment's trace goes further: the sandbox (an external party,
 * untraced) calls channel-router back with a fresh HTTP request, and
 * channel-router continues the trace it stored with the transaction, so the
 * callback, `channel.txn_updated`, the cashier's completion, account's
 * posting and the ledger's voucher all join the trace the test started.
 */
import { createServer, type Server } from 'node:http';
import { expect } from 'chai';
import { context as otelContext, trace } from '@opentelemetry/api';
import { testSpanExporter } from '@paycore/testing';
import { PartKind, PaymentState } from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { payAtSandbox, startPlatform, waitFor, type Platform } from './platform';
import { createOrder, fundPayer, pay, part, registerMerchant, uid } from './helpers';

interface CollectedSpan {
  readonly service: string;
  readonly traceId: string;
  readonly name: string;
  readonly bizCode: string | undefined;
}

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string };
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { spans?: { traceId: string; name: string; attributes?: OtlpAttribute[] }[] }[];
  }[];
}

const attribute = (attrs: OtlpAttribute[] | undefined, key: string): string | undefined =>
  attrs?.find((a) => a.key === key)?.value.stringValue;

function startCollector(spans: CollectedSpan[]): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport;
        for (const rs of body.resourceSpans ?? []) {
          const service = attribute(rs.resource?.attributes, 'service.name') ?? '?';
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                service,
                traceId: s.traceId,
                name: s.name,
                bizCode: attribute(s.attributes, 'paycore.biz_code'),
              });
            }
          }
        }
      } catch {
        // A body this collector cannot read is simply not counted.
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({ server, url: `http://127.0.0.1:${port}` });
    });
  });
}

describe('one payment, one trace (every service a real process)', function () {
  this.timeout(180_000);
  let p: Platform;
  let collector: { server: Server; url: string };
  const spans: CollectedSpan[] = [];

  before(async () => {
    testSpanExporter(); // real trace ids for this process's client spans
    collector = await startCollector(spans);
    // Postgres spans are off by default (docs/adr/0025); this test turns them on to see the statements too.
    p = await startPlatform({}, { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_PG_SPANS: 'sampled' });
  });
  after(async () => {
    await p?.close();
    collector?.server.close();
  });

  it('8. a balance payment: cashier, account, NATS and ledger share one trace id, each span with the context code', async () => {
    const merchantId = await registerMerchant(p);
    const payerId = uid('payer');
    await fundPayer(p, payerId, 2_000n, (txnId) => payAtSandbox(p.sandboxUrl, 'alipay', txnId));
    const created = await createOrder(p, merchantId, 1_200n, { notify: false });
    const tracer = trace.getTracer('e2e');
    const span = tracer.startSpan('e2e: pay');
    const traceId = span.spanContext().traceId;
    const res = await otelContext.with(trace.setSpan(otelContext.active(), span), () =>
      pay(p, created.orderId, payerId, [part(PartKind.PART_KIND_BALANCE, 1_200n)]),
    );
    span.end();
    expect(res.payment?.state).to.equal(PaymentState.PAYMENT_STATE_SUCCEEDED);
    const bizCode = res.order?.bizCode ?? '';
    // Each process exports in batches of its own, so wait for every span the assertions name.
    const mine = await waitFor(
      'the Pay, TryTransfer, ConfirmTransfer and voucher spans',
      () => {
        const found = spans.filter((s) => s.traceId === traceId);
        const names = found.map((s) => `${s.service}:${s.name}`);
        const complete =
          names.includes('cashier:paycore.cashier.v1.CashierService/Pay') &&
          names.some((n) => n.startsWith('account:paycore.account.v1.AccountService/TryTransfer')) &&
          names.some((n) => n.startsWith('account:paycore.account.v1.AccountService/ConfirmTransfer')) &&
          found.some((s) => s.service === 'ledger' && /transfer_posted/.test(s.name));
        return Promise.resolve(complete ? found : undefined);
      },
      30_000,
    );
    const names = mine.map((s) => `${s.service}:${s.name}`);
    expect(names).to.include('cashier:paycore.cashier.v1.CashierService/Pay');
    expect(names.some((n) => n.startsWith('account:paycore.account.v1.AccountService/TryTransfer'))).to.equal(
      true,
    );
    expect(
      names.some((n) => n.startsWith('account:paycore.account.v1.AccountService/ConfirmTransfer')),
    ).to.equal(true);
    expect(mine.some((s) => s.service === 'ledger' && /transfer_posted/.test(s.name))).to.equal(
      true,
      names.join(', '),
    );
    // OTEL_PG_SPANS=sampled: the statements of the payment are children of its sampled spans.
    expect(
      mine.some((s) => s.service === 'cashier' && s.name.startsWith('pg')),
      'cashier Postgres spans in the payment trace',
    ).to.equal(true);
    // pg spans come from the OTel pg instrumentation and carry no paycore attributes; the rest must.
    const unlabelled = mine.filter(
      (s) => s.service !== 'paycore-test' && !s.name.startsWith('pg') && s.bizCode === undefined,
    );
    expect(unlabelled.map((s) => `${s.service}:${s.name}`)).to.deep.equal([]);
    // The order's code (unrouted) or a part's routed code: same product, biz mode and action.
    const codes = new Set(mine.filter((s) => s.bizCode !== undefined).map((s) => s.bizCode));
    expect([...codes].every((code) => code?.slice(0, 10) === bizCode.slice(0, 10))).to.equal(
      true,
      [...codes].join(' '),
    );
    expect(codes.has(bizCode)).to.equal(true);
    await p.paycore.cashier.getMerchant({ merchantId });
  });

  it('8. a channel payment: the sandbox callback, NATS, cashier, account and ledger continue the same trace', async () => {
    const merchantId = await registerMerchant(p);
    const created = await createOrder(p, merchantId, 3_300n, { notify: false });
    const span = trace.getTracer('e2e').startSpan('e2e: channel pay');
    const traceId = span.spanContext().traceId;
    const res = await otelContext.with(trace.setSpan(otelContext.active(), span), () =>
      pay(p, created.orderId, uid('payer'), [
        part(PartKind.PART_KIND_CHANNEL, 3_300n, { payChannel: '1001' }),
      ]),
    );
    span.end();
    expect(res.payment?.state).to.equal(PaymentState.PAYMENT_STATE_PROCESSING);
    // The payer pays at the channel: a new HTTP request from the sandbox, carrying none of our headers.
    await payAtSandbox(p.sandboxUrl, 'alipay', res.payment?.parts[0]?.channelTxnId ?? '');
    const mine = await waitFor(
      'the callback, the cashier completion, account and ledger spans in the payment trace',
      () => {
        const found = spans.filter((s) => s.traceId === traceId);
        const names = found.map((s) => `${s.service}:${s.name}`);
        const complete =
          names.some((n) => n.startsWith('channel-router:POST /callbacks/alipay/')) &&
          names.some((n) => n.startsWith('cashier:') && n.includes('txn_updated')) &&
          names.some((n) => n.startsWith('account:paycore.account.v1.AccountService/')) &&
          names.some((n) => n.startsWith('ledger:') && n.includes('transfer_posted'));
        return Promise.resolve(complete ? found : undefined);
      },
      30_000,
    );
    const unlabelled = mine.filter(
      (s) => s.service !== 'paycore-test' && !s.name.startsWith('pg') && s.bizCode === undefined,
    );
    expect(unlabelled.map((s) => `${s.service}:${s.name}`)).to.deep.equal([]);
    const routed = res.payment?.parts[0]?.bizCode ?? '';
    expect(mine.some((s) => s.service === 'channel-router' && s.bizCode === routed)).to.equal(true);
  });
});
