/**
 * The `paycore` CLI against a running platform: every command group run as
 * the operator runs it — the bin as a subprocess, a token minted per command
 * with only its RPCs' scopes — and its `-o json` output parsed and checked
 * against what the platform really did.
 *
 * One platform (test/e2e/platform.ts: every service a real process, span
 * files on) serves the whole file, in the order of a payment day: health,
 * a merchant, an order paid through the Alipay sandbox, a partial refund,
 * the merchant's accounts and entries, the channel registry and breaker
 * view, the exception queue, reconciliation of the day's Alipay bill (with
 * one line for no order, written off by `recon resolve`), settlement of the
 * merchant (batch, statement), `paycore trace` by order, payment and trace
 * id (each step with service, state, amount and context code), and end of
 * day (seal, close, trial balance at levels 1..3); `recon upload` streams a
 * bill file built here and reconciles it, a second upload being the same
 * run. Then the output formats (text, json, jsonl) and the settings precedence flag > environment >
 * config-file profile, on the live platform.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { alipayBillLine, buildAlipayBill } from '@paycore/channel-protocols';
import { formatMoney, parseMoney } from '@paycore/client';
import { CycleKind } from '@paycore/proto/paycore/settlement/v1/settlement_service';
import { addFault, payAtSandbox, startPlatform, waitFor, type Platform } from './e2e/platform';
import { chinaToday, uid } from './e2e/helpers';

const ROOT = path.resolve(__dirname, '..');
const PAYCORE = path.join(ROOT, 'packages', 'cli', 'bin', 'paycore.js');
const COMMAND_TIMEOUT_MS = 120_000;
const runFile = promisify(execFile);

type Json = Record<string, string | number | boolean | null>;

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('the paycore CLI against a running platform', function () {
  this.timeout(600_000);
  let p: Platform;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const today = chinaToday();
  const state = {
    merchantId: '',
    orderId: '',
    paymentId: '',
    payTraceId: '',
    refundId: '',
    settlementAccountId: '',
  };

  /** Runs the bin; never throws on a non-zero exit (the exit code is part of what is checked). */
  async function cli(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Outcome> {
    try {
      const out = await runFile('node', [PAYCORE, ...args], {
        env: { ...env, ...extraEnv },
        cwd: work,
        timeout: COMMAND_TIMEOUT_MS,
      });
      return { code: 0, stdout: out.stdout, stderr: out.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return {
        code: typeof e.code === 'number' ? e.code : -1,
        stdout: e.stdout ?? '',
        stderr: e.stderr ?? '',
      };
    }
  }

  /** Runs a command with `-o json` that must succeed, and parses its document. */
  async function json<T = Json>(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<T> {
    const out = await cli([...args, '-o', 'json'], extraEnv);
    expect(out.code, `paycore ${args.join(' ')}: ${out.stderr}`).to.equal(0);
    return JSON.parse(out.stdout) as T;
  }

  before(async function () {
    this.timeout(900_000);
    work = mkdtempSync(path.join(tmpdir(), 'paycore-cli-'));
    p = await startPlatform(
      {},
      { PAYCORE_SPAN_FILE_DIR: path.join(work, 'run', 'spans'), OTEL_TRACES_SAMPLER_ARG: '1' },
    );
    const configFile = path.join(work, 'config.toml');
    writeFileSync(configFile, '');
    env = {
      PATH: process.env['PATH'],
      HOME: work,
      PAYCORE_CONFIG_FILE: configFile,
      PAYCORE_RUN_DIR: path.join(work, 'run'),
      PAYCORE_ENDPOINTS_FILE: p.endpointsFile,
      PAYCORE_PRIVATE_KEY_FILE: p.privateKeyFile,
      PAYCORE_ISSUER: p.tokenIssuer,
      PAYCORE_DEADLINE_MS: '30000',
    };
  });

  after(async () => {
    await p?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('health: every service SERVING', async () => {
    const rows = await json<Json[]>(['health']);
    expect(rows.map((r) => r['service']).sort()).to.deep.equal(
      ['account', 'cashier', 'channel-router', 'ledger', 'reconciliation', 'settlement'].sort(),
    );
    expect(rows.every((r) => r['status'] === 'SERVING')).to.equal(true, JSON.stringify(rows));
  });

  it('merchants register and get: the accounts it opened, balances zero', async () => {
    state.merchantId = uid('cli-m');
    const registered = await json([
      'merchants',
      'register',
      '--id',
      state.merchantId,
      '--name',
      'CLI shop',
      '--notify-key',
      'cli-notify-key-0123456789',
    ]);
    expect(registered['merchant_id']).to.equal(state.merchantId);
    const got = await json(['merchants', 'get', state.merchantId]);
    state.settlementAccountId = String(got['settlement_account_id']);
    expect(state.settlementAccountId).to.match(/.+/);
    expect(got['settlement_balance']).to.equal('0.00 CNY');
    // Settlement learns the merchant from cashier's event; its D0 profile must precede the payment.
    await waitFor('settlement knows the merchant', async () => {
      const rows = await p.query('SELECT 1 FROM settlement.merchants WHERE merchant_id = $1', [
        state.merchantId,
      ]);
      return rows.length === 1 ? true : undefined;
    });
    await p.paycore.settlement.setSettlementProfile({
      requestId: uid('prof'),
      profile: {
        merchantId: state.merchantId,
        cycle: CycleKind.CYCLE_KIND_D0,
        offsetDays: 0,
        anchorDay: 0,
        minimumPayoutMinor: 0n,
        holdUnconfirmed: false,
        d0HoldRate: '0',
        autoShare: false,
        bankAccountNo: '6222020200000002',
        bankAccountName: 'CLI Shop Ltd',
        bankCode: 'ICBC',
      },
    });
    const missing = await cli(['merchants', 'get', uid('nobody'), '-o', 'json']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.match(/NOT_FOUND MERCHANT_NOT_FOUND/);
  });

  it('orders create, methods, pay through the sandbox, get: PAID with a trace id', async () => {
    const created = await json([
      'orders',
      'create',
      '--merchant',
      state.merchantId,
      '--no',
      uid('no'),
      '--amount',
      '19.99',
    ]);
    state.orderId = String(created['order_id']);
    expect(created['state']).to.equal('WAIT_PAY');
    expect(created['amount_minor']).to.equal('1999');
    const methods = await json<Json[]>(['orders', 'methods', state.orderId, '--payer', 'cli-payer']);
    expect(methods.map((m) => m['method'])).to.include('channel:1001');
    const paid = await json(['pay', state.orderId, '--payer', 'cli-payer', '--channel', '1001']);
    expect(paid['state']).to.equal('PROCESSING');
    state.paymentId = String(paid['payment_id']);
    state.payTraceId = String(paid['trace_id']);
    expect(state.payTraceId).to.match(/^[0-9a-f]{32}$/);
    const [txn] = await p.query<{ channel_txn_id: string }>(
      'SELECT channel_txn_id FROM cashier.payment_parts WHERE payment_id = $1',
      [state.paymentId],
    );
    await payAtSandbox(p.sandboxUrl, 'alipay', txn?.channel_txn_id ?? '');
    const view = await waitFor(
      'order PAID through the CLI',
      async () => {
        const rows = await json<Json[]>(['orders', 'get', state.orderId]);
        return rows[0]?.['state'] === 'PAID' ? rows : undefined;
      },
      120_000,
    );
    expect(view.map((r) => [r['type'], r['state']])).to.deep.equal([
      ['order', 'PAID'],
      ['payment', 'SUCCEEDED'],
    ]);
  });

  it('refund create and get: SUCCEEDED for the amount asked', async () => {
    const created = await json(['refund', state.orderId, '--amount', '5.00', '--no', uid('rn')]);
    state.refundId = String(created['refund_id']);
    const done = await waitFor(
      'refund final',
      async () => {
        const got = await json(['refund', 'get', state.refundId]);
        return got['state'] === 'SUCCEEDED' || got['state'] === 'FAILED' ? got : undefined;
      },
      120_000,
    );
    expect(done['state']).to.equal('SUCCEEDED');
    expect(done['amount_minor']).to.equal('500');
    const over = await cli(['refund', state.orderId, '--amount', '100.00', '--no', uid('rn')]);
    expect(over.code).to.equal(1);
    expect(over.stderr).to.match(/REFUND_EXCEEDS/);
  });

  it('accounts list, get, balance; entries: the merchant got 19.99 less 5.00', async () => {
    const accounts = await json<Json[]>([
      'accounts',
      'list',
      '--owner-type',
      'merchant',
      '--owner',
      state.merchantId,
    ]);
    expect(accounts.map((a) => a['account_id'])).to.include(state.settlementAccountId);
    const account = await json(['accounts', 'get', state.settlementAccountId]);
    expect(account['account_id']).to.equal(state.settlementAccountId);
    const balance = await json(['accounts', 'balance', state.settlementAccountId]);
    expect(JSON.stringify(balance)).to.include('14.99');
    const entries = await json<Json[]>(['entries', state.settlementAccountId]);
    expect(entries.length).to.be.greaterThanOrEqual(2);
  });

  it('channels registry and breakers: the sandbox channels, routes eligible', async () => {
    const registry = await json<Json[]>(['channels', 'registry']);
    const numbers = registry.filter((r) => r['type'] === 'channel_no').map((r) => r['channel_no']);
    expect(numbers).to.include.members(['100001', '200001']);
    const breakers = await json<Json[]>(['channels', 'breakers']);
    const alipay = breakers.filter((b) => b['pay_channel'] === '1001');
    expect(alipay.some((b) => b['eligible'] === true && b['chosen'] === true)).to.equal(
      true,
      JSON.stringify(breakers),
    );
  });

  it('exceptions list and resolve: an empty queue; resolving an unknown exception names its reason', async () => {
    const open = await json<Json[]>(['exceptions', 'list']);
    expect(open).to.deep.equal([]);
    const unknown = await cli([
      'exceptions',
      'resolve',
      '00000000-0000-4000-8000-000000000000',
      '--resolution',
      'failed',
      '--reason',
      'checked with the channel',
    ]);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.match(/NOT_FOUND EXCEPTION_NOT_FOUND/);
  });

  it("recon run, report, differences, resolve: the day's Alipay bill, a line for no order written off", async () => {
    const extra = `CLI-EXTRA-${uid('x')}`;
    await addFault(p.sandboxUrl, { kind: 'bill_extra', channel: 'alipay', out_trade_no: extra });
    // Reconciliation keeps its own copy of the channel transactions, fed by channel.txn_updated.
    await waitFor(
      'the payment and the refund in reconciliation',
      async () => {
        const rows = await p.query<{ n: string }>(
          "SELECT count(*)::text AS n FROM recon.channel_txns WHERE state = 'SUCCESS'",
        );
        return Number(rows[0]?.n) >= 2 ? true : undefined;
      },
      60_000,
    );
    const run = await json(['recon', 'run', '100001', today]);
    expect(run['channel_no']).to.equal('100001');
    expect(Number(run['line_count'])).to.be.greaterThanOrEqual(2);
    const report = await json(['recon', 'report', '100001', today]);
    expect(report['run_id']).to.equal(run['run_id']);
    const checks = await json<Json[]>(['recon', 'report', '100001', today, '--checks']);
    expect(checks.find((c) => c['check'] === 'BILL_SUMMARY')?.['status']).to.equal('PASSED');
    const differences = await json<Json[]>(['recon', 'differences', '100001', today, '--open']);
    const line = differences.find((d) => d['merchant_order_no'] === extra);
    expect(line, JSON.stringify(differences)).to.not.equal(undefined);
    const resolved = await json<Json[]>([
      'recon',
      'resolve',
      String(line?.['difference_id']),
      '--resolution',
      'platform-is-right',
      '--reason',
      'the channel withdrew the line',
      '--operator',
      'cli-operator',
    ]);
    expect(resolved[0]?.['state']).to.equal('RESOLVED');
    expect(resolved[0]?.['operator']).to.equal('cli-operator');
    const after = await json<Json[]>(['recon', 'differences', '100001', today, '--open']);
    expect(after.map((d) => d['merchant_order_no'])).to.not.include(extra);
    const again = await cli(['recon', 'report', '100001', '2001-01-01', '-o', 'json']);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/DAY_NOT_RECONCILED/);
  });

  it('recon upload: a bill file the operator holds is streamed in and reconciled; again, the same run', async () => {
    const date = '2025-06-02';
    const file = path.join(work, 'alipay-2025-06-02.zip');
    const orphan = `CLI-UPLOAD-${uid('u')}`;
    writeFileSync(
      file,
      buildAlipayBill({
        account: '20880000000000000156',
        billDate: date,
        exportedAt: `${date} 23:00:00`,
        lines: [
          alipayBillLine({
            tradeNo: `AT-${orphan}`,
            outTradeNo: orphan,
            businessType: '交易',
            subject: '商品',
            createdAt: `${date} 12:00:00`,
            finishedAt: `${date} 12:00:00`,
            orderAmountFen: 1234n,
            serviceFeeFen: -7n,
          }),
        ],
      }),
    );
    const args = [
      'recon',
      'upload',
      '100001',
      date,
      file,
      '--format',
      'ALIPAY_TRADE_ZIP',
      '--operator',
      'cli-ops',
    ];
    const uploaded = await json(args);
    expect(uploaded['bill_date']).to.equal(date);
    expect(Number(uploaded['line_count'])).to.equal(1);
    const differences = await json<Json[]>(['recon', 'differences', '100001', date]);
    expect(differences.map((d) => [d['merchant_order_no'], d['class']])).to.deep.equal([
      [orphan, 'PLATFORM_MISSING'],
    ]);
    const again = await json(args);
    expect(again['run_id']).to.equal(uploaded['run_id']);
    const refused = await cli(['recon', 'upload', '100001', date, file, '--operator', 'cli-ops']);
    expect(refused.code).to.equal(2);
  });

  it('settlement run, batches, batch, request, statement: the merchant is paid 14.99 less fees', async () => {
    await waitFor(
      'payment and refund cleared',
      async () => {
        const rows = await p.query('SELECT 1 FROM settlement.items WHERE order_id = $1', [state.orderId]);
        return rows.length === 2 ? true : undefined;
      },
      60_000,
    );
    const run = await json(['settlement', 'run', today]);
    expect(run['settlement_date']).to.equal(today);
    expect(Number(run['batches_created'])).to.be.greaterThanOrEqual(1);
    const paid = await waitFor(
      'batch final',
      async () => {
        const [batch] = await json<Json[]>(['settlement', 'batches', state.merchantId]);
        return ['PAID', 'CARRIED', 'EXCEPTION'].includes(String(batch?.['state'])) ? batch : undefined;
      },
      120_000,
    );
    expect(paid['state'], JSON.stringify(paid)).to.equal('PAID');
    expect(paid['gross']).to.equal('19.99 CNY');
    expect(paid['refunds']).to.equal('5.00 CNY');
    const batchId = String(paid['batch_id']);
    expect((await json(['settlement', 'batch', batchId]))['state']).to.equal('PAID');
    // The merchant's batch of the date exists: requesting it again answers it.
    const requested = await json(['settlement', 'request', state.merchantId, today]);
    expect(requested['batch_id'], JSON.stringify(requested)).to.equal(batchId);
    const batches = await json<Json[]>(['settlement', 'batches', state.merchantId]);
    expect(batches.map((b) => b['batch_id'])).to.include(batchId);
    const lines = await json<Json[]>(['settlement', 'statement', batchId]);
    expect(lines.map((l) => l['type']).sort()).to.deep.equal(['PAYMENT', 'REFUND']);
    const csv = await cli(['settlement', 'statement', batchId, '--csv']);
    expect(csv.stdout.split('\n')[0]).to.match(/^type,merchant_order_no,order_id,gross/);
  });

  it('trace by order, payment and trace id: per step service, state, amount and context code', async () => {
    type Step = {
      service: string;
      step: string;
      state: string;
      amount: string;
      biz_code: string;
      trace_id: string;
    };
    const wanted = (steps: readonly Step[]): boolean =>
      ['cashier', 'channel-router', 'account', 'ledger'].every((service) =>
        steps.some((s) => s.service === service && s.state !== ''),
      ) && steps.some((s) => s.service === 'cashier' && s.state === 'PAID');
    let last: Step[] = [];
    const byOrder = await waitFor(
      'span files with every service of the payment',
      async () => {
        const out = await cli(['trace', state.orderId, '-o', 'json']);
        if (out.code !== 0) return undefined;
        last = JSON.parse(out.stdout) as Step[];
        return wanted(last) ? last : undefined;
      },
      60_000,
    ).catch((err: unknown) => {
      const seen = last.map((s) => `${s.service} ${s.step} ${s.state} ${s.amount}`).join('\n');
      throw new Error(`${String(err)}; steps seen:\n${seen}`);
    });
    const paidStep = byOrder.find((s) => s.service === 'cashier' && s.state === 'PAID');
    expect(paidStep?.amount).to.equal('19.99 CNY');
    expect(paidStep?.biz_code).to.match(/^[0-9]{20}$/);
    const channelStep = byOrder.find((s) => s.service === 'channel-router' && s.state === 'SUCCESS');
    expect(
      channelStep?.amount,
      JSON.stringify(byOrder.filter((s) => s.service === 'channel-router')),
    ).to.equal('19.99 CNY');
    expect(
      byOrder.some((s) => s.service === 'account' && ['POSTED', 'CONFIRMED'].includes(s.state)),
    ).to.equal(true);
    expect(byOrder.some((s) => s.service === 'ledger' && s.state === 'VOUCHER_POSTED')).to.equal(true);
    // The refund ran in a trace of its own; the order pulls it in.
    expect(byOrder.some((s) => s.service === 'cashier' && s.step.startsWith('refund '))).to.equal(true);
    const byPayment = await json<Step[]>(['trace', state.paymentId]);
    expect(byPayment.map((s) => s.trace_id)).to.include(state.payTraceId);
    // A trace id shows that trace (and the traces of the entities it names: the payment's callback).
    const byTrace = await json<Step[]>(['trace', state.payTraceId]);
    const ofTrace = byTrace.filter((s) => s.trace_id === state.payTraceId);
    expect(ofTrace.map((s) => s.step)).to.include('paycore.cashier.v1.CashierService/Pay');
    expect(ofTrace.some((s) => s.service === 'cashier' && s.state === 'PROCESSING')).to.equal(true);
    const nothing = await cli(['trace', 'no-such-flow', '-o', 'json']);
    expect(nothing.code).to.equal(1);
  });

  it('eod seal, close, trial balance at levels 1, 2 and 3: balanced after close', async () => {
    const sealed = await json<Json[]>(['eod', 'seal', today]);
    expect(sealed.every((t) => t['accounting_date'] === today)).to.equal(true);
    const closed = await waitFor(
      'ledger close (the day_sealed event travels first)',
      async () => {
        const out = await cli(['eod', 'close', today, '-o', 'json']);
        if (out.code === 0) return JSON.parse(out.stdout) as Json;
        expect(out.stderr).to.match(/DAY_NOT_SEALED/);
        return undefined;
      },
      60_000,
    );
    expect(closed['status']).to.equal('CLOSED');
    const level1 = await json<Json[]>(['eod', 'trial-balance', today]);
    expect(level1.length).to.be.greaterThan(0);
    expect(level1.every((r) => r['level'] === 1)).to.equal(true);
    // Level n: the subjects of that level plus the leaves above it, so every line is counted once.
    const debits = (rows: readonly Json[]): string =>
      formatMoney({
        amountMinor: rows.reduce(
          (sum, r) => sum + parseMoney(String(r['debit']).split(' ')[0] ?? '', 'CNY').amountMinor,
          0n,
        ),
        currency: 'CNY',
      });
    for (const level of [2, 3]) {
      const rows = await json<Json[]>(['eod', 'trial-balance', today, '--level', String(level)]);
      expect(rows.every((r) => Number(r['level']) <= level)).to.equal(true, `level ${level}`);
      expect(rows.some((r) => r['level'] === level)).to.equal(true, `level ${level}`);
      expect(debits(rows)).to.equal(debits(level1), `level ${level} debits`);
    }
    const text = await cli(['eod', 'trial-balance', today, '-o', 'text']);
    expect(text.code).to.equal(0);
    expect(text.stdout).to.match(/balanced: true/);
  });

  it('output: text for people, json one document, jsonl one object per line', async () => {
    const text = await cli(['orders', 'get', state.orderId, '-o', 'text']);
    expect(text.stdout).to.match(/^order_id:\s+\S+/m);
    expect(text.stdout).to.match(/payments:\n/);
    const jsonl = await cli(['orders', 'get', state.orderId, '-o', 'jsonl']);
    const lines = jsonl.stdout.trim().split('\n');
    expect(lines).to.have.length(3); // order, payment, refund
    expect(lines.map((l) => (JSON.parse(l) as Json)['type'])).to.deep.equal(['order', 'payment', 'refund']);
  });

  it('settings: flag over environment over the config-file profile', async () => {
    const endpoints = JSON.parse((await runFile('cat', [p.endpointsFile])).stdout) as Record<string, string>;
    const configFile = path.join(work, 'profiles.toml');
    writeFileSync(
      configFile,
      [
        '[profile.default]',
        'output = "jsonl"',
        '[profile.broken]',
        'output = "json"',
        'deadline_ms = 2000',
        '[profile.broken.address]',
        'cashier = "127.0.0.1:1"',
        '',
      ].join('\n'),
    );
    const args = ['merchants', 'get', state.merchantId];
    const withFile = { PAYCORE_CONFIG_FILE: configFile };
    // The profile's output, then the environment's, then the flag's.
    const fromFile = await cli(args, withFile);
    expect(fromFile.stdout.trim().split('\n')).to.have.length(1);
    expect((JSON.parse(fromFile.stdout) as Json)['merchant_id']).to.equal(state.merchantId);
    const fromEnv = await cli(args, { ...withFile, PAYCORE_OUTPUT: 'json' });
    expect(fromEnv.stdout.trim().split('\n').length).to.be.greaterThan(1);
    const fromFlag = await cli([...args, '-o', 'text'], { ...withFile, PAYCORE_OUTPUT: 'json' });
    expect(fromFlag.stdout).to.match(/^merchant_id:\s+/m);
    // The profile's address beats the endpoints file; the environment's beats the profile's; the flag's beats both.
    const broken = await cli(['--profile', 'broken', ...args], withFile);
    expect(broken.code).to.equal(1);
    expect(broken.stderr).to.match(/UNAVAILABLE|DEADLINE_EXCEEDED/);
    const envFixes = await cli(['--profile', 'broken', ...args], {
      ...withFile,
      PAYCORE_ADDRESS_CASHIER: endpoints['cashier'],
    });
    expect(envFixes.code, envFixes.stderr).to.equal(0);
    const flagFixes = await cli(
      ['--profile', 'broken', '--address', `cashier=${endpoints['cashier'] ?? ''}`, ...args],
      { ...withFile, PAYCORE_ADDRESS_CASHIER: '127.0.0.1:1' },
    );
    expect(flagFixes.code, flagFixes.stderr).to.equal(0);
    const unknownProfile = await cli(['--profile', 'nope', ...args], withFile);
    expect(unknownProfile.code).to.equal(2);
  });
});
