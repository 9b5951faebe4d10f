/** Optional TLS for the gRPC server: both files set, or neither. */
import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';

export function readTlsCredentials(config: {
  readonly GRPC_TLS_CERT_FILE: string | undefined;
  readonly GRPC_TLS_KEY_FILE: string | undefined;
}): ServerCredentials | undefined {
  const { GRPC_TLS_CERT_FILE: cert, GRPC_TLS_KEY_FILE: key } = config;
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new Error('configuration: GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE: set both or neither');
  }
  return ServerCredentials.createSsl(
    null,
    [{ cert_chain: readFileSync(cert), private_key: readFileSync(key) }],
    false,
  );
}
