/**
 * Form-encoded bodies (`application/x-www-form-urlencoded`), the transport of
 * Alipay requests and notifications. Parsing is strict: a repeated key is an
 * error rather than "last one wins", because a signer and a reader that pick
 * different duplicates is a classic signature bypass.
 */
import { definedParams, type ChannelParams } from './canonical';
import { ProtocolError, ProtocolErrorReason } from './errors';

export const FORM_FIELDS_MAX = 256;

export function toForm(params: ChannelParams): string {
  return new URLSearchParams(definedParams(params)).toString();
}

export function parseForm(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let count = 0;
  for (const [key, value] of new URLSearchParams(text)) {
    count += 1;
    if (count > FORM_FIELDS_MAX) {
      throw new ProtocolError(ProtocolErrorReason.INVALID_FORM, `more than ${FORM_FIELDS_MAX} form fields`);
    }
    if (Object.prototype.hasOwnProperty.call(out, key)) {
      throw new ProtocolError(ProtocolErrorReason.INVALID_FORM, `form field "${key}" appears twice`);
    }
    out[key] = value;
  }
  return out;
}
