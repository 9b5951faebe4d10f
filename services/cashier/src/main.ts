/**
 * Process entry of the cashier. Environment: the platform's common settings
 * (DATABASE_URL, NATS_URL, GRPC_PORT, HTTP_PORT, auth, ENDPOINTS_FILE,
 * SERVICE_TOKEN_FILE) plus config.ts.
 */
import './telemetry';
import { runService } from '@paycore/platform';
import { cashierSpec } from './service';

runService(cashierSpec).catch((err: unknown) => {
  process.stderr.write(`cashier failed to start: ${String(err)}\n`);
  process.exit(1);
});
