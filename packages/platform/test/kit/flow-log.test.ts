/**
 * Proves the flow log of the kit: every handled RPC and every consumed event
 * writes one info line that an SRE can follow a payment by. A RecordNote call
 * (which writes an outbox event), the event consumed by the fixture's inbox
 * consumer, and a refused call (missing scope) are made against the echo
 * fixture service (real gRPC, Postgres, NATS JetStream); the captured pino
 * lines must carry the trace id, the context code, the request's entity ids
 * (carried to the consumer by the Paycore-Flow event header), the outcome
 * (OK or gRPC code + reason) and duration_ms.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { runWithBizCode } from '@paycore/context';
import { testSpanExporter } from '@paycore/testing';
import { errorReason, unary } from '../../src';
import { startEchoHarness, UNROUTED_CODE, type Harness } from './harness';

testSpanExporter();

describe('platform kit: one log line per handled RPC and per consumed event', function () {
  this.timeout(60_000);
  let h: Harness;

  before(async () => {
    h = await startEchoHarness({ consume: true });
  });
  after(async () => h.close());

  const waitForLine = async (
    match: (line: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>> => {
    for (let i = 0; i < 200; i++) {
      const line = h.logLines.find(match);
      if (line !== undefined) return line;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('no such log line');
  };

  it('names the rpc, its entity ids, outcome, duration and trace; the event line names the same flow', async () => {
    const client = await h.client();
    const requestId = `flow-${randomBytes(6).toString('hex')}`;
    await runWithBizCode(UNROUTED_CODE, () =>
      unary(client.recordNote.bind(client), { requestId, note: 'flow', bizContext: undefined }),
    );
    const rpcLine = await waitForLine((line) => line['msg'] === 'rpc ok' && line['request_id'] === requestId);
    expect(rpcLine).to.include({
      level: 'info',
      rpc: '/paycore.testing.v1.EchoService/RecordNote',
      outcome: 'OK',
      biz_code: UNROUTED_CODE,
    });
    expect(rpcLine['trace_id']).to.match(/^[0-9a-f]{32}$/);
    expect(rpcLine['span_id']).to.match(/^[0-9a-f]{16}$/);
    expect(rpcLine['duration_ms']).to.be.a('number').and.greaterThan(0);

    // The outbox row carries the RPC's entity ids for whoever consumes the event.
    const pg = new Client({ connectionString: h.database.url });
    await pg.connect();
    try {
      const rows = await pg.query<{ headers: Record<string, string> }>(
        `SELECT headers FROM echo_fixture.outbox WHERE headers->>'Paycore-Flow' LIKE $1`,
        [`%${requestId}%`],
      );
      expect(rows.rows).to.have.length(1);
      expect(JSON.parse(rows.rows[0]?.headers['Paycore-Flow'] ?? '{}')).to.include({ request_id: requestId });
    } finally {
      await pg.end();
    }

    const eventLine = await waitForLine(
      (line) => line['msg'] === 'event handled' && line['request_id'] === requestId,
    );
    expect(eventLine).to.include({ level: 'info', outcome: 'OK', biz_code: UNROUTED_CODE, delivery: 1 });
    expect(eventLine['subject'])
      .to.be.a('string')
      .and.match(/note_recorded/);
    expect(eventLine['consumer']).to.be.a('string');
    expect(eventLine['trace_id'], 'the event continues the RPC trace').to.equal(rpcLine['trace_id']);
    expect(eventLine['duration_ms']).to.be.a('number').and.greaterThan(0);
  });

  it('logs a refused RPC at info with its gRPC code and reason as the outcome', async () => {
    const client = await h.client(['echo:read']);
    const requestId = `refused-${randomBytes(6).toString('hex')}`;
    let reason: string | undefined;
    try {
      await unary(client.recordNote.bind(client), { requestId, note: 'no', bizContext: undefined });
    } catch (error) {
      reason = errorReason(error);
    }
    expect(reason).to.be.a('string');
    const line = await waitForLine(
      (entry) => entry['msg'] === 'rpc refused' && entry['request_id'] === requestId,
    );
    expect(line).to.include({ level: 'info', grpc_code: 'PERMISSION_DENIED', reason });
    expect(line['outcome']).to.equal(`PERMISSION_DENIED ${reason ?? ''}`);
  });
});
