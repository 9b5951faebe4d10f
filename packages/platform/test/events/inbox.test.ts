/**
 * InboxConsumer behaviour against a real NATS (a server of the test's own)
 * and a per-run database:
 * - a handler that throws is nak'ed, redelivered after the backoff, and its
 *   effect lands exactly once when it finally succeeds (failed attempts roll
 *   back their writes);
 * - a poison message is dead-lettered with its payload after maxDeliver
 *   attempts, terminated (no further attempts), and does not block the
 *   messages behind it;
 * - an event stored twice (republished after JetStream's duplicate window)
 *   runs the handler once: the inbox skips the second copy;
 * - with several filter subjects (one server filter on NATS 2.9) messages of
 *   other subjects are acked without running the handler;
 * - concurrent mode (handlerConcurrencyMax 3, 30 messages over 3 ordering
 *   keys, handler delays that vary by message): more than one and never more
 *   than 3 handlers run at once, each key's messages are handled in stream
 *   order, a message that fails once is redelivered and every effect lands
 *   exactly once;
 * - `ignore`: the messages it names are acked with no transaction, no inbox
 *   row and no handler call, and the others are handled as usual;
 * - a failure that says Postgres is unavailable (SQLSTATE class 08) is
 *   retried past maxDeliver and never dead-letters a good message;
 * - the relay's in-process runOnce() publishes what writeOutbox wrote, and
 *   the message id the consumer sees is the outbox msg_id;
 * - purgeInbox deletes only this consumer's rows past retention;
 * - idling: after a pull that brought nothing the consumer sends one long
 *   pull for one message and nothing else while it waits (watched on the
 *   server's pull-request subject); the message that ends it is handled and
 *   the pull after it is a batch again;
 * - batch mode: a pull's messages reach the batch handler in stream order,
 *   several per transaction, each once (ids the inbox holds and a second
 *   stored copy in the same batch skipped); a batch that fails is handled
 *   one message per transaction, so a poison message is dead-lettered and
 *   the good ones around it land once.
 */
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { DataSource } from 'typeorm';
import {
  createTestDatabase,
  startNatsServer,
  testPrefix,
  type NatsServerHandle,
  type TestDatabase,
} from '@paycore/testing';
import { createDataSource, inTransaction, runMigrations } from '../../src/db';
import {
  connectNats,
  ensureStream,
  EventNaming,
  InboxConsumer,
  OutboxRelay,
  writeOutbox,
  type InboxConsumerOptions,
  type InboxMessage,
  type NatsHandles,
} from '../../src/events';
import { countRows, until } from './helpers';

const SCHEMA = 'inbox_test';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

describe('InboxConsumer', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let natsServer: NatsServerHandle;
  let dataSource: DataSource;
  let nats: NatsHandles;
  let naming: EventNaming;
  const consumers: InboxConsumer[] = [];

  before(async () => {
    database = await createTestDatabase();
    natsServer = await startNatsServer();
    dataSource = createDataSource({
      url: database.url,
      schema: SCHEMA,
      applicationName: 'inbox-test',
      poolSizeMax: 4,
    });
    await dataSource.initialize();
    await runMigrations(dataSource, { schema: SCHEMA });
    await dataSource.query(`CREATE TABLE ${SCHEMA}.effect (msg_id text PRIMARY KEY, body text NOT NULL)`);
    nats = await connectNats({ servers: natsServer.url, name: 'inbox-test', reconnectTimeWaitMs: 100 });
    naming = new EventNaming(testPrefix());
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.stop()));
  });
  after(async () => {
    await nats?.nc.close();
    await dataSource?.destroy();
    await natsServer?.cleanup();
    await database?.drop();
  });

  async function setUp(
    context: string,
    handler: InboxConsumerOptions['handler'],
    overrides: Partial<InboxConsumerOptions> = {},
    duplicateWindowMs = 60_000,
  ): Promise<{
    consumer: InboxConsumer;
    publish: (event: string, msgId: string, body: string) => Promise<void>;
  }> {
    const stream = naming.stream(context);
    await ensureStream(nats.jsm, {
      name: stream,
      subjects: [naming.contextSubjects(context)],
      duplicateWindowMs,
    });
    const consumer = new InboxConsumer({
      dataSource,
      schema: SCHEMA,
      js: nats.js,
      jsm: nats.jsm,
      stream,
      durable: naming.durable(context, 'test'),
      filterSubjects: [naming.contextSubjects(context)],
      handler,
      ackWaitMs: 5_000,
      fetchExpiresMs: 1_000,
      backoffMs: [100, 200],
      ...overrides,
    });
    consumers.push(consumer);
    await consumer.start();
    const publish = async (event: string, msgId: string, body: string): Promise<void> => {
      await nats.js.publish(naming.subject(context, event), encoder.encode(body), { msgID: msgId });
    };
    return { consumer, publish };
  }

  const effectInsert = (
    message: InboxMessage,
    manager: Parameters<InboxConsumerOptions['handler']>[1],
  ): Promise<unknown> =>
    manager.query('INSERT INTO effect (msg_id, body) VALUES ($1, $2)', [
      message.msgId,
      decoder.decode(message.data),
    ]);

  it('redelivers after a failing handler and applies the effect exactly once', async () => {
    const deliveries: number[] = [];
    const { consumer, publish } = await setUp('flaky', async (message, manager) => {
      deliveries.push(message.deliveryCount);
      await effectInsert(message, manager); // Written, then rolled back on the failures below.
      if (message.deliveryCount < 3) throw new Error(`transient failure ${message.deliveryCount}`);
    });
    await publish('thing_happened', 'flaky-1', 'hello');
    await until('handled', () => consumer.stats().handled === 1, 10_000);
    expect(deliveries).to.deep.equal([1, 2, 3]);
    expect(consumer.stats().failures).to.equal(2);
    expect(await countRows(dataSource, "SELECT count(*) AS n FROM effect WHERE msg_id = 'flaky-1'")).to.equal(
      1,
    );
    expect(await countRows(dataSource, "SELECT count(*) AS n FROM inbox WHERE msg_id = 'flaky-1'")).to.equal(
      1,
    );
    await sleep(500);
    expect(deliveries, 'no delivery after the ack').to.have.length(3);
  });

  it('dead-letters a poison message after maxDeliver attempts and keeps consuming', async () => {
    const attempts: string[] = [];
    const { consumer, publish } = await setUp(
      'poison',
      async (message, manager) => {
        attempts.push(message.msgId);
        if (decoder.decode(message.data) === 'poison') throw new Error('cannot parse this');
        await effectInsert(message, manager);
      },
      { maxDeliver: 3 },
    );
    await publish('thing_happened', 'poison-1', 'poison');
    await publish('thing_happened', 'good-1', 'fine');
    await until(
      'dead-lettered and good one handled',
      () => consumer.stats().deadLettered === 1 && consumer.stats().handled === 1,
      10_000,
    );
    const rows = await dataSource.query<
      { msg_id: string; delivery_count: number; error: string; payload: Buffer; subject: string }[]
    >('SELECT msg_id, delivery_count, error, payload, subject FROM inbox_dead_letter WHERE msg_id = $1', [
      'poison-1',
    ]);
    expect(rows).to.have.length(1);
    expect(rows[0]!.delivery_count).to.equal(3);
    expect(rows[0]!.error).to.contain('cannot parse this');
    expect(rows[0]!.payload.toString('utf8')).to.equal('poison');
    expect(rows[0]!.subject).to.equal(naming.subject('poison', 'thing_happened'));
    await sleep(600); // Longer than every backoff: a non-terminated message would be back by now.
    expect(attempts.filter((id) => id === 'poison-1')).to.have.length(3);
    expect(await countRows(dataSource, "SELECT count(*) AS n FROM inbox WHERE msg_id = 'poison-1'")).to.equal(
      0,
    );
    expect(await countRows(dataSource, "SELECT count(*) AS n FROM effect WHERE msg_id = 'good-1'")).to.equal(
      1,
    );
  });

  it('retries a Postgres-unavailable failure past maxDeliver instead of dead-lettering', async () => {
    const deliveries: number[] = [];
    const { consumer, publish } = await setUp(
      'outage',
      async (message, manager) => {
        deliveries.push(message.deliveryCount);
        if (message.deliveryCount <= 4) {
          throw Object.assign(new Error('terminating connection due to administrator command'), {
            code: '08006',
          });
        }
        await effectInsert(message, manager);
      },
      { maxDeliver: 2, backoffMs: [50] },
    );
    await publish('thing_happened', 'outage-1', 'survives');
    await until('handled', () => consumer.stats().handled === 1, 10_000);
    expect(deliveries).to.deep.equal([1, 2, 3, 4, 5]);
    expect(consumer.stats()).to.include({ transientFailures: 4, failures: 0, deadLettered: 0 });
    expect(
      await countRows(dataSource, "SELECT count(*) AS n FROM effect WHERE msg_id = 'outage-1'"),
    ).to.equal(1);
  });

  it('skips a second stored copy of the same event through the inbox', async () => {
    let calls = 0;
    const { consumer, publish } = await setUp(
      'republished',
      async (message, manager) => {
        calls++;
        await effectInsert(message, manager);
      },
      {},
      100, // A tiny duplicate window, so JetStream stores the republish.
    );
    await publish('thing_happened', 'again-1', 'once');
    await sleep(400);
    await publish('thing_happened', 'again-1', 'once');
    await until(
      'both copies seen',
      () => consumer.stats().handled + consumer.stats().duplicates === 2,
      10_000,
    );
    expect((await nats.jsm.streams.info(naming.stream('republished'))).state.messages).to.equal(2);
    expect(calls).to.equal(1);
    expect(consumer.stats().duplicates).to.equal(1);
  });

  it('acks without handling the subjects outside several filter subjects', async () => {
    const seen: string[] = [];
    const { consumer, publish } = await setUp(
      'multi',
      async (message) => {
        seen.push(message.subject);
        await Promise.resolve();
      },
      { filterSubjects: [naming.subject('multi', 'first'), naming.subject('multi', 'second')] },
    );
    await publish('first', 'multi-1', 'a');
    await publish('third', 'multi-2', 'c');
    await publish('second', 'multi-3', 'b');
    await until(
      'three messages seen',
      () => consumer.stats().handled + consumer.stats().filteredOut === 3,
      10_000,
    );
    expect(seen).to.deep.equal([naming.subject('multi', 'first'), naming.subject('multi', 'second')]);
    expect(consumer.stats().filteredOut).to.equal(1);
  });

  it('handles a pull concurrently, bounded, in stream order per ordering key, each effect once', async () => {
    const keys = ['a', 'b', 'c'];
    const total = 30;
    const order = new Map<string, number[]>(keys.map((k) => [k, []]));
    let inFlight = 0;
    let inFlightMax = 0;
    const { consumer, publish } = await setUp(
      'concurrent',
      async (message, manager) => {
        inFlight++;
        inFlightMax = Math.max(inFlightMax, inFlight);
        try {
          const [key = '', index = ''] = decoder.decode(message.data).split(':');
          // Later messages of a key finish sooner if they are let to overtake the earlier ones.
          await sleep(((total - Number(index)) % 7) * 3);
          if (index === '7' && message.deliveryCount === 1) throw new Error('fails once');
          await effectInsert(message, manager);
          order.get(key)?.push(Number(index));
        } finally {
          inFlight--;
        }
      },
      {
        handlerConcurrencyMax: 3,
        orderingKey: (message) => decoder.decode(message.data).split(':')[0],
        fetchExpiresMs: 1_000,
      },
    );
    for (let i = 0; i < total; i++) await publish('thing_happened', `concurrent-${i}`, `${keys[i % 3]}:${i}`);
    await until('every message handled', () => consumer.stats().handled === total, 20_000);
    expect(inFlightMax).to.be.within(2, 3);
    for (const key of keys) {
      const expected = Array.from({ length: total }, (_, i) => i).filter((i) => keys[i % 3] === key);
      // The message that failed once comes back after its backoff, behind the rest of its key.
      expect(order.get(key)).to.have.members(expected);
      const withoutRetried = (order.get(key) ?? []).filter((i) => i !== 7);
      expect(withoutRetried).to.deep.equal(expected.filter((i) => i !== 7));
    }
    expect(
      await countRows(dataSource, "SELECT count(*) AS n FROM effect WHERE msg_id LIKE 'concurrent-%'"),
    ).to.equal(total);
    expect(consumer.stats().failures).to.equal(1);
  });

  it('acks what `ignore` names with no transaction, no inbox row and no handler call', async () => {
    const seen: string[] = [];
    const { consumer, publish } = await setUp(
      'ignoring',
      async (message, manager) => {
        seen.push(decoder.decode(message.data));
        await effectInsert(message, manager);
      },
      { ignore: (message) => decoder.decode(message.data).startsWith('waiting') },
    );
    await publish('thing_happened', 'ignoring-1', 'waiting 1');
    await publish('thing_happened', 'ignoring-2', 'final 2');
    await publish('thing_happened', 'ignoring-3', 'waiting 3');
    await until(
      'three messages seen',
      () => consumer.stats().handled + consumer.stats().filteredOut === 3,
      10_000,
    );
    expect(seen).to.deep.equal(['final 2']);
    expect(consumer.stats().filteredOut).to.equal(2);
    expect(
      await countRows(dataSource, "SELECT count(*) AS n FROM inbox WHERE msg_id LIKE 'ignoring-%'"),
    ).to.equal(1);
    const info = await nats.jsm.consumers.info(naming.stream('ignoring'), naming.durable('ignoring', 'test'));
    expect(info.num_ack_pending).to.equal(0);
  });

  it('uses the msg id header for dedupe and falls back to the stream sequence', async () => {
    const ids: string[] = [];
    const { consumer } = await setUp('ids', async (message) => {
      ids.push(message.msgId);
      await Promise.resolve();
    });
    const h = natsHeaders();
    h.set('X-Test', '1');
    await nats.js.publish(naming.subject('ids', 'no_id'), encoder.encode('x'), { headers: h });
    await until('handled', () => consumer.stats().handled === 1, 10_000);
    expect(ids[0]).to.match(/^seq:\d+$/);
  });

  it('receives what writeOutbox wrote and OutboxRelay.runOnce published, with the outbox msg_id', async () => {
    const received: InboxMessage[] = [];
    const { consumer } = await setUp('relayed', async (message) => {
      received.push(message);
      await Promise.resolve();
    });
    const row = await inTransaction(
      dataSource,
      (manager) =>
        writeOutbox(manager, {
          subject: naming.subject('relayed', 'thing_happened'),
          payload: encoder.encode('via outbox'),
          headers: { 'X-Extra': 'yes' },
        }),
      { isolation: 'READ COMMITTED' },
    );
    const relay = new OutboxRelay({ dataSource, schema: SCHEMA, js: nats.js, publishTimeoutMs: 5_000 });
    const outcome = await relay.runOnce();
    expect(outcome).to.include({ selected: 1, published: 1, failed: 0 });
    await until('handled', () => consumer.stats().handled === 1, 10_000);
    expect(received[0]!.msgId).to.equal(row.msgId);
    expect(decoder.decode(received[0]!.data)).to.equal('via outbox');
    expect(received[0]!.headers['X-Extra']).to.equal('yes');
    expect((await relay.runOnce()).selected, 'nothing left to relay').to.equal(0);
  });

  it('batch mode: several messages per transaction, in stream order, each once, each logged', async () => {
    const batches: string[][] = [];
    const logged: Record<string, unknown>[] = [];
    const ignore = (): void => undefined;
    const logger = {
      debug: ignore,
      warn: ignore,
      error: ignore,
      info: (fields: object, message: string) => {
        if (message === 'event handled') logged.push(fields as Record<string, unknown>);
      },
    };
    const { consumer, publish } = await setUp(
      'batched',
      () => Promise.reject(new Error('the batch handler takes these')),
      {
        batchHandler: async (messages, manager) => {
          batches.push(messages.map((m) => m.msgId));
          for (const m of messages) await effectInsert(m, manager);
        },
        logger,
      },
      100, // A tiny duplicate window, so JetStream stores the republish below.
    );
    await dataSource.query("INSERT INTO inbox (consumer, msg_id, subject) VALUES ($1, 'batch-seen', 'x')", [
      naming.durable('batched', 'test'),
    ]);
    await publish('thing_happened', 'batch-seen', 'handled before');
    const ids = Array.from({ length: 30 }, (_, i) => `batch-${String(i).padStart(2, '0')}`);
    for (const id of ids) await publish('thing_happened', id, id);
    await sleep(150);
    await publish('thing_happened', 'batch-00', 'stored twice');
    await until('all seen', () => consumer.stats().handled + consumer.stats().duplicates === 32, 10_000);
    expect(batches.flat()).to.deep.equal(ids);
    expect(batches.length).to.be.lessThan(ids.length);
    expect(consumer.stats()).to.include({ handled: 30, duplicates: 2, failures: 0 });
    expect(
      await countRows(dataSource, "SELECT count(*) AS n FROM effect WHERE msg_id LIKE 'batch-%'"),
    ).to.equal(30);
    // One line per consumed event, as a message handled alone gets.
    const outcomes = logged.map((line) => `${String(line['msg_id'])} ${String(line['outcome'])}`);
    expect(outcomes.filter((o) => o.endsWith(' OK')).sort()).to.deep.equal(ids.map((id) => `${id} OK`));
    expect(outcomes.filter((o) => o.endsWith(' DUPLICATE')).sort()).to.deep.equal([
      'batch-00 DUPLICATE',
      'batch-seen DUPLICATE',
    ]);
  });

  it('batch mode: a failing batch is handled one by one; the poison one is dead-lettered', async () => {
    const { consumer, publish } = await setUp(
      'batchpoison',
      async (message, manager) => {
        if (decoder.decode(message.data) === 'poison') throw new Error('cannot parse this');
        await effectInsert(message, manager);
      },
      {
        maxDeliver: 2,
        batchHandler: async (messages, manager) => {
          for (const m of messages) await effectInsert(m, manager); // Rolled back with the batch.
          if (messages.some((m) => decoder.decode(m.data) === 'poison')) throw new Error('batch refused');
        },
      },
    );
    await publish('thing_happened', 'bp-1', 'fine');
    await publish('thing_happened', 'bp-2', 'poison');
    await publish('thing_happened', 'bp-3', 'fine');
    await until(
      'poison dead-lettered, good ones handled',
      () => {
        const stats = consumer.stats();
        return stats.deadLettered === 1 && stats.handled === 2;
      },
      10_000,
    );
    expect(
      await countRows(dataSource, "SELECT count(*) AS n FROM effect WHERE msg_id IN ('bp-1', 'bp-3')"),
    ).to.equal(2);
    expect(await countRows(dataSource, "SELECT count(*) AS n FROM effect WHERE msg_id = 'bp-2'")).to.equal(0);
    expect(
      await countRows(dataSource, "SELECT count(*) AS n FROM inbox_dead_letter WHERE msg_id = 'bp-2'"),
    ).to.equal(1);
  });

  it('after an empty pull, waits with one long pull for one message, then pulls batches again', async () => {
    // Every pull request the consumer sends, as the server receives it (a core subscription to the API subject).
    const context = 'idling';
    const requests: { batch: number; expiresMs: number }[] = [];
    const watch = nats.nc.subscribe(
      `$JS.API.CONSUMER.MSG.NEXT.${naming.stream(context)}.${naming.durable(context, 'test')}`,
      {
        callback: (_err, msg) => {
          const body = JSON.parse(decoder.decode(msg.data)) as { batch: number; expires: number };
          requests.push({ batch: body.batch, expiresMs: body.expires / 1e6 });
        },
      },
    );
    await nats.nc.flush();
    try {
      const { consumer, publish } = await setUp(
        'idling',
        async (m, manager) => {
          await effectInsert(m, manager);
        },
        {
          fetchExpiresMs: 1_000,
          idleFetchExpiresMs: 20_000,
          batchSizeMax: 50,
        },
      );
      // Three fetchExpiresMs: a consumer without the long pull would have asked three times or more.
      await sleep(3_200);
      expect(requests).to.deep.equal([
        { batch: 50, expiresMs: 1_000 },
        { batch: 1, expiresMs: 20_000 },
      ]);
      await publish('thing_happened', 'idle-1', 'after a quiet spell');
      await until('handled', () => consumer.stats().handled === 1, 5_000);
      await until('the next pull', () => requests.length >= 3, 5_000);
      expect(requests[2], 'a batch pull once a message came').to.deep.equal({ batch: 50, expiresMs: 1_000 });
      expect(
        await countRows(dataSource, "SELECT count(*) AS n FROM effect WHERE msg_id = 'idle-1'"),
      ).to.equal(1);
    } finally {
      watch.unsubscribe();
    }
  });

  it('purges only its own inbox rows past retention', async () => {
    await dataSource.query(
      `INSERT INTO inbox (consumer, msg_id, subject, handled_at) VALUES
         ('purge_me', 'old', 's', now() - interval '2 hours'),
         ('purge_me', 'new', 's', now()),
         ('someone_else', 'old', 's', now() - interval '2 hours')`,
    );
    const consumer = new InboxConsumer({
      dataSource,
      schema: SCHEMA,
      js: nats.js,
      jsm: nats.jsm,
      stream: 'UNUSED',
      durable: 'purge_me',
      filterSubjects: ['unused'],
      handler: () => Promise.resolve(),
      inboxRetentionMs: 3_600_000,
    });
    expect(await consumer.purgeInbox()).to.equal(1);
    const rows = await dataSource.query<{ consumer: string; msg_id: string }[]>(
      "SELECT consumer, msg_id FROM inbox WHERE consumer IN ('purge_me', 'someone_else') ORDER BY consumer, msg_id",
    );
    expect(rows).to.deep.equal([
      { consumer: 'purge_me', msg_id: 'new' },
      { consumer: 'someone_else', msg_id: 'old' },
    ]);
  });
});
