/**
 * Process entry of channel-router. Environment: the platform's common
 * settings (DATABASE_URL, NATS_URL, GRPC_PORT, HTTP_PORT, auth) plus config.ts.
 */
import './telemetry';
import { runService } from '@paycore/platform';
import { channelRouterSpec } from './service';

runService(channelRouterSpec).catch((err: unknown) => {
  process.stderr.write(`channel-router failed to start: ${String(err)}\n`);
  process.exit(1);
});
