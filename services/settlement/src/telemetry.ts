// Imported first by main.ts: telemetry starts before any driver loads, so it can patch them.
import { startTelemetry } from '@paycore/platform/telemetry';

startTelemetry({ serviceName: 'settlement' });
