/**
 * Process entry of the settlement service. Environment: the common settings
 * (packages/platform/src/config.ts) plus src/config.ts.
 */
import './telemetry';
import { runService } from '@paycore/platform';
import { settlementSpec } from './service';

runService(settlementSpec()).catch((err: unknown) => {
  process.stderr.write(`settlement failed to start: ${String(err)}\n`);
  process.exit(1);
});
