/**
 * UploadStatement, the client-streaming upload, against real Postgres and
 * NATS (two in-process services on two databases, the same transactions
 * published to both; peers are recording fakes — see harness.ts):
 * - an Alipay zip (GBK CSVs, faults of every kind) sent in many chunks of
 *   seeded random sizes (seed PAYCORE_SEED, printed) gives exactly what the
 *   unary ImportStatement gives for the same bytes: report, lines, results
 *   and differences;
 * - a declared size over the bound, and bytes beyond the declared size, are
 *   refused with STATEMENT_TOO_LARGE and its `size_bytes_max`; a wrong
 *   SHA-256 is refused naming `checksum_sha256`; each refusal leaves no
 *   file, line, run, result or claim behind;
 * - the same request id again, and the same bytes under a new request id,
 *   are answered with the first run from the metadata alone (no bytes sent).
 */
import { createHash } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { expect } from 'chai';
import { decodeStatusDetails, errorReason, unary } from '@paycore/platform';
import { alipayBillLine, buildAlipayBill, type AlipayBillLine } from '@paycore/channel-protocols';
import type {
  ReconciliationServiceClient,
  UploadStatementRequest,
  UploadStatementResponse,
} from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
import { seededRandom } from '@paycore/testing';
import { startReconHarness, type PublishedTxn, type ReconHarness } from './harness';

const ALIPAY = '100001';
const DATE = '2025-03-03';
const SEED = Number(process.env['PAYCORE_SEED'] ?? Date.now() % 1_000_000);
const STREAM_BYTES_MAX = 256 * 1024;

/** Sends the messages with back-pressure and resolves with the answer (or rejects with the status). */
export function uploadStream(
  client: ReconciliationServiceClient,
  messages: Iterable<UploadStatementRequest>,
): Promise<UploadStatementResponse> {
  return new Promise((resolve, reject) => {
    const call = client.uploadStatement(new Metadata(), { deadline: Date.now() + 120_000 }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
    const iterator = messages[Symbol.iterator]();
    const pump = (): void => {
      for (;;) {
        const next = iterator.next();
        if (next.done === true) {
          call.end();
          return;
        }
        if (!call.write(next.value)) {
          call.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

function* chunked(content: Buffer, next: () => number, sizeMax: number): Generator<UploadStatementRequest> {
  for (let at = 0; at < content.length;) {
    const size = 1 + Math.floor(next() * sizeMax);
    yield { chunk: content.subarray(at, at + size) };
    at += size;
  }
}

const sha256 = (content: Buffer): string => createHash('sha256').update(content).digest('hex');

describe(`UploadStatement: the streamed upload (seed ${SEED})`, function () {
  this.timeout(300_000);
  let unaryHarness: ReconHarness;
  let streamHarness: ReconHarness;
  const next = seededRandom(SEED);
  const lines: AlipayBillLine[] = [];
  const txns: PublishedTxn[] = [];
  for (let i = 0; i < 400; i += 1) {
    const txnId = `UP-${i}`;
    const amount = BigInt(100 + Math.floor(next() * 10_000));
    const fault = next() < 0.1 ? Math.floor(next() * 3) : -1;
    if (fault !== 1)
      txns.push({
        txnId,
        state: 'SUCCESS',
        amountMinor: amount,
        feeMinor: 1n,
        channelNo: ALIPAY,
        finishTime: new Date(`${DATE}T04:00:00Z`),
      });
    if (fault === 0) continue; // the channel has no line
    lines.push(
      alipayBillLine({
        tradeNo: `AT-${i}`,
        outTradeNo: txnId,
        businessType: '交易',
        subject: '商品',
        createdAt: `${DATE} 12:00:00`,
        finishedAt: `${DATE} 12:00:00`,
        orderAmountFen: fault === 2 ? amount + 5n : amount,
        serviceFeeFen: -1n,
      }),
    );
  }
  const zip = buildAlipayBill({
    account: '20880000000000000156',
    billDate: DATE,
    exportedAt: '2025-03-04 09:00:00',
    lines,
  });
  const metadata = (requestId: string, over: Partial<UploadStatementRequest['metadata']> = {}) => ({
    metadata: {
      requestId,
      channelNo: ALIPAY,
      billDate: DATE,
      format: 'ALIPAY_TRADE_ZIP',
      operator: 'ops',
      checksumSha256: sha256(zip),
      sizeBytes: BigInt(zip.length),
      ...over,
    },
  });
  const rows = async (h: ReconHarness) => ({
    lines: await h.sql(
      `SELECT line_no, kind, status, merchant_order_no, channel_txn_no, amount_minor, fee_minor, currency, finished_at
         FROM recon.statement_lines ORDER BY line_no`,
    ),
    results: await h.sql(
      `SELECT seq, class, direction, delta_minor, merchant_order_no, platform_txn_id, channel_amount_minor,
              platform_amount_minor, line_no FROM recon.results ORDER BY seq`,
    ),
    differences: await h.sql(
      `SELECT class, direction, delta_minor, merchant_order_no, state FROM recon.differences ORDER BY merchant_order_no`,
    ),
    files: await h.sql(
      `SELECT checksum_sha256, size_bytes, line_count, stated_amount_minor, stated_fee_minor, source
         FROM recon.statement_files`,
    ),
  });
  const kept = async (h: ReconHarness) =>
    (
      await h.sql<{ n: string }>(
        `SELECT (SELECT count(*) FROM recon.statement_files) + (SELECT count(*) FROM recon.statement_lines)
              + (SELECT count(*) FROM recon.runs) + (SELECT count(*) FROM recon.results)
              + (SELECT count(*) FROM recon.idempotency_claims) AS n`,
      )
    )[0]?.n;

  before(async () => {
    const env = { RECON_STREAM_UPLOAD_BYTES_MAX: String(STREAM_BYTES_MAX) };
    [unaryHarness, streamHarness] = await Promise.all([startReconHarness(env), startReconHarness(env)]);
    for (const h of [unaryHarness, streamHarness]) {
      for (const txn of txns) await h.publishTxn(txn);
      await h.waitTxns(txns.length, 120_000);
    }
  });
  after(async () => {
    await Promise.all([unaryHarness?.close(), streamHarness?.close()]);
  });

  it('refuses a declared size over the bound, bytes beyond the declared size and a wrong SHA-256, keeping nothing', async () => {
    const before = await kept(streamHarness);
    const refusal = async (messages: UploadStatementRequest[]) => {
      try {
        await uploadStream(streamHarness.client, messages);
      } catch (err) {
        const details = decodeStatusDetails(err as object);
        return {
          reason: errorReason(err),
          info: details.errorInfo,
          fields: details.badRequest?.fieldViolations.map((v) => v.field) ?? [],
        };
      }
      return { reason: 'SUCCEEDED', info: undefined, fields: [] };
    };
    const declaredOver = await refusal([metadata('too-big', { sizeBytes: BigInt(STREAM_BYTES_MAX + 1) })]);
    expect(declaredOver.reason).to.equal('STATEMENT_TOO_LARGE');
    expect(declaredOver.info?.metadata['size_bytes_max']).to.equal(String(STREAM_BYTES_MAX));
    // Under the bound on paper, then more bytes than declared: refused once they pass the declared size.
    const sentOver = await refusal([
      metadata('sent-over', { sizeBytes: BigInt(zip.length - 100) }),
      ...chunked(zip, next, 2048),
    ]);
    expect(sentOver.reason).to.equal('STATEMENT_TOO_LARGE');
    expect(sentOver.info?.metadata['size_bytes_max']).to.equal(String(zip.length - 100));
    const wrongHash = await refusal([
      metadata('wrong-hash', { checksumSha256: sha256(Buffer.from('other')) }),
      ...chunked(zip, next, 2048),
    ]);
    expect(wrongHash.reason).to.equal('INVALID_FIELD');
    expect(wrongHash.fields).to.deep.equal(['checksum_sha256']);
    const noMetadata = await refusal([{ chunk: zip }]);
    expect(noMetadata.reason).to.equal('INVALID_FIELD');
    expect(await kept(streamHarness)).to.equal(before);
  });

  it('many chunks give exactly what the unary import gives for the same bytes', async () => {
    const once = await unary(unaryHarness.client.importStatement.bind(unaryHarness.client), {
      requestId: 'unary-1',
      channelNo: ALIPAY,
      billDate: DATE,
      format: 'ALIPAY_TRADE_ZIP',
      content: zip,
      operator: 'ops',
    });
    const messages = [metadata('stream-1'), ...chunked(zip, next, 300)];
    expect(messages.length).to.be.greaterThan(10);
    const streamed = await uploadStream(streamHarness.client, messages);
    const strip = (r: typeof once.report) => ({ ...r, runId: '', reconciledAt: undefined });
    expect(strip(streamed.report)).to.deep.equal(strip(once.report));
    expect(streamed.report?.classes.length).to.be.greaterThan(1);
    expect(await rows(streamHarness)).to.deep.equal(await rows(unaryHarness));
  });

  it('answers a replay (same request id, or same bytes under a new one) from the metadata alone', async () => {
    const first = await unary(streamHarness.client.getDayReport.bind(streamHarness.client), {
      channelNo: ALIPAY,
      billDate: DATE,
    });
    const sameRequest = await uploadStream(streamHarness.client, [metadata('stream-1')]);
    expect(sameRequest.report?.runId).to.equal(first.report?.runId);
    const sameBytes = await uploadStream(streamHarness.client, [metadata('stream-2')]);
    expect(sameBytes.report?.runId).to.equal(first.report?.runId);
    const files = await streamHarness.sql<{ n: string }>('SELECT count(*) AS n FROM recon.statement_files');
    expect(files[0]?.n).to.equal('1');
  });
});
