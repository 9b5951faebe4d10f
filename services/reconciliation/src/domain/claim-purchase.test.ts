/**
 * The form check of a claim's stored-value purchase: every field account
 * Purchase would refuse by its form is refused here first, naming the
 * request's field, and a description account accepts passes. Pure; the
 * boundaries (asset code length, quantity 0 and 1, expiry equal to and one
 * millisecond after the effective time) are tried one at a time. And the
 * life of a claim, over every pair of states: PENDING moves to POSTED or
 * REFUSED, and nothing leaves those.
 */
import { expect } from 'chai';
import { checkClaimPurchase, claimPurchasePayload, type ClaimPurchase } from './claim-purchase';
import { ReconError } from './errors';
import { BANK_CLAIM_STATES, BANK_CLAIM_TRANSITIONS } from './states';
import { canTransition } from '@paycore/platform/domain';

const NOW = new Date('2026-12-02T00:00:00Z');
const GOOD: ClaimPurchase = {
  ownerId: 'member-7',
  asset: 'ADCOIN',
  quantity: 1n,
  promotionalQuantity: 0n,
  consumptionType: '',
  effectiveAt: undefined,
  expiresAt: new Date(NOW.getTime() + 1),
  contractId: '',
};

function refusedField(purchase: ClaimPurchase): string | undefined {
  try {
    checkClaimPurchase(purchase, NOW);
    return undefined;
  } catch (err) {
    if (!(err instanceof ReconError) || err.reason !== 'INVALID_FIELD') throw err;
    return err.field;
  }
}

describe('checkClaimPurchase', () => {
  it('accepts what account accepts, at the boundaries', () => {
    const accepted: Partial<ClaimPurchase>[] = [
      {},
      { asset: 'ABC' },
      { asset: 'A23456789_AB' },
      { promotionalQuantity: 5n, consumptionType: 'search.cpc' },
      { contractId: 'K'.repeat(64) },
      { effectiveAt: new Date(NOW.getTime() + 10), expiresAt: new Date(NOW.getTime() + 11) },
    ];
    for (const [index, change] of accepted.entries())
      expect(refusedField({ ...GOOD, ...change }), `accepted case ${index}`).to.equal(undefined);
  });

  it('refuses each malformed field by its request name', () => {
    const refused: [Partial<ClaimPurchase>, string][] = [
      [{ ownerId: '' }, 'purchase.owner_id'],
      [{ ownerId: 'm'.repeat(65) }, 'purchase.owner_id'],
      [{ asset: 'AB' }, 'purchase.asset'],
      [{ asset: 'adcoin' }, 'purchase.asset'],
      [{ asset: '1COIN' }, 'purchase.asset'],
      [{ asset: 'A23456789_ABC' }, 'purchase.asset'],
      [{ quantity: 0n }, 'purchase.quantity'],
      [{ quantity: -1n }, 'purchase.quantity'],
      [{ promotionalQuantity: -1n }, 'purchase.promotional_quantity'],
      [{ consumptionType: 'has space' }, 'purchase.consumption_type'],
      [{ contractId: 'K'.repeat(65) }, 'purchase.contract_id'],
      [{ expiresAt: undefined }, 'purchase.expire_time'],
      [{ expiresAt: NOW }, 'purchase.expire_time'],
      [
        { effectiveAt: new Date(NOW.getTime() + 10), expiresAt: new Date(NOW.getTime() + 10) },
        'purchase.expire_time',
      ],
    ];
    for (const [change, field] of refused)
      expect(refusedField({ ...GOOD, ...change }), field).to.equal(field);
  });

  it('puts the purchase in the idempotency payload under its proto names, times as ISO text', () => {
    expect(claimPurchasePayload({ ...GOOD, effectiveAt: NOW })).to.deep.equal({
      ownerId: 'member-7',
      asset: 'ADCOIN',
      quantity: 1n,
      promotionalQuantity: 0n,
      consumptionType: '',
      effectiveTime: '2026-12-02T00:00:00.000Z',
      expireTime: '2026-12-02T00:00:00.001Z',
      contractId: '',
    });
  });

  it('a claim moves PENDING → POSTED or REFUSED and nowhere else, over every pair of states', () => {
    const allowed = new Set(['PENDING>POSTED', 'PENDING>REFUSED']);
    for (const from of BANK_CLAIM_STATES)
      for (const to of BANK_CLAIM_STATES)
        expect(canTransition(BANK_CLAIM_TRANSITIONS, from, to), `${from} → ${to}`).to.equal(
          allowed.has(`${from}>${to}`),
        );
  });
});
