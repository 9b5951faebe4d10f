/**
 * An offline stored-value purchase paid by a bank claim (ADR 0054): what the
 * operator describes (owner, asset, quantities, dates, type, contract id),
 * checked here with account Purchase's own rules so that a malformed
 * description is refused before anything of the line is claimed. Pure.
 */
import { invalidField } from './errors';

export interface ClaimPurchase {
  readonly ownerId: string;
  readonly asset: string;
  readonly quantity: bigint;
  readonly promotionalQuantity: bigint;
  readonly consumptionType: string;
  readonly effectiveAt: Date | undefined;
  readonly expiresAt: Date | undefined;
  /** Empty: derived from the claim's request id by the use case. */
  readonly contractId: string;
}

/** account Purchase's patterns (services/account stored-value), repeated: no imports across services. */
const OWNER_PATTERN = /^[\x21-\x7e]{1,64}$/;
const CONTRACT_PATTERN = /^[\x21-\x7e]{1,64}$/;
const ASSET_PATTERN = /^[A-Z][A-Z0-9_]{2,11}$/;
const TYPE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** int64 bound of the proto fields. */
const QUANTITY_MAX = 2n ** 63n - 1n;

/** Refuses, naming the request's field (`purchase.asset`), any description account would refuse by its form. */
export function checkClaimPurchase(purchase: ClaimPurchase, now: Date): void {
  if (!OWNER_PATTERN.test(purchase.ownerId))
    throw invalidField('purchase.owner_id', '1 to 64 printable ASCII characters');
  if (!ASSET_PATTERN.test(purchase.asset))
    throw invalidField('purchase.asset', 'an asset code: 3 to 12 upper-case letters, digits or _');
  if (purchase.quantity <= 0n || purchase.quantity > QUANTITY_MAX)
    throw invalidField('purchase.quantity', 'must be positive');
  if (purchase.promotionalQuantity < 0n || purchase.promotionalQuantity > QUANTITY_MAX)
    throw invalidField('purchase.promotional_quantity', 'must not be negative');
  if (purchase.consumptionType !== '' && !TYPE_PATTERN.test(purchase.consumptionType))
    throw invalidField('purchase.consumption_type', '1 to 64 of A-Z a-z 0-9 _ . -');
  if (purchase.contractId !== '' && !CONTRACT_PATTERN.test(purchase.contractId))
    throw invalidField('purchase.contract_id', '1 to 64 printable ASCII characters');
  if (purchase.expiresAt === undefined) throw invalidField('purchase.expire_time', 'required');
  const from = purchase.effectiveAt ?? now;
  if (purchase.expiresAt.getTime() <= from.getTime())
    throw invalidField('purchase.expire_time', 'must be after the effective time');
}

/**
 * The purchase under the request's (proto) field names, for the claim's
 * idempotency payload: the same claim again must describe the same purchase.
 */
export function claimPurchasePayload(purchase: ClaimPurchase): Record<string, unknown> {
  return {
    ownerId: purchase.ownerId,
    asset: purchase.asset,
    quantity: purchase.quantity,
    promotionalQuantity: purchase.promotionalQuantity,
    consumptionType: purchase.consumptionType,
    effectiveTime: purchase.effectiveAt?.toISOString() ?? '',
    expireTime: purchase.expiresAt?.toISOString() ?? '',
    contractId: purchase.contractId,
  };
}
