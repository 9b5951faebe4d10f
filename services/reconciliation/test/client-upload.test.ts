/**
 * @paycore/client's `reconciliation.uploadStatement` against the real
 * reconciliation service (in process, real Postgres and NATS; peers faked —
 * see harness.ts), as a client team calls it:
 * - from a Buffer, the client computes the SHA-256 and size, sends chunks
 *   and the bill imports; the same request id again is answered with the same
 *   run and imports nothing more;
 * - from a stream (a Readable yielding pieces of odd sizes), with the checksum
 *   and size declared, another day's bill imports; without them the client
 *   refuses before sending anything;
 * - a declared size over the service's bound comes back as a PaycoreError with
 *   STATEMENT_TOO_LARGE and `size_bytes_max`;
 * - a Buffer upload whose first attempt finds no server (UNAVAILABLE) is
 *   retried with the same request id and imports once the service is up.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import {
  createPaycoreClient,
  PaycoreError,
  staticToken,
  type PaycoreClient,
  type TokenProvider,
} from '@paycore/client';
import { alipayBillLine, buildAlipayBill } from '@paycore/channel-protocols';
import { freePort } from '@paycore/testing';
import { startReconHarness, type ReconHarness } from './harness';

const ALIPAY = '100001';
const STREAM_BYTES_MAX = 256 * 1024;
const LINES = 50;

function bill(date: string): Buffer {
  const lines = [];
  for (let i = 0; i < LINES; i += 1)
    lines.push(
      alipayBillLine({
        tradeNo: `CU-${date}-${i}`,
        outTradeNo: `CU-${date}-${i}`,
        businessType: '交易',
        subject: '商品',
        createdAt: `${date} 12:00:00`,
        finishedAt: `${date} 12:00:00`,
        orderAmountFen: BigInt(100 + i),
        serviceFeeFen: -1n,
      }),
    );
  return buildAlipayBill({
    account: '20880000000000000156',
    billDate: date,
    exportedAt: `${date} 23:00:00`,
    lines,
  });
}

const sha256 = (content: Buffer): string => createHash('sha256').update(content).digest('hex');

function clientOf(
  address: string,
  token: TokenProvider,
  sleep?: (ms: number) => Promise<void>,
): PaycoreClient {
  return createPaycoreClient({ endpoints: { reconciliation: address }, token, ...(sleep ? { sleep } : {}) });
}

describe('@paycore/client uploadStatement against the reconciliation service', function () {
  this.timeout(300_000);
  let h: ReconHarness;
  let paycore: PaycoreClient;

  before(async () => {
    h = await startReconHarness({ RECON_STREAM_UPLOAD_BYTES_MAX: String(STREAM_BYTES_MAX) });
    paycore = clientOf(`127.0.0.1:${h.service.grpcPort}`, staticToken(h.token));
  });

  after(async () => {
    paycore?.close();
    await h?.close();
  });

  const files = async () =>
    h.sql<{ checksum_sha256: string; line_count: string }>(
      'SELECT checksum_sha256, line_count::text FROM recon.statement_files ORDER BY checksum_sha256',
    );

  it('uploads a Buffer in chunks (checksum and size computed), and a replay is the same run', async () => {
    const zip = bill('2025-04-01');
    const metadata = {
      requestId: 'client-upload-buffer',
      channelNo: ALIPAY,
      billDate: '2025-04-01',
      format: 'ALIPAY_TRADE_ZIP',
      operator: 'ops',
    };
    const first = await paycore.reconciliation.uploadStatement({ metadata, source: zip, chunkBytes: 1000 });
    expect(first.report?.lineCount).to.equal(BigInt(LINES));
    expect(first.report?.checksumSha256).to.equal(sha256(zip));
    const again = await paycore.reconciliation.uploadStatement({ metadata, source: zip });
    expect(again.report?.runId).to.equal(first.report?.runId);
    expect(await files()).to.deep.equal([{ checksum_sha256: sha256(zip), line_count: String(LINES) }]);
  });

  it('uploads from a stream with the checksum and size declared, and refuses a stream without them', async () => {
    const zip = bill('2025-04-02');
    const pieces = [zip.subarray(0, 7), zip.subarray(7, 5_000), zip.subarray(5_000)];
    const metadata = {
      requestId: 'client-upload-stream',
      channelNo: ALIPAY,
      billDate: '2025-04-02',
      format: 'ALIPAY_TRADE_ZIP',
      operator: 'ops',
    };
    const before = (await files()).length;
    let refused: unknown;
    try {
      await paycore.reconciliation.uploadStatement({ metadata, source: Readable.from(pieces) });
    } catch (err) {
      refused = err;
    }
    expect(refused).to.be.instanceOf(RangeError);
    expect((await files()).length).to.equal(before);
    const done = await paycore.reconciliation.uploadStatement({
      metadata: { ...metadata, checksumSha256: sha256(zip), sizeBytes: BigInt(zip.length) },
      source: Readable.from(pieces),
    });
    expect(done.report?.billDate).to.equal('2025-04-02');
    expect(done.report?.lineCount).to.equal(BigInt(LINES));
    expect((await files()).map((f) => f.checksum_sha256)).to.include(sha256(zip));
  });

  it('a declared size over the bound is a PaycoreError with STATEMENT_TOO_LARGE and size_bytes_max', async () => {
    const zip = bill('2025-04-03');
    let error: unknown;
    try {
      await paycore.reconciliation.uploadStatement({
        metadata: {
          channelNo: ALIPAY,
          billDate: '2025-04-03',
          format: 'ALIPAY_TRADE_ZIP',
          operator: 'ops',
          checksumSha256: sha256(zip),
          sizeBytes: BigInt(STREAM_BYTES_MAX + 1),
        },
        source: Readable.from([zip]),
      });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(PaycoreError);
    expect((error as PaycoreError).reason).to.equal('STATEMENT_TOO_LARGE');
    expect((error as PaycoreError).metadata['size_bytes_max']).to.equal(String(STREAM_BYTES_MAX));
    expect((await files()).map((f) => f.checksum_sha256)).to.not.include(sha256(zip));
  });

  it('retries a Buffer upload that found no server, and it imports once the service is up', async () => {
    const port = await freePort();
    let late: ReconHarness | undefined;
    const sleeps: number[] = [];
    // The first attempt finds nothing on the port; the service comes up during the backoff.
    // Its token is minted by the late service's own key (fetched per attempt).
    const token: TokenProvider = { token: () => Promise.resolve(late?.token ?? 'not-yet') };
    const retrying = clientOf(`127.0.0.1:${port}`, token, async (ms) => {
      sleeps.push(ms);
      late ??= await startReconHarness({ GRPC_PORT: String(port) });
      // grpc-js waits about a second (its reconnect backoff) before dialling the port again.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    });
    try {
      const zip = bill('2025-04-04');
      const response = await retrying.reconciliation.uploadStatement({
        metadata: { channelNo: ALIPAY, billDate: '2025-04-04', format: 'ALIPAY_TRADE_ZIP', operator: 'ops' },
        source: zip,
      });
      expect(sleeps.length).to.be.greaterThan(0);
      expect(response.report?.lineCount).to.equal(BigInt(LINES));
      const rows = await late!.sql<{ n: string }>('SELECT count(*)::text AS n FROM recon.statement_files');
      expect(rows).to.deep.equal([{ n: '1' }]);
    } finally {
      retrying.close();
      await late?.close();
    }
  });
});
