/**
 * Proves WeChat Pay v2 signing against the vector WeChat publishes in its
 * signing guide (MD5 and HMAC-SHA256 over the same five parameters and key),
 * that verification accepts exactly that sign and rejects any changed,
 * added or dropped parameter, a wrong key and a lowercase sign, and that
 * empty values and `sign` itself stay out of the signed string.
 */
import { expect } from 'chai';
import { wechatSign, wechatSignContent, wechatVerify } from './index';

const VECTOR = {
  appid: 'wxd930ea5d5a258f4f',
  mch_id: '10000100',
  device_info: '1000',
  body: 'test',
  nonce_str: 'ibuaiVcKdpRxkhJA',
};
const KEY = '192006250b4c09247ec02edce69f6a2d';

describe('wechat v2 signing', () => {
  it('matches the published MD5 and HMAC-SHA256 vector', () => {
    expect(wechatSignContent(VECTOR, KEY)).to.equal(
      'appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d',
    );
    expect(wechatSign(VECTOR, KEY, 'MD5')).to.equal('9A0A8659F005D6984697E2CA0A9CF3B7');
    expect(wechatSign(VECTOR, KEY, 'HMAC-SHA256')).to.equal(
      '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6',
    );
  });

  it('ignores empty values and an existing sign', () => {
    const withNoise = { ...VECTOR, attach: '', sign: 'WHATEVER' };
    expect(wechatSign(withNoise, KEY, 'MD5')).to.equal('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  for (const signType of ['MD5', 'HMAC-SHA256'] as const) {
    it(`${signType}: verifies the genuine sign and rejects every tampering`, () => {
      const signed = { ...VECTOR, sign: wechatSign(VECTOR, KEY, signType) };
      expect(wechatVerify(signed, KEY, signType)).to.equal(true);
      for (const key of Object.keys(VECTOR)) {
        expect(
          wechatVerify({ ...signed, [key]: `${signed[key as keyof typeof VECTOR]}x` }, KEY, signType),
          key,
        ).to.equal(false);
        const dropped = Object.fromEntries(Object.entries(signed).filter(([name]) => name !== key));
        expect(wechatVerify(dropped, KEY, signType), `dropped ${key}`).to.equal(false);
      }
      expect(wechatVerify({ ...signed, total_fee: '1' }, KEY, signType)).to.equal(false);
      expect(wechatVerify(signed, `${KEY.slice(0, -1)}e`, signType)).to.equal(false);
      expect(wechatVerify({ ...signed, sign: signed.sign.toLowerCase() }, KEY, signType)).to.equal(false);
      expect(wechatVerify(VECTOR, KEY, signType)).to.equal(false);
    });
  }

  it('does not accept an MD5 sign as HMAC-SHA256 or the reverse', () => {
    const md5 = { ...VECTOR, sign: wechatSign(VECTOR, KEY, 'MD5') };
    expect(wechatVerify(md5, KEY, 'HMAC-SHA256')).to.equal(false);
  });
});
