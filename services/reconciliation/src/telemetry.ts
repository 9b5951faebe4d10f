// Imported first by main.ts: telemetry starts before any driver loads, so pg and gRPC are instrumented.
import { startTelemetry } from '@paycore/platform/telemetry';

startTelemetry({ serviceName: 'reconciliation' });
