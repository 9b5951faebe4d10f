/**
 * The infrastructure helpers used by the platform's hard tests, checked
 * against the real things:
 * - createTestDatabase makes a connectable database and drop() removes it
 *   even with a session still open;
 * - startNatsServer serves JetStream, and a stream survives stop + restart
 *   (same port, same store), while kill() is a SIGKILL;
 * - startTcpProxy forwards, cut() breaks and refuses, restore() accepts
 *   again, hold() withholds the server's answers until release();
 * - spawnNode runs TypeScript, captures stdout and stderr lines, passes env,
 *   reports the exit code; freePort returns a bindable port.
 */
import { expect } from 'chai';
import { createServer, connect as tcpConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createTestDatabase, testServerUrl } from '../src/database';
import { startNatsServer, testPrefix } from '../src/nats-server';
import { freePort, spawnNode } from '../src/process';
import { startTcpProxy } from '../src/tcp-proxy';

async function databaseExists(name: string): Promise<boolean> {
  const client = new Client({ connectionString: testServerUrl() });
  await client.connect();
  try {
    const result = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return result.rowCount === 1;
  } finally {
    await client.end();
  }
}

describe('testing helpers', function () {
  this.timeout(30_000);

  it('createTestDatabase creates a database that drop() removes despite an open session', async () => {
    const db = await createTestDatabase();
    expect(db.name).to.match(/^paycore_t_[0-9a-f]{12}$/);
    const client = new Client({ connectionString: db.url });
    client.on('error', () => undefined); // drop() terminates this session on purpose.
    await client.connect();
    expect((await client.query('SELECT current_database() AS name')).rows[0]).to.deep.equal({
      name: db.name,
    });
    await db.drop();
    expect(await databaseExists(db.name)).to.equal(false);
    await client.end().catch(() => undefined);
  });

  it('startNatsServer keeps JetStream data across stop and restart', async () => {
    const server = await startNatsServer();
    try {
      const stream = `${testPrefix()}_KEEP`;
      const nc = await connect({ servers: server.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`] });
      await jsm.jetstream().publish(`${stream.toLowerCase()}.x`, new TextEncoder().encode('kept'));
      await server.stop();
      await server.restart();
      // The client reconnects on its own; ask until it has.
      let messages: number | undefined;
      for (let attempt = 0; attempt < 50 && messages === undefined; attempt++) {
        messages = await jsm.streams.info(stream).then(
          (info) => info.state.messages,
          () => sleep(100).then(() => undefined),
        );
      }
      expect(messages).to.equal(1);
      await nc.close();
      await server.kill();
      await server.restart();
    } finally {
      await server.cleanup();
    }
  });

  describe('startTcpProxy', () => {
    let echo: ReturnType<typeof createServer>;
    let echoPort: number;
    before(async () => {
      echo = createServer((socket) => socket.pipe(socket));
      await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
      const address = echo.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      echoPort = address.port;
    });
    after(() => new Promise<void>((resolve) => echo.close(() => resolve())));

    const open = (port: number): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = tcpConnect({ host: '127.0.0.1', port }, () => resolve(socket));
        socket.once('error', reject);
      });
    const roundTrip = (socket: Socket, text: string, timeoutMs: number): Promise<string | undefined> =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs);
        socket.once('data', (chunk: Buffer) => {
          clearTimeout(timer);
          resolve(chunk.toString('utf8'));
        });
        socket.write(text);
      });

    it('forwards, cuts, restores, holds and releases', async () => {
      const proxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: echoPort });
      try {
        expect(proxy.urlFor('postgres://u@db.example:5432/x')).to.equal(
          `postgres://u@127.0.0.1:${proxy.port}/x`,
        );
        const first = await open(proxy.port);
        expect(await roundTrip(first, 'ping', 2_000)).to.equal('ping');

        const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
        first.on('error', () => undefined);
        proxy.cut();
        await closed;
        const refused = await open(proxy.port);
        const refusedClosed = await new Promise<boolean>((resolve) => {
          refused.once('close', () => resolve(true));
          refused.on('error', () => undefined);
          setTimeout(() => resolve(false), 2_000);
        });
        expect(refusedClosed, 'a new connection is closed while cut').to.equal(true);

        proxy.restore();
        const second = await open(proxy.port);
        expect(await roundTrip(second, 'again', 2_000)).to.equal('again');

        proxy.hold();
        expect(await roundTrip(second, 'held', 300), 'no answer while held').to.equal(undefined);
        const released = new Promise<string>((resolve) =>
          second.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8'))),
        );
        proxy.release();
        expect(await released).to.equal('held');
        second.destroy();
      } finally {
        await proxy.close();
      }
    });
  });

  it('spawnNode captures lines, passes env and reports the exit code', async () => {
    const child = spawnNode(join(__dirname, 'fixtures', 'echo-child.ts'), {
      name: 'echo',
      env: { ECHO_MARKER: 'm42' },
    });
    expect(await child.waitForLine(/^child up/, 15_000)).to.equal('child up m42');
    await child.waitForLine(/stderr/, 5_000);
    await child.waitForLine(/tick/, 5_000);
    child.kill('SIGTERM');
    expect(await child.exited).to.equal(7);
    expect(child.lines).to.include('child stopping');
    await child.waitForLine(/never printed/, 1_000).then(
      () => expect.fail('should not find'),
      (error: unknown) => expect((error as Error).message).to.contain('never printed'),
    );
  });

  it('freePort returns a port that can be bound', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await sleep(0);
  });
});
