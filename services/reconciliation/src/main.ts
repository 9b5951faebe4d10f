/**
 * Process entry of reconciliation. Environment: the platform's common
 * settings (DATABASE_URL, NATS_URL, GRPC_PORT, HTTP_PORT, auth,
 * ENDPOINTS_FILE, SERVICE_TOKEN_FILE) plus config.ts.
 */
import './telemetry';
import { runService } from '@paycore/platform';
import { reconciliationSpec } from './service';

runService(reconciliationSpec()).catch((err: unknown) => {
  process.stderr.write(`reconciliation failed to start: ${String(err)}\n`);
  process.exit(1);
});
