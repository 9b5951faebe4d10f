/**
 * The keys a purchase claim gives account: one claim id, one key and one
 * contract id; different claim ids, different ones; and both within
 * account's bounds (128 and 64 printable characters) for the longest claim
 * id a request may carry (128). Pure.
 */
import { expect } from 'chai';
import { derivedContractId, purchaseRequestId } from './bank';

describe('purchase claim keys', () => {
  it('derive one key and one contract id per claim id, within account bounds', () => {
    const longest = 'r'.repeat(128);
    for (const id of ['c-1', longest]) {
      expect(purchaseRequestId(id))
        .to.equal(purchaseRequestId(id))
        .and.match(/^recon-claim-sv:[0-9a-f]{64}$/);
      expect(derivedContractId(id))
        .to.equal(derivedContractId(id))
        .and.match(/^recon-claim-[0-9a-f]{40}$/);
    }
    expect(purchaseRequestId(longest).length).to.be.at.most(128);
    expect(derivedContractId(longest).length).to.be.at.most(64);
    expect(purchaseRequestId('c-1')).to.not.equal(purchaseRequestId('c-2'));
    expect(derivedContractId('c-1')).to.not.equal(derivedContractId('c-2'));
  });
});
