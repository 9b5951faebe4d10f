/**
 * Runs the account service as a real child process (main.ts through tsx) on a
 * given database, with a token minter for its callers; used by the crash test
 * and the benchmark.
 */
import { join } from 'node:path';
import { createClient } from '@paycore/platform';
import { AccountServiceClient } from '@paycore/proto/paycore/account/v1/account_service';
import {
  createTokenMinter,
  freePort,
  spawnNode,
  testPrefix,
  type ChildHandle,
  type TokenMinter,
} from '@paycore/testing';

export const MAIN_TS = join(__dirname, '..', 'src', 'main.ts');

export interface ServiceProcess {
  readonly child: ChildHandle;
  readonly address: string;
}

export async function startServiceProcess(
  databaseUrl: string,
  minter: TokenMinter,
  env: Readonly<Record<string, string>> = {},
  natsPrefix = testPrefix(),
): Promise<ServiceProcess> {
  const grpcPort = await freePort();
  const child = spawnNode(MAIN_TS, {
    name: 'account',
    env: {
      SERVICE_NAME: 'account',
      DATABASE_URL: databaseUrl,
      NATS_URL: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
      NATS_PREFIX: natsPrefix,
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: String(grpcPort),
      HTTP_PORT: String(await freePort()),
      AUTH_JWT_PUBLIC_KEY: minter.publicKeyPem,
      AUTH_JWT_ISSUER: minter.issuer,
      AUTH_JWT_AUDIENCE: minter.audience,
      LOG_LEVEL: 'info',
      OTEL_SDK_DISABLED: 'true',
      DATABASE_POOL_SIZE_MAX: '16',
      ...env,
    },
  });
  await child.waitForLine(/SERVING/, 60_000);
  return { child, address: `127.0.0.1:${grpcPort}` };
}

export async function clientFor(address: string, minter: TokenMinter): Promise<AccountServiceClient> {
  const token = await minter.mint({
    sub: 'account-test',
    scopes: ['account:read', 'account:write', 'account:admin'],
    expiresInSeconds: 3600,
  });
  return createClient(AccountServiceClient, {
    address,
    token: () => token,
    defaultDeadlineMs: 30_000,
    retry: { maxAttempts: 1, initialBackoffMs: 100, maxBackoffMs: 100 },
  });
}

export { createTokenMinter };
