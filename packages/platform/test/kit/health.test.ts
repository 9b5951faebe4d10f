/**
 * Proves that grpc.health.v1 reports the real state of dependencies: the echo
 * fixture reaches Postgres through a TCP proxy the test controls. While the
 * proxy refuses connections the service answers NOT_SERVING (before start-up
 * completes, and again later while Postgres is "unreachable"); once the
 * proxy passes traffic it answers SERVING. The real Postgres is never touched.
 */
import { expect } from 'chai';
import { credentials } from '@grpc/grpc-js';
import { HealthClient, HealthCheckResponse_ServingStatus as S } from '@paycore/proto/grpc/health/v1/health';
import { startTcpProxy, type TcpProxy } from '@paycore/testing';
import { unary } from '../../src';
import { startEchoHarness, type Harness } from './harness';

async function status(client: HealthClient): Promise<S> {
  const res = await unary(client.check.bind(client), { service: '' }, { deadlineMs: 2000 });
  return res.status;
}

async function waitForStatus(client: HealthClient, want: S, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: S | undefined;
  while (Date.now() < deadline) {
    last = await status(client);
    if (last === want) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`health stayed ${String(last)} instead of ${want}`);
}

describe('platform kit: health follows the dependencies', function () {
  this.timeout(90_000);
  let proxy: TcpProxy;
  let h: Harness;
  let health: HealthClient;

  before(async () => {
    proxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: 5432 });
    proxy.cut();
  });
  after(async () => {
    health.close();
    proxy.restore();
    await h.close();
    await proxy.close();
  });

  it('is NOT_SERVING before Postgres is reachable, SERVING after, NOT_SERVING while it is cut off', async () => {
    h = await startEchoHarness({ waitReady: false, pgProxyPort: proxy.port });
    health = new HealthClient(h.address, credentials.createInsecure());

    // Start-up is stuck waiting for Postgres: the server answers, honestly.
    expect(await status(health)).to.equal(S.NOT_SERVING);
    await new Promise((r) => setTimeout(r, 600));
    expect(await status(health)).to.equal(S.NOT_SERVING);

    proxy.restore();
    await h.service.ready;
    await waitForStatus(health, S.SERVING);

    proxy.cut();
    await waitForStatus(health, S.NOT_SERVING);

    proxy.restore();
    await waitForStatus(health, S.SERVING);
  });
});
