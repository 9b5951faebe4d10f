/**
 * Mocha root hooks for every paycore test run (loaded by the Makefile's
 * mocha command with --require): after the last test, delete the NATS
 * streams the run created on the shared server.
 */
import { deleteTestStreams } from './nats-cleanup';

export const mochaHooks = {
  async afterAll(): Promise<void> {
    try {
      await deleteTestStreams();
    } catch (err) {
      // No NATS reachable means nothing to clean; say so rather than fail the run.
      process.stderr.write(`test stream cleanup skipped: ${String(err)}\n`);
    }
  },
};
