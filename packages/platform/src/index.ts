/**
 * @paycore/platform — the service kit. Import `@paycore/platform/telemetry`
 * first in a service's main.ts (before this module), so instrumentation can
 * patch drivers as they load.
 */
export * from './config';
export * from './logger';
export * from './errors';
export * from './auth';
export * from './metrics';
export * from './http';
export * from './tls';
export * from './grpc/server';
export * from './grpc/client';
export * from './grpc/peers';
export * from './grpc/health';
export * from './db';
export * from './events';
export * from './service';
export * from './trace-continuation';
export * from './wakeup';
export * from './uow';
export * from './domain';
export * from './grpc/flow-fields';
export * from './span-file-exporter';
export * from './sql-metrics';
