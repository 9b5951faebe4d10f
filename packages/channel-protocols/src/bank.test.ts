/**
 * Proves the bank payout envelope: seal → parse → verify round-trips; a change
 * to any signed field (mch_id, timestamp, nonce, body) or the wrong key fails
 * verification; malformed envelopes are refused by the parser with
 * INVALID_ENVELOPE.
 */
import { expect } from 'chai';
import { bankPayload, bankSeal, bankVerify, parseBankEnvelope, ProtocolError } from './index';

const KEY = 'k'.repeat(32);

describe('bank payout envelope', () => {
  const sealed = bankSeal(
    { out_payout_no: 'P1', amount: '12345', currency: 'CNY' },
    { mchId: 'M1', key: KEY, timestampMs: 1_700_000_000_000, nonce: 'n-1' },
  );

  it('round-trips through JSON text', () => {
    const parsed = parseBankEnvelope(JSON.stringify(sealed));
    expect(bankVerify(parsed, KEY)).to.equal(true);
    expect(bankPayload(parsed)).to.deep.equal({ out_payout_no: 'P1', amount: '12345', currency: 'CNY' });
  });

  it('rejects any changed signed field and a wrong key', () => {
    for (const field of ['mch_id', 'timestamp', 'nonce', 'body'] as const) {
      const changed = { ...sealed, [field]: field === 'timestamp' ? '1700000000001' : `${sealed[field]} ` };
      expect(bankVerify(changed, KEY), field).to.equal(false);
    }
    expect(bankVerify(sealed, `${KEY}x`)).to.equal(false);
    expect(bankVerify({ ...sealed, sign: sealed.sign.toUpperCase() }, KEY)).to.equal(false);
  });

  it('refuses malformed envelopes', () => {
    for (const bad of [
      '',
      '[]',
      '{}',
      JSON.stringify({ ...sealed, sign_type: 'MD5' }),
      JSON.stringify({ ...sealed, timestamp: 'x' }),
    ]) {
      expect(() => parseBankEnvelope(bad), bad).to.throw(ProtocolError);
    }
  });
});
