/**
 * `createPaycoreClient`: one object with a typed promise client per paycore
 * service (`paycore.cashier.pay(...)`), all sharing the token provider,
 * deadlines, retry policy and propagation hooks, plus `health(endpoint)`.
 *
 * Channels are opened lazily, one per endpoint, and closed by `close()`.
 */
import { readFileSync } from 'node:fs';
import { Client, credentials as grpcCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus, HealthService } from '@paycore/proto/grpc/health/v1/health';
import { bindService, type CallSettings, type ServiceClient } from './call';
import { SERVICES, type ServiceName } from './services';
import { bindUploadStatement, type UploadStatement } from './upload';

export type Endpoints = Readonly<Record<string, string>>;
export type HealthState = keyof typeof HealthCheckResponse_ServingStatus;

export interface PaycoreClientOptions extends CallSettings {
  /** gRPC address per endpoint name (`cashier`, `channel-router`, ...), e.g. from `.run/endpoints.json`. */
  readonly endpoints: Endpoints;
  /** TLS credentials; plaintext when omitted (local platform). */
  readonly credentials?: ChannelCredentials;
}

export type PaycoreClient = {
  readonly [K in Exclude<ServiceName, 'reconciliation'>]: ServiceClient<(typeof SERVICES)[K]['definition']>;
} & {
  /** Reconciliation's unary RPCs, plus the client-streaming UploadStatement behind one promise (./upload). */
  readonly reconciliation: ServiceClient<(typeof SERVICES)['reconciliation']['definition']> & {
    readonly uploadStatement: UploadStatement;
  };

  /** grpc.health.v1 Check of one endpoint: `SERVING`, `NOT_SERVING`, ... */
  health(endpoint: string, options?: { deadlineMs?: number }): Promise<HealthState>;
  /** The endpoint names and addresses this client was given. */
  readonly endpoints: Endpoints;
  close(): void;
};

const ENDPOINTS_MAX = 100;
const ENDPOINTS_FILE_BYTES_MAX = 64 * 1024;
/**
 * `host:port`, or a gRPC target naming several replicas
 * (`ipv4:10.0.0.1:50054,10.0.0.2:50054`), which the channel balances over.
 */
const ADDRESS_PATTERN = /^(?:ipv[46]:)?[A-Za-z0-9.\-_[\]:]+:[0-9]{1,5}(?:,[A-Za-z0-9.\-_[\]:]+:[0-9]{1,5})*$/;

/** Reads an endpoints file (`{"cashier": "127.0.0.1:50054", ...}`), as `make up` writes `.run/endpoints.json`. */
export function loadEndpointsFile(file: string): Endpoints {
  const text = readFileSync(file, 'utf8');
  if (text.length > ENDPOINTS_FILE_BYTES_MAX)
    throw new Error(`${file} is larger than ${ENDPOINTS_FILE_BYTES_MAX} bytes`);
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file}: expected {"name": "host:port", ...}`);
  }
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length > ENDPOINTS_MAX) throw new Error(`${file}: more than ${ENDPOINTS_MAX} endpoints`);
  const endpoints: Record<string, string> = {};
  for (const [name, address] of entries) {
    if (typeof address !== 'string' || !ADDRESS_PATTERN.test(address)) {
      throw new Error(`${file}: endpoint ${name} must be "host:port" or "ipv4:host:port,host:port"`);
    }
    endpoints[name] = address;
  }
  return endpoints;
}

export function createPaycoreClient(options: PaycoreClientOptions): PaycoreClient {
  const credentials = options.credentials ?? grpcCredentials.createInsecure();
  const channels = new Map<string, Client>();
  const channelFor = (endpoint: string) => (): Client => {
    const existing = channels.get(endpoint);
    if (existing) return existing;
    const address = options.endpoints[endpoint];
    if (address === undefined) {
      throw new Error(
        `no address for paycore endpoint "${endpoint}" (known: ${Object.keys(options.endpoints).join(', ')})`,
      );
    }
    const created = new Client(address, credentials, { 'grpc.keepalive_time_ms': 60_000 });
    channels.set(endpoint, created);
    return created;
  };
  const services: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(SERVICES)) {
    const alsoIdempotent: readonly string[] = 'alsoIdempotent' in entry ? entry.alsoIdempotent : [];
    services[name] = bindService(entry.definition, channelFor(entry.endpoint), {
      ...options,
      alsoIdempotent: [...(options.alsoIdempotent ?? []), ...alsoIdempotent],
    });
  }
  const { reconciliation } = SERVICES;
  services['reconciliation'] = {
    ...(services['reconciliation'] as object),
    uploadStatement: bindUploadStatement(channelFor(reconciliation.endpoint), options),
  };
  const healthClients = new Map<string, ServiceClient<typeof HealthService>>();
  return {
    ...(services as Omit<PaycoreClient, 'health' | 'endpoints' | 'close'>),
    endpoints: options.endpoints,
    async health(endpoint, healthOptions = {}) {
      let health = healthClients.get(endpoint);
      if (!health) {
        // Health needs no token; the shared settings still give it a deadline and retries.
        const { token: _token, ...withoutToken } = options;
        health = bindService(HealthService, channelFor(endpoint), withoutToken);
        healthClients.set(endpoint, health);
      }
      const response = await health.check(
        { service: '' },
        healthOptions.deadlineMs === undefined ? {} : { deadlineMs: healthOptions.deadlineMs },
      );
      const state = HealthCheckResponse_ServingStatus[response.status] as HealthState | undefined;
      return state ?? 'UNKNOWN';
    },
    close() {
      for (const channel of channels.values()) channel.close();
      channels.clear();
    },
  };
}
