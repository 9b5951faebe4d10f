/**
 * What a command gets: the resolved settings, a client whose token carries
 * only the scopes the command's RPCs declare (from the generated RPC
 * catalogue), and a printer for the chosen output format.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  createPaycoreClient,
  loadEndpointsFile,
  mintedToken,
  RPCS,
  staticToken,
  tokenFile,
  type PaycoreClient,
  type TokenProvider,
} from '@paycore/client';
import { render, type Result } from './output';
import { SettingsError, type Settings } from './settings';

export interface Runtime {
  readonly settings: Settings;
  /** A client whose token grants exactly the scopes of `rpcs` (full method paths or `Service/Rpc`). */
  client(rpcs: readonly string[]): PaycoreClient;
  print(result: Result): void;
  /** The scopes `rpcs` need, from the protos. */
  scopesFor(rpcs: readonly string[]): string[];
}

const PEM_BYTES_MAX = 16 * 1024;

export function scopesFor(rpcs: readonly string[]): string[] {
  const scopes = new Set<string>();
  for (const rpc of rpcs) {
    const info =
      RPCS[rpc] ?? Object.values(RPCS).find((r) => r.path.endsWith(`.${rpc}`) || r.path.endsWith(`/${rpc}`));
    if (info === undefined || info.scope === '') throw new Error(`no scope known for RPC ${rpc}`);
    scopes.add(info.scope);
  }
  return [...scopes].sort();
}

function tokenProvider(settings: Settings, scopes: readonly string[]): TokenProvider | undefined {
  const source = settings.tokenSource;
  const mint = (privateKeyFile: string): TokenProvider => {
    const pem = readFileSync(privateKeyFile, 'utf8');
    if (pem.length > PEM_BYTES_MAX)
      throw new SettingsError(`${privateKeyFile} is too large for a private key`);
    return mintedToken({
      privateKeyPem: pem,
      scopes,
      issuer: settings.issuer,
      audience: settings.audience,
      subject: settings.subject,
      lifetimeSeconds: 300,
    });
  };
  if (source?.kind === 'static') return staticToken(source.token);
  if (source?.kind === 'file') return tokenFile(source.file);
  if (source?.kind === 'mint') return mint(source.privateKeyFile);
  const devKey = path.join(settings.runDir, 'jwt', 'private.pem');
  if (existsSync(devKey)) return mint(devKey);
  const devToken = path.join(settings.runDir, 'dev-token');
  if (existsSync(devToken)) return tokenFile(devToken);
  return undefined;
}

export function createRuntime(
  settings: Settings,
  write: (text: string) => void,
): Runtime & { closeAll(): void } {
  const clients: PaycoreClient[] = [];
  const runtime: Runtime & { closeAll(): void } = {
    settings,
    scopesFor,
    client(rpcs) {
      const endpoints = {
        ...(existsSync(settings.endpointsFile) ? loadEndpointsFile(settings.endpointsFile) : {}),
        ...settings.addresses,
      };
      if (Object.keys(endpoints).length === 0) {
        throw new SettingsError(
          `no service addresses: ${settings.endpointsFile} does not exist (run \`make up\`, or set --address / PAYCORE_ADDRESS_<SERVICE> / [profile.${settings.profile}.address])`,
        );
      }
      const token = tokenProvider(settings, scopesFor(rpcs));
      const client = createPaycoreClient({
        endpoints,
        defaultDeadlineMs: settings.deadlineMs,
        ...(token ? { token } : {}),
      });
      clients.push(client);
      return client;
    },
    print(result) {
      write(render(result, settings.output));
    },
    closeAll() {
      for (const client of clients) client.close();
    },
  };
  return runtime;
}
