/**
 * The canonical request form: key order never matters, absent and undefined
 * fields are the same, types are never confused (bigint 5 ≠ number 5 ≠ "5"),
 * the differing field of two requests is named, and stored responses keep
 * bigint, bytes and dates. Property runs use a fixed seed, printed.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  canonicalRequestHash,
  canonicalText,
  fieldHashes,
  firstDifferingField,
  fromStoredJson,
  protoFieldPath,
  toStoredJson,
} from './canonical';

const SEED = Number(process.env.PAYCORE_TEST_SEED ?? 20261201);

describe('canonical request form', () => {
  before(() => console.log(`      canonical property seed: ${SEED} (PAYCORE_TEST_SEED)`));

  it('ignores key order and undefined fields', () => {
    const a = { amount: 5n, currency: 'CNY', memo: undefined, parts: [{ b: 1, a: 2 }] };
    const b = { parts: [{ a: 2, b: 1 }], currency: 'CNY', amount: 5n };
    expect(canonicalRequestHash('op', a)).to.equal(canonicalRequestHash('op', b));
  });

  it('tells bigint, number and string apart, and operations apart', () => {
    const hashes = new Set([
      canonicalRequestHash('op', { amount: 5n }),
      canonicalRequestHash('op', { amount: 5 }),
      canonicalRequestHash('op', { amount: '5' }),
      canonicalRequestHash('other', { amount: 5n }),
    ]);
    expect(hashes.size).to.equal(4);
  });

  it('refuses values that have no canonical form', () => {
    expect(() => canonicalText({ when: Number.NaN })).to.throw(/finite/);
    expect(() => canonicalText(new Map())).to.throw(/plain object/);
  });

  it('names the first differing field, nested paths included', () => {
    const first = fieldHashes({ refundNo: 'R1', amount: { units: 100n, currency: 'CNY' } });
    const second = fieldHashes({ refundNo: 'R1', amount: { units: 250n, currency: 'CNY' } });
    expect(firstDifferingField(first, second)).to.equal('amount.units');
    expect(firstDifferingField(first, fieldHashes({ refundNo: 'R1' }))).to.equal('amount.currency');
    expect(firstDifferingField(first, first)).to.equal('');
  });

  it('names a field by its proto path: camelCase segments in snake_case', () => {
    expect(protoFieldPath('amount.amountMinor')).to.equal('amount.amount_minor');
    expect(protoFieldPath('merchantRefundNo')).to.equal('merchant_refund_no');
    expect(protoFieldPath('amount.amount_minor')).to.equal('amount.amount_minor');
  });

  it('equal payloads hash equal and any changed leaf changes the hash (property)', () => {
    const leaf = fc.oneof(fc.bigInt(), fc.integer(), fc.string(), fc.boolean(), fc.constant(null));
    const payload = fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), leaf, { minKeys: 1 });
    fc.assert(
      fc.property(payload, fc.string({ minLength: 1 }), (value, extra) => {
        const shuffled = Object.fromEntries(Object.entries(value).reverse());
        expect(canonicalRequestHash('op', shuffled)).to.equal(canonicalRequestHash('op', value));
        const key = Object.keys(value)[0]!;
        const changed = { ...value, [key]: `${String(value[key])}${extra}` };
        expect(canonicalRequestHash('op', changed)).to.not.equal(canonicalRequestHash('op', value));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('stored responses round-trip bigint, bytes and dates', () => {
    const response = {
      id: 'p1',
      amount: -12345678901234567n,
      raw: Uint8Array.of(0, 255),
      at: new Date(0),
      list: [1n],
    };
    expect(fromStoredJson(toStoredJson(response))).to.deep.equal(response);
  });
});
