/**
 * Key material of the sandbox: the "Alipay" RSA pair (Alipay signs responses
 * and notifications with its private key), the merchant app's RSA pair (the
 * merchant signs requests; the sandbox verifies with the public half), the
 * WeChat API key and the bank payout key. Loaded from `SANDBOX_KEYS_DIR` when
 * the files exist there, generated (and written there, if a dir is given)
 * otherwise, so a demo keeps the same keys across restarts.
 *
 * The merchant's private key and the shared keys are handed out by
 * `GET /sandbox/keys`; that endpoint exists only in the sandbox, because
 * the sandbox plays both the channel and the merchant's key office.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RsaPair {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

export interface SandboxKeys {
  readonly alipay: RsaPair;
  readonly merchantApp: RsaPair;
  readonly wechatApiKey: string;
  readonly bankKey: string;
  /** Signs bill download tokens; never leaves the sandbox. */
  readonly urlSecret: string;
}

/** Fixed merchant identities of the sandbox; the keys are what changes per installation. */
export const MERCHANT = {
  alipayAppId: '2021000000000001',
  alipayPid: '2088000000000001',
  wechatAppId: 'wx0000000000000001',
  wechatMchId: '1900000109',
  bankMchId: 'PAYCORE0001',
} as const;

function rsaPair(): RsaPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

function generate(): SandboxKeys {
  return {
    alipay: rsaPair(),
    merchantApp: rsaPair(),
    // WeChat API keys are 32 characters; hex gives exactly that from 16 bytes.
    wechatApiKey: randomBytes(16).toString('hex'),
    bankKey: randomBytes(32).toString('hex'),
    urlSecret: randomBytes(32).toString('hex'),
  };
}

const FILES = {
  alipayPrivate: 'alipay_private.pem',
  alipayPublic: 'alipay_public.pem',
  merchantPrivate: 'merchant_app_private.pem',
  merchantPublic: 'merchant_app_public.pem',
  wechatApiKey: 'wechat_api_key.txt',
  bankKey: 'bank_key.txt',
  urlSecret: 'url_secret.txt',
} as const;

export function loadOrGenerateKeys(dir: string | undefined): SandboxKeys {
  if (dir === undefined) return generate();
  const paths = Object.fromEntries(
    Object.entries(FILES).map(([name, file]) => [name, join(dir, file)]),
  ) as Record<keyof typeof FILES, string>;
  if (Object.values(paths).every((path) => existsSync(path))) {
    const read = (path: string): string => readFileSync(path, 'utf8');
    return {
      alipay: { privateKeyPem: read(paths.alipayPrivate), publicKeyPem: read(paths.alipayPublic) },
      merchantApp: { privateKeyPem: read(paths.merchantPrivate), publicKeyPem: read(paths.merchantPublic) },
      wechatApiKey: read(paths.wechatApiKey).trim(),
      bankKey: read(paths.bankKey).trim(),
      urlSecret: read(paths.urlSecret).trim(),
    };
  }
  const keys = generate();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const write = (path: string, content: string): void => writeFileSync(path, content, { mode: 0o600 });
  write(paths.alipayPrivate, keys.alipay.privateKeyPem);
  write(paths.alipayPublic, keys.alipay.publicKeyPem);
  write(paths.merchantPrivate, keys.merchantApp.privateKeyPem);
  write(paths.merchantPublic, keys.merchantApp.publicKeyPem);
  write(paths.wechatApiKey, keys.wechatApiKey);
  write(paths.bankKey, keys.bankKey);
  write(paths.urlSecret, keys.urlSecret);
  return keys;
}
