/**
 * The streaming bill readers give what the whole-file parsers give: the same
 * rows and footer totals whatever the chunk size (chunks down to one byte,
 * so a GBK character, a CRLF and a zip header are split), and the same
 * refusals: a footer that disagrees, a truncated archive, an entry whose
 * bytes do not match its central-directory CRC-32, invalid UTF-8. Chunk
 * sizes come from a seed (PAYCORE_SEED, printed).
 */
import { expect } from 'chai';
import iconv from 'iconv-lite';
import {
  alipayBillLine,
  buildAlipayBill,
  buildWechatBill,
  parseAlipayBill,
  parseWechatBill,
  readZip,
  wechatBillRow,
  writeZip,
} from './index';
import { AlipayBillStream, WechatBillStream } from './bill-stream';

const SEED = Number(process.env['PAYCORE_SEED'] ?? Date.now() % 1_000_000);

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function chunks(content: Buffer, next: () => number, sizeMax: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < content.length;) {
    const size = 1 + Math.floor(next() * sizeMax);
    out.push(content.subarray(at, at + size));
    at += size;
  }
  return out;
}

function streamAll<R, E>(
  stream: { push(c: Uint8Array): R[]; end(): { rows: R[]; end: E } },
  parts: Buffer[],
) {
  const rows: R[] = [];
  for (const part of parts) rows.push(...stream.push(part));
  const last = stream.end();
  return { rows: [...rows, ...last.rows], end: last.end };
}

const alipayLines = Array.from({ length: 300 }, (_, i) =>
  alipayBillLine({
    tradeNo: `2024${i}`,
    outTradeNo: `ORDER-${i}`,
    businessType: i % 7 === 0 ? '退款' : '交易',
    subject: `商品 ${i}, "特价"`,
    createdAt: '2024-03-01 10:00:00',
    finishedAt: '2024-03-01 10:00:05',
    orderAmountFen: i % 7 === 0 ? -BigInt(100 + i) : BigInt(100 + i),
    serviceFeeFen: i % 7 === 0 ? 1n : -1n,
    refundRequestNo: i % 7 === 0 ? `R-${i}` : '',
  }),
);
const alipayZip = buildAlipayBill({
  account: '20880000000000000156',
  billDate: '2024-03-01',
  exportedAt: '2024-03-02 09:00:00',
  lines: alipayLines,
});

describe(`streaming bill readers (seed ${SEED})`, () => {
  it('Alipay: any chunking gives the rows and totals of the whole-file parser', () => {
    const next = random(SEED);
    const whole = parseAlipayBill(alipayZip);
    for (const sizeMax of [1, 13, 4096, alipayZip.length]) {
      const read = streamAll(new AlipayBillStream(), chunks(alipayZip, next, sizeMax));
      expect(read.rows).to.deep.equal(whole.lines);
      expect(read.end.totals).to.deep.equal(whole.totals);
      expect(read.end.account).to.equal(whole.account);
      expect(read.end.lineCount).to.equal(300);
    }
  });

  it('Alipay: a truncated archive, a wrong footer and a CRC-32 mismatch are refused', () => {
    expect(() => streamAll(new AlipayBillStream(), [alipayZip.subarray(0, alipayZip.length - 30)])).to.throw(
      /end of central directory/,
    );
    const [detail, summary] = readZip(alipayZip);
    const text = iconv.decode(detail?.data ?? Buffer.alloc(0), 'gbk');
    const footer = text.replace(
      /商家实收：(\d+)\.(\d\d)元/,
      (_m, a: string, b: string) => `商家实收：${Number(a) + 1}.${b}元`,
    );
    const tampered = writeZip(
      [
        { name: detail?.name ?? '', data: iconv.encode(footer, 'gbk') },
        { name: summary?.name ?? '', data: summary?.data ?? Buffer.alloc(0) },
      ],
      { modifiedAt: { year: 2024, month: 3, day: 2, hour: 9, minute: 0, second: 0 }, nameEncoding: 'gbk' },
    );
    expect(() => streamAll(new AlipayBillStream(), [tampered])).to.throw(
      /line 307: the footer totals do not match/,
    );
    // Flip the CRC-32 recorded in the central directory of the first entry.
    const badCrc = Buffer.from(alipayZip);
    const central = badCrc.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    badCrc.writeUInt32LE((badCrc.readUInt32LE(central + 16) ^ 1) >>> 0, central + 16);
    expect(() => streamAll(new AlipayBillStream(), [badCrc])).to.throw(/CRC-32 mismatch/);
  });

  it('WeChat: any chunking gives the rows and summary of the whole-file parser; invalid UTF-8 is refused', () => {
    const next = random(SEED + 1);
    const rows = Array.from({ length: 200 }, (_, i) =>
      wechatBillRow({
        tradeTime: '2024-03-01 10:00:00',
        appId: 'wx',
        mchId: 'mch',
        transactionId: `42${i}`,
        outTradeNo: `ORDER-${i}`,
        tradeState: 'SUCCESS',
        totalFen: BigInt(100 + i),
        feeFen: 1n,
        body: '商品',
      }),
    );
    const text = buildWechatBill({ billType: 'ALL', rows });
    const whole = parseWechatBill(text);
    for (const sizeMax of [1, 17, text.length]) {
      const read = streamAll(new WechatBillStream(), chunks(Buffer.from(text), next, sizeMax));
      expect(read.rows).to.deep.equal(whole.rows);
      expect(read.end.summary).to.deep.equal(whole.summary);
    }
    expect(() => streamAll(new WechatBillStream(), [iconv.encode(text, 'gbk')])).to.throw(/not valid UTF-8/);
  });
});
