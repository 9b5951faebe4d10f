/**
 * Wake-ups instead of polling, against a real Postgres and a NATS server of
 * the test's own:
 * - an event leaves as soon as its transaction commits although the relay's
 *   backstop poll is a minute (the in-process signal after COMMIT woke it),
 *   and the relay never waited for the backstop to do so;
 * - a transaction that rolls back wakes nobody; one that signals a channel
 *   5 000 times queues one callback (not the runner's 1 000-callback bound)
 *   and wakes it once committed;
 * - an idle relay costs one statement per backstop interval (counted at the
 *   driver), and no transaction;
 * - across processes: a NOTIFY from another session wakes a waiter; a burst
 *   of 200 local signals reaches peers as at most two NOTIFYs; after its
 *   LISTEN connection is killed the hub reconnects, wakes every waiter once
 *   and receives peers' NOTIFYs again;
 * - the platform query runner opens a transaction with one statement and
 *   the isolation level holds (SHOW transaction_isolation inside); a unit of
 *   work that publishes one event costs three statements (START, INSERT,
 *   COMMIT) and wakes the relay's channel only after its COMMIT.
 */
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import {
  createTestDatabase,
  startNatsServer,
  testPrefix,
  type NatsServerHandle,
  type TestDatabase,
} from '@paycore/testing';
import { createDataSource, dbStatementsSent, inTransaction, runMigrations } from '../../src/db';
import {
  connectNats,
  ensureStream,
  EventNaming,
  OutboxRelay,
  outboxWakeupChannel,
  writeOutbox,
  type NatsHandles,
} from '../../src/events';
import { PgWakeups, signalAfterCommit, signalWakeup, wakeupChannel, Wakeup } from '../../src/wakeup';
import { createUnitOfWork } from '../../src/uow';
import { countRows, until } from './helpers';

const SCHEMA = 'wakeup_test';

describe('wake-ups instead of polling', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let natsServer: NatsServerHandle;
  let dataSource: DataSource;
  let nats: NatsHandles;
  let peer: Client;

  before(async () => {
    database = await createTestDatabase();
    natsServer = await startNatsServer();
    dataSource = createDataSource({
      url: database.url,
      schema: SCHEMA,
      applicationName: 'wakeup-test',
      poolSizeMax: 4,
    });
    await dataSource.initialize();
    await runMigrations(dataSource, { schema: SCHEMA });
    nats = await connectNats({ servers: natsServer.url, name: 'wakeup-test', reconnectTimeWaitMs: 100 });
    peer = new Client({ connectionString: database.url });
    await peer.connect();
  });
  after(async () => {
    await peer?.end();
    await nats?.nc.close();
    await dataSource?.destroy();
    await natsServer?.cleanup();
    await database?.drop();
  });

  it('relays an event as soon as its transaction commits, with a one-minute backstop poll', async () => {
    const naming = new EventNaming(testPrefix());
    const subject = naming.subject('wakeuptest', 'thing_happened');
    await ensureStream(nats.jsm, {
      name: naming.stream('wakeuptest'),
      subjects: [naming.contextSubjects('wakeuptest')],
    });
    const relay = new OutboxRelay({ dataSource, schema: SCHEMA, js: nats.js, pollIntervalMs: 60_000 });
    relay.start();
    try {
      await until('the relay ran its first batch', () => relay.stats().batches >= 1, 10_000);
      await sleep(200);
      const writtenAtMs = Date.now();
      await inTransaction(dataSource, (manager) =>
        writeOutbox(manager, { subject, payload: new TextEncoder().encode('wake') }),
      );
      await until(
        'the event is published',
        async () =>
          (await countRows(dataSource, 'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')) === 0,
        10_000,
        10,
      );
      const latencyMs = Date.now() - writtenAtMs;
      expect(latencyMs, 'published long before the backstop').to.be.lessThan(5_000);
      expect(relay.stats().published).to.equal(1);
      expect(relay.stats().wakeSignals).to.be.greaterThanOrEqual(1);
      expect(relay.stats().wakeBackstops).to.equal(0);
    } finally {
      await relay.stop();
    }
  });

  it('wakes nobody when the transaction rolls back', async () => {
    const channel = wakeupChannel(SCHEMA, 'rollback_probe');
    const waiter = new Wakeup(channel, { backstopIntervalMs: 400 });
    try {
      await inTransaction(dataSource, (manager) => {
        signalAfterCommit(manager, channel);
        return Promise.reject(new Error('roll back'));
      }).catch(() => undefined);
      expect(await waiter.wait()).to.equal('backstop');
      await inTransaction(dataSource, (manager) => {
        signalAfterCommit(manager, channel);
        return Promise.resolve();
      });
      expect(await waiter.wait(), 'a committed transaction wakes it').to.equal('signal');
    } finally {
      waiter.close();
    }
  });

  it('signals of one channel in one transaction are queued once: 5 000 of them commit and wake once', async () => {
    const channel = wakeupChannel(SCHEMA, 'many_probe');
    const waiter = new Wakeup(channel, { backstopIntervalMs: 60_000 });
    try {
      // More than the runner's bound on after-commit callbacks (1 000), as a day with thousands of differences publishes.
      await inTransaction(dataSource, (manager) => {
        for (let i = 0; i < 5_000; i += 1) signalAfterCommit(manager, channel);
        return Promise.resolve();
      });
      expect(await waiter.wait(), 'woken after COMMIT').to.equal('signal');
    } finally {
      waiter.close();
    }
  });

  it('costs one statement per backstop interval while the outbox is idle', async () => {
    const naming = new EventNaming(testPrefix());
    await ensureStream(nats.jsm, {
      name: naming.stream('idletest'),
      subjects: [naming.contextSubjects('idletest')],
    });
    const relay = new OutboxRelay({ dataSource, schema: SCHEMA, js: nats.js, pollIntervalMs: 100 });
    relay.start();
    try {
      await until('the relay ran its first batch', () => relay.stats().batches >= 1, 10_000);
      const statementsBefore = dbStatementsSent();
      const checksBefore = relay.stats().idleChecks;
      const batchesBefore = relay.stats().batches;
      await sleep(2_000);
      const statements = dbStatementsSent() - statementsBefore;
      const checks = relay.stats().idleChecks - checksBefore;
      expect(checks, 'backstop checks in 2 s at 100 ms').to.be.within(5, 21);
      expect(relay.stats().batches - batchesBefore, 'no batch transaction while idle').to.equal(0);
      expect(statements, `statements ${statements} for ${checks} checks`).to.be.within(checks, checks + 1);
    } finally {
      await relay.stop();
    }
  });

  it('wakes a waiter on a peer NOTIFY, merges a burst of local signals into at most two NOTIFYs, and survives a lost connection', async () => {
    const hub = new PgWakeups({
      url: database.url,
      applicationName: 'wakeup-hub',
      peerNotifyIntervalMs: 300,
    });
    await hub.start();
    const channel = wakeupChannel(SCHEMA, 'peer_probe');
    const waiter = hub.wakeup(channel, { backstopIntervalMs: 5_000 });
    const received: string[] = [];
    const listener = new Client({ connectionString: database.url });
    await listener.connect();
    // Only the hub's NOTIFYs (its token), not the peer's own, which this listener hears too.
    listener.on('notification', (message) => {
      if (message.payload !== 'from-a-peer') received.push(message.payload ?? '');
    });
    await listener.query(`LISTEN "${channel}"`);
    try {
      await until('the hub is connected', () => hub.stats().connected, 5_000);
      await sleep(100); // LISTEN is sent right after connect
      await peer.query('SELECT pg_notify($1, $2)', [channel, 'from-a-peer']);
      expect(await waiter.wait(), 'woken by the peer').to.equal('signal');

      for (let i = 0; i < 200; i++) signalWakeup(channel);
      expect(await waiter.wait(), 'local signals wake the local waiter').to.equal('signal');
      await sleep(800);
      expect(received.length, `NOTIFYs seen by a peer: ${received.length}`).to.be.within(1, 2);
      expect(hub.stats().notified).to.be.within(1, 2);

      // Kill the hub's LISTEN session: it must come back and wake its waiters once.
      await peer.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'wakeup-hub:wakeups'",
      );
      await until('the hub reconnected', () => hub.stats().reconnects >= 1 && hub.stats().connected, 10_000);
      expect(await waiter.wait(), 'woken after the reconnect').to.equal('signal');
      await peer.query('SELECT pg_notify($1, $2)', [channel, 'after-reconnect']);
      expect(await waiter.wait(), 'peers are heard again').to.equal('signal');
    } finally {
      waiter.close();
      await listener.end();
      await hub.stop();
    }
  });

  it('the relay channel is per schema', () => {
    expect(outboxWakeupChannel('cashier')).to.equal('cashier.outbox');
    expect(() => wakeupChannel('cashier', 'Bad-Topic')).to.throw(RangeError);
  });

  it('opens a transaction with one statement at the requested isolation level', async () => {
    const before = dbStatementsSent();
    const level = await inTransaction(
      dataSource,
      async (manager) =>
        (await manager.query<{ transaction_isolation: string }[]>('SHOW transaction_isolation'))[0]
          ?.transaction_isolation,
      { isolation: 'SERIALIZABLE' },
    );
    expect(level).to.equal('serializable');
    expect(dbStatementsSent() - before, 'START TRANSACTION ISOLATION LEVEL …, SHOW, COMMIT').to.equal(3);
  });

  it('a unit of work publishing one event: three statements, and the wake-up comes after COMMIT', async () => {
    const uow = createUnitOfWork(dataSource);
    const waiter = new Wakeup(outboxWakeupChannel(SCHEMA), { backstopIntervalMs: 5_000 });
    try {
      const before = dbStatementsSent();
      let signalledInside = false;
      await uow.transaction('test.publish', 'READ COMMITTED', async (tx) => {
        await tx.publish({ subject: 'wakeup_test.thing_happened', payload: new Uint8Array([1]) });
        // Still inside: the wake-up must not have fired (the row is not visible to the relay yet).
        signalledInside = (await Promise.race([waiter.wait(1), sleep(20).then(() => 'none')])) === 'signal';
      });
      expect(signalledInside, 'no wake-up before COMMIT').to.equal(false);
      expect(await waiter.wait(), 'woken after COMMIT').to.equal('signal');
      expect(
        dbStatementsSent() - before,
        'START TRANSACTION ISOLATION LEVEL …, INSERT outbox, COMMIT',
      ).to.equal(3);
    } finally {
      waiter.close();
    }
  });
});
