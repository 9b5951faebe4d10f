/**
 * Process entry of the account service. Environment: the platform's common
 * settings (DATABASE_URL, NATS_URL, GRPC_PORT, auth) plus config.ts.
 */
import './telemetry';
import { runService } from '@paycore/platform';
import { accountSpec } from './service';

runService(accountSpec).catch((err: unknown) => {
  process.stderr.write(`account failed to start: ${String(err)}\n`);
  process.exit(1);
});
