/**
 * Channel credentials as the adapters need them, read from the admin's
 * key/value map (SetChannelCredentials) and checked per protocol. They are
 * secrets: they live encrypted at rest and only in memory otherwise, and no
 * type here has a toString or is ever passed to a logger.
 */
import type { WechatSignType } from '@paycore/channel-protocols';
import { InvalidCredentialsError } from './errors';
import type { ChannelProtocol } from './model';

export type ChannelCredentials =
  | {
      readonly protocol: 'ALIPAY';
      readonly appId: string;
      readonly merchantPrivateKey: string;
      readonly alipayPublicKey: string;
    }
  | {
      readonly protocol: 'WECHAT';
      readonly appId: string;
      readonly mchId: string;
      readonly apiKey: string;
      readonly signType: WechatSignType;
    }
  | { readonly protocol: 'BANK'; readonly mchId: string; readonly key: string };

export const CREDENTIAL_FIELDS_MAX = 16;
export const CREDENTIAL_VALUE_CHARS_MAX = 16 * 1024;

function field(map: Readonly<Record<string, string>>, name: string): string {
  const value = map[name];
  if (value === undefined || value.trim() === '') {
    throw new InvalidCredentialsError(`credential "${name}" is required`, `credentials.${name}`);
  }
  return value;
}

export function parseCredentials(
  protocol: ChannelProtocol,
  map: Readonly<Record<string, string>>,
): ChannelCredentials {
  const names = Object.keys(map);
  if (names.length > CREDENTIAL_FIELDS_MAX)
    throw new InvalidCredentialsError(`at most ${CREDENTIAL_FIELDS_MAX} fields`);
  for (const name of names) {
    if ((map[name] ?? '').length > CREDENTIAL_VALUE_CHARS_MAX) {
      throw new InvalidCredentialsError(`credential "${name}" is too long`, `credentials.${name}`);
    }
  }
  switch (protocol) {
    case 'ALIPAY':
      return {
        protocol,
        appId: field(map, 'app_id'),
        merchantPrivateKey: field(map, 'merchant_private_key'),
        alipayPublicKey: field(map, 'alipay_public_key'),
      };
    case 'WECHAT': {
      const signType = map.sign_type ?? 'MD5';
      if (signType !== 'MD5' && signType !== 'HMAC-SHA256') {
        throw new InvalidCredentialsError('sign_type must be MD5 or HMAC-SHA256', 'credentials.sign_type');
      }
      return {
        protocol,
        appId: field(map, 'appid'),
        mchId: field(map, 'mch_id'),
        apiKey: field(map, 'api_key'),
        signType,
      };
    }
    case 'BANK':
      return { protocol, mchId: field(map, 'mch_id'), key: field(map, 'key') };
  }
}
