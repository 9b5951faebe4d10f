/**
 * One trace from the code that writes an event to the handler that consumes
 * it, and the business context code alongside (DESIGN.md §3, §7).
 *
 * With the test span exporter installed (the services' own telemetry setup),
 * a root span writes an event under a business code; the relay publishes it
 * later, outside any span; the consumer handles it. Proves: the PRODUCER
 * span's parent is the writer's span (context captured at write time), the
 * CONSUMER span's parent is the producer span (context carried in the
 * message), the handler runs inside that trace with the code restored in
 * AsyncLocalStorage, and both spans carry `paycore.biz_code`.
 */
import { expect } from 'chai';
import { SpanKind, trace } from '@opentelemetry/api';
import type { DataSource } from 'typeorm';
import { currentBizCode, runWithBizCode } from '@paycore/context';
import {
  createTestDatabase,
  startNatsServer,
  testPrefix,
  testSpanExporter,
  waitForSpans,
  type NatsServerHandle,
  type TestDatabase,
} from '@paycore/testing';
import { createDataSource, inTransaction, runMigrations } from '../../src/db';
import {
  connectNats,
  ensureStream,
  EventNaming,
  InboxConsumer,
  OutboxRelay,
  writeOutbox,
  type NatsHandles,
} from '../../src/events';
import { until } from './helpers';

const SCHEMA = 'trace_test';
const BIZ_CODE = '10010101010000000000';

describe('trace and business code across outbox, relay and inbox', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let natsServer: NatsServerHandle;
  let dataSource: DataSource;
  let nats: NatsHandles;
  let consumer: InboxConsumer | undefined;

  before(async () => {
    testSpanExporter();
    database = await createTestDatabase();
    natsServer = await startNatsServer();
    dataSource = createDataSource({
      url: database.url,
      schema: SCHEMA,
      applicationName: 'trace-test',
      poolSizeMax: 4,
    });
    await dataSource.initialize();
    await runMigrations(dataSource, { schema: SCHEMA });
    nats = await connectNats({ servers: natsServer.url, name: 'trace-test' });
  });
  after(async () => {
    await consumer?.stop();
    await nats?.nc.close();
    await dataSource?.destroy();
    await natsServer?.cleanup();
    await database?.drop();
  });

  it('continues the writer trace through the producer span to the consumer span', async () => {
    const naming = new EventNaming(testPrefix());
    const stream = naming.stream('traced');
    const subject = naming.subject('traced', 'thing_happened');
    await ensureStream(nats.jsm, { name: stream, subjects: [naming.contextSubjects('traced')] });
    const inHandler: {
      traceId?: string | undefined;
      bizCode?: string | undefined;
      headers?: Record<string, string>;
    } = {};
    consumer = new InboxConsumer({
      dataSource,
      schema: SCHEMA,
      js: nats.js,
      jsm: nats.jsm,
      stream,
      durable: naming.durable('traced', 'test'),
      filterSubjects: [subject],
      handler: async (message) => {
        inHandler.traceId = trace.getActiveSpan()?.spanContext().traceId;
        inHandler.bizCode = currentBizCode();
        inHandler.headers = message.headers;
        await Promise.resolve();
      },
      ackWaitMs: 5_000,
      fetchExpiresMs: 1_000,
    });
    await consumer.start();

    const tracer = trace.getTracer('tracing-test');
    const root = await runWithBizCode(BIZ_CODE, () =>
      tracer.startActiveSpan('test.write', async (span) => {
        await inTransaction(
          dataSource,
          (manager) => writeOutbox(manager, { subject, payload: new TextEncoder().encode('traced') }),
          { isolation: 'READ COMMITTED' },
        );
        span.end();
        return span.spanContext();
      }),
    );
    // The relay runs later and outside any span, as it does in production.
    const relay = new OutboxRelay({ dataSource, schema: SCHEMA, js: nats.js });
    expect((await relay.runOnce()).published).to.equal(1);
    await until('handled', () => consumer!.stats().handled === 1, 10_000);

    const spans = await waitForSpans(
      (all) => all.some((s) => s.name === `${subject} process` && s.spanContext().traceId === root.traceId),
      5_000,
    );
    const ofTrace = spans.filter((s) => s.spanContext().traceId === root.traceId);
    const producer = ofTrace.find((s) => s.name === `${subject} publish`);
    const consumerSpan = ofTrace.find((s) => s.name === `${subject} process`);
    expect(producer?.kind).to.equal(SpanKind.PRODUCER);
    expect(consumerSpan?.kind).to.equal(SpanKind.CONSUMER);
    expect(producer?.parentSpanContext?.spanId, 'producer parent = writer span').to.equal(root.spanId);
    expect(consumerSpan?.parentSpanContext?.spanId, 'consumer parent = producer span').to.equal(
      producer?.spanContext().spanId,
    );
    expect(producer?.attributes['paycore.biz_code']).to.equal(BIZ_CODE);
    expect(consumerSpan?.attributes['paycore.biz_code']).to.equal(BIZ_CODE);
    expect(inHandler.traceId).to.equal(root.traceId);
    expect(inHandler.bizCode).to.equal(BIZ_CODE);
    expect(inHandler.headers?.['Biz-Context']).to.equal(BIZ_CODE);
    expect(inHandler.headers?.['traceparent']).to.contain(producer?.spanContext().spanId);
  });
});
