/**
 * Tests leave nothing behind on the shared NATS server: every prefix handed
 * out by testPrefix() is remembered, and the mocha root hook deletes the
 * streams of those prefixes when the run ends (services started by a test,
 * in-process or as child processes, create their streams under it).
 */
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

const prefixes = new Set<string>();

export function rememberTestPrefix(prefix: string): void {
  prefixes.add(prefix.toUpperCase());
}

/** Deletes the streams named `<PREFIX>_…` for every remembered prefix; returns how many. */
export async function deleteTestStreams(
  servers: string = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
): Promise<number> {
  if (prefixes.size === 0) return 0;
  const nc = await connect({ servers, timeout: 3_000, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    const doomed: string[] = [];
    for await (const info of jsm.streams.list()) {
      const name = info.config.name;
      for (const prefix of prefixes) if (name.startsWith(`${prefix}_`)) doomed.push(name);
    }
    for (const name of doomed) await jsm.streams.delete(name);
    prefixes.clear();
    return doomed.length;
  } finally {
    await nc.close();
  }
}
