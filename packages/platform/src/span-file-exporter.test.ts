/**
 * Proves the local span file contract (docs/runbooks/tracing.md): spans made
 * by a real OpenTelemetry tracer land in `<dir>/<service>.jsonl` as one JSON
 * object a line with the contract's fields and types; pg statement spans are
 * left out; and the file rotates to `.1` (one kept) before it passes its bound.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SpanFileExporter, spanFileExporterFromEnv, type SpanLine } from './span-file-exporter';

function providerWith(exporter: SpanFileExporter): BasicTracerProvider {
  return new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
}

function readLines(file: string): SpanLine[] {
  return readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as SpanLine);
}

describe('span file exporter', () => {
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(path.join(tmpdir(), 'paycore-spans-'));
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('writes each finished span as one contract line, parent linked, pg statements left out', async () => {
    const exporter = new SpanFileExporter({ directory, serviceName: 'cashier' });
    const provider = providerWith(exporter);
    const tracer = provider.getTracer('@paycore/platform');
    const parent = tracer.startSpan('paycore.cashier.v1.CashierService/Pay', {
      kind: SpanKind.SERVER,
      attributes: {
        'paycore.biz_code': '10010101010000000000',
        'paycore.order_id': 'o-1',
        'rpc.grpc.status_code': 0,
      },
    });
    const child = tracer.startSpan(
      'paycore.channel.v1.ChannelService/Pay',
      { kind: SpanKind.CLIENT, attributes: { 'paycore.amount': '1250', retried: false } },
      trace.setSpan(context.active(), parent),
    );
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'unavailable' });
    child.end();
    provider.getTracer('@opentelemetry/instrumentation-pg').startSpan('pg.query:SELECT').end();
    parent.setStatus({ code: SpanStatusCode.OK });
    parent.end();
    await provider.forceFlush();

    const lines = readLines(path.join(directory, 'cashier.jsonl'));
    expect(lines.map((l) => l.name)).to.deep.equal([
      'paycore.channel.v1.ChannelService/Pay',
      'paycore.cashier.v1.CashierService/Pay',
    ]);
    const [clientLine, serverLine] = lines;
    expect(serverLine).to.include({ service: 'cashier', kind: 'SERVER', status: 'OK', parentSpanId: null });
    expect(serverLine?.traceId).to.match(/^[0-9a-f]{32}$/);
    expect(serverLine?.spanId).to.match(/^[0-9a-f]{16}$/);
    expect(serverLine?.attributes).to.deep.equal({
      'paycore.biz_code': '10010101010000000000',
      'paycore.order_id': 'o-1',
      'rpc.grpc.status_code': 0,
    });
    expect(clientLine).to.include({ kind: 'CLIENT', status: 'ERROR', parentSpanId: serverLine?.spanId });
    expect(clientLine?.traceId).to.equal(serverLine?.traceId);
    expect(clientLine?.attributes).to.deep.equal({ 'paycore.amount': '1250', retried: false });
    for (const line of lines) {
      expect(line.startUnixNano).to.match(/^\d{19}$/);
      expect(BigInt(line.endUnixNano) >= BigInt(line.startUnixNano)).to.equal(true);
      expect(line.durationMs).to.be.a('number');
      expect(line.durationMs).to.be.closeTo(
        Number(BigInt(line.endUnixNano) - BigInt(line.startUnixNano)) / 1e6,
        1e-6,
      );
    }
    await provider.shutdown();
  });

  it('rotates to .1 before the file passes its bound and keeps only one old file', async () => {
    const fileSizeMaxBytes = 4_096;
    const exporter = new SpanFileExporter({ directory, serviceName: 'ledger', fileSizeMaxBytes });
    const provider = providerWith(exporter);
    const tracer = provider.getTracer('t');
    for (let i = 0; i < 200; i++) tracer.startSpan(`span ${i}`, { attributes: { i } }).end();
    await provider.forceFlush();
    const file = path.join(directory, 'ledger.jsonl');
    expect(statSync(file).size).to.be.at.most(fileSizeMaxBytes);
    expect(statSync(`${file}.1`).size).to.be.at.most(fileSizeMaxBytes);
    expect(existsSync(`${file}.2`)).to.equal(false);
    const last = readLines(file).at(-1);
    expect(last?.name).to.equal('span 199');
    const kept = readLines(`${file}.1`).length + readLines(file).length;
    expect(kept).to.be.lessThan(200);
    await provider.shutdown();
  });

  it('is enabled by PAYCORE_SPAN_FILE_DIR only, and refuses a service name that is not a file name', () => {
    expect(spanFileExporterFromEnv('cashier', {})).to.equal(undefined);
    expect(spanFileExporterFromEnv('cashier', { PAYCORE_SPAN_FILE_DIR: directory })?.file).to.equal(
      path.join(directory, 'cashier.jsonl'),
    );
    expect(() => new SpanFileExporter({ directory, serviceName: '../x' })).to.throw(/not a file name/);
  });
});
