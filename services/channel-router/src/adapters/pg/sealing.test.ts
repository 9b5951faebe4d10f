/**
 * Proves credential sealing: a round trip opens, while another key, another
 * channel number (AAD) or one flipped byte does not; two seals of the same
 * text differ (fresh nonce); a key of the wrong length is refused.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { CredentialSealer } from './sealing';

describe('credential sealing', () => {
  const sealer = new CredentialSealer(randomBytes(32).toString('base64'));

  it('opens what it sealed, and nothing tampered with', () => {
    const sealed = sealer.seal('100001', '{"api_key":"secret"}');
    expect(sealer.open('100001', sealed)).to.equal('{"api_key":"secret"}');
    expect(sealer.open('200001', sealed), 'other channel number').to.equal(undefined);
    expect(new CredentialSealer(randomBytes(32).toString('base64')).open('100001', sealed)).to.equal(
      undefined,
    );
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
    expect(sealer.open('100001', flipped)).to.equal(undefined);
    expect(sealer.seal('100001', 'x').equals(sealer.seal('100001', 'x'))).to.equal(false);
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new CredentialSealer(randomBytes(16).toString('base64'))).to.throw(/32 bytes/);
  });
});
