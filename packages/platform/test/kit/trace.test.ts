/**
 * Proves one trace through the whole kit: a test gRPC call → a state change
 * plus an outbox event (one Postgres transaction) → the relay publishes to
 * NATS JetStream → an inbox consumer → a second gRPC call. Every span of the
 * flow shares one trace id and carries the same `paycore.biz_code`, and the
 * consumer's log line carries both the trace id and the code. Spans are read
 * from the in-memory exporter installed through the same startTelemetry the
 * services use, with Postgres spans switched on (`pgSpans: 'sampled'`; they
 * are off by default), so the statements of the flow join its trace; the
 * state is read back from Postgres.
 */
import { expect } from 'chai';
import { Client } from 'pg';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { runWithBizCode } from '@paycore/context';
import { testSpanExporter, waitForSpans } from '@paycore/testing';
import { unary } from '../../src';
import { startEchoHarness, UNROUTED_CODE, type Harness } from './harness';

testSpanExporter({ pgSpans: 'sampled' });

describe('platform kit: one trace from gRPC through the outbox and NATS to gRPC', function () {
  this.timeout(60_000);
  let h: Harness;

  before(async () => {
    h = await startEchoHarness({ consume: true });
  });
  after(async () => h.close());

  it('links every span under one trace id with the context code, and logs carry both', async () => {
    const client = await h.client();
    const root = trace.getTracer('kit-test').startSpan('test: record a note');
    const traceId = root.spanContext().traceId;
    const res = await context.with(trace.setSpan(context.active(), root), () =>
      runWithBizCode(UNROUTED_CODE, () =>
        unary(client.recordNote.bind(client), {
          requestId: `trace-${traceId}`,
          note: 'hello',
          bizContext: undefined,
        }),
      ),
    );
    root.end();
    expect(res.noteId > 0n).to.equal(true);

    // The consumer answers the event with an Echo call; wait for its effect in Postgres.
    const pg = new Client({ connectionString: h.database.url });
    await pg.connect();
    let echoed: { echoed_text: string; biz_code: string | null } | undefined;
    for (let i = 0; i < 200 && echoed === undefined; i++) {
      const rows = await pg.query<{ echoed_text: string; biz_code: string | null }>(
        'SELECT echoed_text, biz_code FROM echo_fixture.echoes_received WHERE note_id = $1',
        [res.noteId.toString()],
      );
      echoed = rows.rows[0];
      if (echoed === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    await pg.end();
    expect(echoed?.echoed_text).to.equal('seen hello');
    // The second call saw the code through metadata, carried only by NATS headers and the ALS.
    expect(echoed?.biz_code).to.equal(UNROUTED_CODE);

    const spans = await waitForSpans(
      (all) =>
        all.filter((s) => s.spanContext().traceId === traceId && s.kind === SpanKind.SERVER).length >= 2,
    );
    const flow = spans.filter((s) => s.spanContext().traceId === traceId);
    const byKind = (kind: SpanKind): string[] => flow.filter((s) => s.kind === kind).map((s) => s.name);
    expect(byKind(SpanKind.SERVER)).to.include.members([
      'paycore.testing.v1.EchoService/RecordNote',
      'paycore.testing.v1.EchoService/Echo',
    ]);
    expect(byKind(SpanKind.CLIENT)).to.include.members([
      'paycore.testing.v1.EchoService/RecordNote',
      'paycore.testing.v1.EchoService/Echo',
    ]);
    expect(byKind(SpanKind.PRODUCER), 'relay publish span').to.have.length.greaterThan(0);
    expect(byKind(SpanKind.CONSUMER), 'consumer span').to.have.length.greaterThan(0);
    // Every span under the test's root (gRPC, Postgres, NATS) carries the code.
    const underRoot = flow.filter((s) => s.name !== 'test: record a note');
    expect(
      underRoot.some((s) => s.name.startsWith('pg.')),
      'postgres spans in the trace',
    ).to.equal(true);
    for (const span of underRoot) {
      expect(span.attributes['paycore.biz_code'], `${span.name} (${SpanKind[span.kind]})`).to.equal(
        UNROUTED_CODE,
      );
    }

    const consumerLine = h.logLines.find((l) => l['msg'] === 'answering note with an echo');
    expect(consumerLine, 'consumer log line').to.not.equal(undefined);
    expect(consumerLine?.['trace_id']).to.equal(traceId);
    expect(consumerLine?.['biz_code']).to.equal(UNROUTED_CODE);
    expect(consumerLine?.['span_id']).to.be.a('string');
  });
});
