/**
 * Currency and stored-value asset registry: code -> minor-unit scale.
 *
 * The scale says how many decimal digits the minor unit has (CNY 2: 1 yuan =
 * 100 fen; JPY 0; BHD 3). Money is always held in minor units; the scale is
 * only needed to parse and format decimal strings. ISO 4217 currencies are
 * built in; stored-value assets (coins, points) are registered by the service
 * that owns them at start-up, which is why the registry is mutable but only
 * ever grows, and a code can never change its scale once known.
 */
import { MoneyError, MoneyErrorReason } from './errors';

/** ISO 4217 minor units of the currencies paycore is expected to meet. */
const ISO_4217_SCALES: Readonly<Record<string, number>> = {
  AED: 2,
  AUD: 2,
  BHD: 3,
  CAD: 2,
  CHF: 2,
  CNY: 2,
  DKK: 2,
  EUR: 2,
  GBP: 2,
  HKD: 2,
  IDR: 2,
  INR: 2,
  JOD: 3,
  JPY: 0,
  KRW: 0,
  KWD: 3,
  MOP: 2,
  MYR: 2,
  NOK: 2,
  NZD: 2,
  OMR: 3,
  PHP: 2,
  SAR: 2,
  SEK: 2,
  SGD: 2,
  THB: 2,
  TWD: 2,
  USD: 2,
  VND: 0,
};

/**
 * int64 holds 19 digits; a scale above 18 would leave no whole unit at all.
 * Real currencies use at most 4.
 */
export const SCALE_MAX = 18;
/** Bounds the registry; a service registering thousands of assets is a bug. */
export const REGISTERED_ASSETS_MAX = 1_000;
/** Same shape as proto Money.currency: 3 to 12 upper-case characters. */
const ASSET_CODE_PATTERN = /^[A-Z][A-Z0-9_]{2,11}$/;

const scales = new Map<string, number>(Object.entries(ISO_4217_SCALES));
let registeredAssetCount = 0;

/** Registers a stored-value asset; registering the same code with the same scale again is a no-op. */
export function registerAsset(code: string, scale: number): void {
  if (!ASSET_CODE_PATTERN.test(code)) {
    throw new MoneyError(
      MoneyErrorReason.INVALID_ASSET,
      `asset code "${code}" must be 3 to 12 upper-case letters, digits or "_", starting with a letter`,
      'code',
    );
  }
  if (!Number.isSafeInteger(scale) || scale < 0 || scale > SCALE_MAX) {
    throw new MoneyError(
      MoneyErrorReason.INVALID_ASSET,
      `asset scale must be an integer 0..${SCALE_MAX}`,
      'scale',
    );
  }
  const known = scales.get(code);
  if (known !== undefined) {
    if (known === scale) return;
    // Changing a scale would silently reinterpret every stored amount.
    throw new MoneyError(
      MoneyErrorReason.INVALID_ASSET,
      `asset "${code}" is already known with scale ${known}, cannot re-register with scale ${scale}`,
      'code',
    );
  }
  if (registeredAssetCount >= REGISTERED_ASSETS_MAX) {
    throw new MoneyError(
      MoneyErrorReason.INVALID_ASSET,
      `at most ${REGISTERED_ASSETS_MAX} assets can be registered`,
    );
  }
  scales.set(code, scale);
  registeredAssetCount += 1;
}

export function isKnownCurrency(code: string): boolean {
  return scales.has(code);
}

/** The minor-unit scale of a currency or registered asset; throws UNKNOWN_CURRENCY otherwise. */
export function currencyScale(code: string, field = 'currency'): number {
  const scale = scales.get(code);
  if (scale === undefined) {
    throw new MoneyError(MoneyErrorReason.UNKNOWN_CURRENCY, `unknown currency or asset "${code}"`, field);
  }
  return scale;
}
