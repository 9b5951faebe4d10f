/** @paycore/testing — helpers for tests against real Postgres, NATS and processes. */
export * from './tokens';
export * from './spans';
export * from './database';
export * from './nats-server';
export * from './tcp-proxy';
export * from './process';
export * from './nats-cleanup';
export * from './random';
