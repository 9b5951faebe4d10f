/**
 * The installable client and the CLI, as a client team would use them,
 * against the whole platform as real processes (test/e2e/platform.ts):
 *
 * 1. `make client`'s build script packs @paycore/client; the example in
 *    examples/merchant-checkout is copied outside the monorepo (so nothing
 *    resolves through the monorepo's node_modules), installs the tarball with
 *    npm, type-checks under strict tsc against the packed .d.ts, and pays
 *    and refunds an order through Alipay QR at the sandbox, verifying the
 *    signed notification;
 * 2. the `paycore` CLI (its bin, as a subprocess) reads that order back with
 *    a token it minted with cashier:read only, in json and jsonl; a command
 *    whose scope the key's token would not carry is not needed for that;
 * 3. `paycore trace <payment id>` over the services' log lines shows the
 *    payment's steps with its state and context code.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { scopesFor } from '@paycore/cli';
import { startPlatform, type Platform } from '../e2e/platform';
import { installExample, packClient, runExample, type ExampleResult } from './example-client';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const PAYCORE = path.join(ROOT, 'packages', 'cli', 'bin', 'paycore.js');

describe('the example merchant client and the paycore CLI against the platform', function () {
  this.timeout(600_000);
  let platform: Platform;
  let work: string;
  let result: ExampleResult;
  let cliEnv: NodeJS.ProcessEnv;

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'paycore-example-'));
    await packClient();
    platform = await startPlatform({}, { LOG_LEVEL: 'info' });
    // An explicit config file that is empty: every setting comes from the environment.
    const configFile = path.join(work, 'config.toml');
    writeFileSync(configFile, '');
    cliEnv = {
      PATH: process.env['PATH'],
      HOME: work,
      PAYCORE_CONFIG_FILE: configFile,
      PAYCORE_RUN_DIR: path.join(work, 'run'),
      PAYCORE_ENDPOINTS_FILE: platform.endpointsFile,
      PAYCORE_PRIVATE_KEY_FILE: platform.privateKeyFile,
      PAYCORE_ISSUER: platform.tokenIssuer,
    };
  });

  after(async () => {
    await platform?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('installs the packed client outside the monorepo, type-checks, and pays and refunds an order', async () => {
    const example = await installExample(work);
    result = await runExample(example, {
      PAYCORE_ENDPOINTS_FILE: platform.endpointsFile,
      PAYCORE_PRIVATE_KEY_FILE: platform.privateKeyFile,
      PAYCORE_ISSUER: platform.tokenIssuer,
      PAYCORE_SANDBOX_URL: platform.sandboxUrl,
    });
    expect(result.order_id).to.match(/.+/);
    expect(result.notified_amount_minor).to.equal('1999');
    expect(result.refunded).to.equal('5.00 CNY');
    const rows = await platform.query<{ state: string; refunded_minor: string }>(
      'SELECT state, refunded_minor::text FROM cashier.orders WHERE order_id = $1',
      [result.order_id],
    );
    expect(rows).to.deep.equal([{ state: 'PAID', refunded_minor: '500' }]);
  });

  it('reads the order back with the paycore CLI in json and jsonl, with a cashier:read token', async () => {
    const json = await run('node', [PAYCORE, 'orders', 'get', result.order_id, '-o', 'json'], {
      env: cliEnv,
    });
    const rows = JSON.parse(json.stdout) as { type: string; state: string; amount_minor: string | null }[];
    expect(rows.map((r) => [r.type, r.state])).to.deep.equal([
      ['order', 'PAID'],
      ['payment', 'SUCCEEDED'],
      ['refund', 'SUCCEEDED'],
    ]);
    expect(rows[0]?.amount_minor).to.equal('1999');
    const jsonl = await run('node', [PAYCORE, 'orders', 'get', result.order_id], {
      env: { ...cliEnv, PAYCORE_OUTPUT: 'jsonl' },
    });
    expect(jsonl.stdout.trim().split('\n')).to.have.length(3);
    // Refund needs cashier:write; the CLI mints per command, so a read command's token cannot refund.
    expect(scopesFor(['CashierService/GetPaymentOrder'])).to.deep.equal(['cashier:read']);
  });

  it('traces the payment from the services log lines with state and context code', async () => {
    const logs = path.join(work, 'run', 'logs');
    mkdirSync(logs, { recursive: true });
    for (const name of ['cashier', 'channel-router', 'account', 'ledger']) {
      writeFileSync(path.join(logs, `${name}.log`), `${platform.process(name).lines.join('\n')}\n`);
    }
    const out = await run('node', [PAYCORE, 'trace', result.payment_id, '-o', 'json'], { env: cliEnv });
    const steps = JSON.parse(out.stdout) as {
      service: string;
      step: string;
      state: string;
      biz_code: string;
      trace_id: string;
    }[];
    expect(steps.length).to.be.greaterThan(0);
    expect(steps.map((s) => s.trace_id)).to.include(result.trace_ids['pay']);
    const states = steps.filter((s) => s.service === 'cashier').map((s) => s.state);
    expect(states).to.include('PROCESSING');
    expect(steps.every((s) => /^[0-9]{20}$/.test(s.biz_code) || s.biz_code === '')).to.equal(true);
    expect(steps.some((s) => /^[0-9]{20}$/.test(s.biz_code))).to.equal(true);
  });
});
