/**
 * Process entry of the ledger service. Environment: the common settings
 * (packages/platform/src/config.ts) plus src/config.ts.
 */
import './telemetry';
import { runService } from '@paycore/platform';
import { ledgerSpec } from './service';

runService(ledgerSpec()).catch((err: unknown) => {
  process.stderr.write(`ledger failed to start: ${String(err)}\n`);
  process.exit(1);
});
