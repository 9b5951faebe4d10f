/**
 * Proves a context code survives each hop in its real wire form: gRPC
 * metadata through HTTP/2 headers (toHttp2Headers / fromHttp2Headers), NATS
 * headers through their encoded bytes (MsgHdrsImpl.encode / decode), and OTel
 * baggage through the W3C `baggage` header into a plain carrier object. It
 * also checks the span attribute on a real SDK span, that malformed codes are
 * refused before they leave, and that the pino mixin reads the
 * AsyncLocalStorage value first and falls back to the active OTel context's
 * baggage (with a minimal context manager installed only for that test).
 */
import { Metadata } from '@grpc/grpc-js';
import { headers, MsgHdrsImpl } from '@nats-io/transport-node';
import {
  context as otelContext,
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  type Context,
  type ContextManager,
} from '@opentelemetry/api';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { expect } from 'chai';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingHttpHeaders } from 'node:http2';
import {
  BIZ_CODE_SPAN_ATTRIBUTE,
  bizLogMixin,
  ContextError,
  getBizBaggage,
  getGrpcBizCode,
  getNatsBizCode,
  runWithBizCode,
  setGrpcBizCode,
  setNatsBizCode,
  setSpanBizCode,
  withBizBaggage,
} from './index';

const CODE = '10010101011001100001';
const OTHER = '10020101010000000000';

describe('propagation: gRPC metadata', () => {
  it('round-trips x-biz-context through HTTP/2 headers', () => {
    const outgoing = new Metadata();
    setGrpcBizCode(outgoing, CODE);
    const wire = outgoing.toHttp2Headers();
    expect(wire['x-biz-context']).to.equal(CODE);
    // What the server's HTTP/2 stack hands to grpc-js: every value a string or string list.
    const received: IncomingHttpHeaders = {};
    for (const [key, value] of Object.entries(wire)) {
      if (value !== undefined) received[key] = Array.isArray(value) ? value : String(value);
    }
    const incoming = Metadata.fromHttp2Headers(received);
    expect(getGrpcBizCode(incoming)).to.equal(CODE);
  });

  it('replaces an earlier code and reads nothing when absent', () => {
    const metadata = new Metadata();
    expect(getGrpcBizCode(metadata)).to.equal(undefined);
    setGrpcBizCode(metadata, OTHER);
    setGrpcBizCode(metadata, CODE);
    expect(metadata.get('x-biz-context')).to.deep.equal([CODE]);
  });

  it('refuses to send a malformed code', () => {
    expect(() => setGrpcBizCode(new Metadata(), '123')).to.throw(ContextError);
  });
});

describe('propagation: NATS headers', () => {
  it('round-trips Biz-Context through the encoded header block', () => {
    const outgoing = headers();
    setNatsBizCode(outgoing, CODE);
    outgoing.set('Nats-Msg-Id', 'outbox-1');
    // headers() builds the implementation class; encode() is what the client writes to the socket.
    if (!(outgoing instanceof MsgHdrsImpl)) throw new Error('headers() no longer returns MsgHdrsImpl');
    const bytes = outgoing.encode();
    expect(new TextDecoder().decode(bytes)).to.contain(`Biz-Context: ${CODE}`);
    const incoming = MsgHdrsImpl.decode(bytes);
    expect(getNatsBizCode(incoming)).to.equal(CODE);
    expect(incoming.get('Nats-Msg-Id')).to.equal('outbox-1');
  });

  it('reads nothing when absent or when there are no headers', () => {
    expect(getNatsBizCode(headers())).to.equal(undefined);
    expect(getNatsBizCode(undefined)).to.equal(undefined);
  });

  it('refuses to send a malformed code', () => {
    expect(() => setNatsBizCode(headers(), 'x'.repeat(20))).to.throw(ContextError);
  });
});

describe('propagation: OTel baggage and span attribute', () => {
  it('round-trips biz.context through the W3C baggage header, keeping other entries', () => {
    const propagator = new W3CBaggagePropagator();
    const withOther = propagation.setBaggage(
      ROOT_CONTEXT,
      propagation.createBaggage({ 'tenant.id': { value: 'shop-7' } }),
    );
    const ctx = withBizBaggage(withOther, CODE);
    const carrier: Record<string, string> = {};
    propagator.inject(ctx, carrier, defaultTextMapSetter);
    expect(carrier.baggage).to.contain(`biz.context=${CODE}`);

    const extracted = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
    expect(getBizBaggage(extracted)).to.equal(CODE);
    expect(propagation.getBaggage(extracted)?.getEntry('tenant.id')?.value).to.equal('shop-7');
  });

  it('reads nothing from a context without baggage', () => {
    expect(getBizBaggage(ROOT_CONTEXT)).to.equal(undefined);
  });

  it('refuses to put a malformed code in baggage', () => {
    expect(() => withBizBaggage(ROOT_CONTEXT, '')).to.throw(ContextError);
  });

  it('sets paycore.biz_code on a real span', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const span = provider.getTracer('context-test').startSpan('pay');
    setSpanBizCode(span, CODE);
    span.end();
    const [finished] = exporter.getFinishedSpans();
    expect(finished?.attributes[BIZ_CODE_SPAN_ATTRIBUTE]).to.equal(CODE);
    await provider.shutdown();
  });
});

/** Just enough of a context manager for context.with() to be visible to context.active(). */
class TestContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

describe('propagation: log mixin', () => {
  let registered = false;
  before(() => {
    // If the process already has a context manager (another test file set up
    // telemetry), use it; only undo what this file did.
    registered = otelContext.setGlobalContextManager(new TestContextManager());
  });
  after(() => {
    if (registered) otelContext.disable();
  });

  it('adds nothing outside a flow', () => {
    expect(bizLogMixin()).to.deep.equal({});
  });

  it('uses the AsyncLocalStorage code first', () => {
    const ctx = withBizBaggage(ROOT_CONTEXT, OTHER);
    const fields = otelContext.with(ctx, () => runWithBizCode(CODE, () => bizLogMixin()));
    expect(fields).to.deep.equal({ biz_code: CODE });
  });

  it('falls back to the active context baggage', () => {
    const ctx = withBizBaggage(ROOT_CONTEXT, OTHER);
    expect(otelContext.with(ctx, () => bizLogMixin())).to.deep.equal({ biz_code: OTHER });
  });
});
