// Imported first by main.ts: telemetry starts before any driver loads, so pg, gRPC and HTTP are instrumented.
import { startTelemetry } from '@paycore/platform/telemetry';

startTelemetry({ serviceName: 'channel-router' });
