/**
 * The CLI's settings precedence (flag > environment > config-file profile)
 * and its output formats, as pure functions over a real TOML file in a
 * temporary directory and real environment maps.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { render } from './output';
import { environmentLayer, fileLayer, resolveSettings, SettingsError } from './settings';
import { parsePart } from './commands/cashier';

describe('paycore CLI settings: flag > environment > file', () => {
  let dir: string;
  let config: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'paycore-cli-'));
    config = path.join(dir, 'config.toml');
    writeFileSync(
      config,
      [
        '[profile.default]',
        'output = "json"',
        'deadline_ms = 7000',
        'subject = "file-subject"',
        'token_file = "/file/token"',
        '[profile.default.address]',
        'cashier = "10.0.0.1:1"',
        'ledger = "10.0.0.1:2"',
        '[profile.staging]',
        'output = "jsonl"',
        'run_dir = "/srv/paycore/.run"',
      ].join('\n'),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('takes each value from the file when nothing else sets it', () => {
    const s = resolveSettings('default', [{}, {}, fileLayer(config, 'default', true)], dir);
    expect(s.output).to.equal('json');
    expect(s.deadlineMs).to.equal(7000);
    expect(s.subject).to.equal('file-subject');
    expect(s.addresses).to.deep.equal({ cashier: '10.0.0.1:1', ledger: '10.0.0.1:2' });
    expect(s.tokenSource).to.deep.equal({ kind: 'file', file: '/file/token' });
  });

  it('lets the environment override the file, and flags override both, value by value', () => {
    const env = environmentLayer({
      PAYCORE_OUTPUT: 'jsonl',
      PAYCORE_DEADLINE_MS: '8000',
      PAYCORE_ADDRESS_CASHIER: '10.0.0.2:1',
      PAYCORE_ADDRESS_CHANNEL_ROUTER: '10.0.0.2:3',
    });
    const flags = { output: 'text', addresses: { cashier: '10.0.0.3:1' } };
    const s = resolveSettings('default', [flags, env, fileLayer(config, 'default', true)], dir);
    expect(s.output).to.equal('text');
    expect(s.deadlineMs).to.equal(8000);
    expect(s.subject).to.equal('file-subject');
    expect(s.addresses).to.deep.equal({
      cashier: '10.0.0.3:1',
      ledger: '10.0.0.1:2',
      'channel-router': '10.0.0.2:3',
    });
  });

  it('takes the token source from the highest layer that names one, whatever its kind', () => {
    const env = environmentLayer({ PAYCORE_PRIVATE_KEY_FILE: '/env/key.pem' });
    const fromEnv = resolveSettings('default', [{}, env, fileLayer(config, 'default', true)], dir);
    expect(fromEnv.tokenSource).to.deep.equal({ kind: 'mint', privateKeyFile: '/env/key.pem' });
    const fromFlag = resolveSettings('default', [{ token: 'a.b.c' }, env, {}], dir);
    expect(fromFlag.tokenSource).to.deep.equal({ kind: 'static', token: 'a.b.c' });
  });

  it('reads the named profile and refuses an unknown profile, key or output format', () => {
    const staging = resolveSettings('staging', [{}, {}, fileLayer(config, 'staging', true)], dir);
    expect(staging.output).to.equal('jsonl');
    expect(staging.runDir).to.equal('/srv/paycore/.run');
    expect(staging.endpointsFile).to.equal('/srv/paycore/.run/endpoints.json');
    expect(() => fileLayer(config, 'prod', true)).to.throw(SettingsError, /no \[profile.prod\]/);
    const bad = path.join(dir, 'bad.toml');
    writeFileSync(bad, '[profile.default]\noutptu = "json"\n');
    expect(() => fileLayer(bad, 'default', true)).to.throw(SettingsError, /unknown key "outptu"/);
    expect(() => resolveSettings('default', [{ output: 'yaml' }], dir)).to.throw(
      SettingsError,
      /output must be/,
    );
    expect(() => resolveSettings('default', [{ deadlineMs: '5' }], dir)).to.throw(
      SettingsError,
      /deadline_ms/,
    );
  });

  it('treats a missing default config file as empty but a missing explicit one as an error', () => {
    expect(fileLayer(path.join(dir, 'none.toml'), 'default', false)).to.deep.equal({});
    expect(() => fileLayer(path.join(dir, 'none.toml'), 'default', true)).to.throw(SettingsError);
  });
});

describe('paycore CLI output formats', () => {
  const rows = [
    { order_id: 'o-1', amount_minor: 1999n, paid: true },
    { order_id: 'o-2', amount_minor: 9007199254740993n, paid: false },
  ];

  it('prints json as one document with bigints as exact decimal strings', () => {
    const parsed = JSON.parse(render({ kind: 'rows', rows }, 'json')) as { amount_minor: string }[];
    expect(parsed.map((r) => r.amount_minor)).to.deep.equal(['1999', '9007199254740993']);
  });

  it('prints jsonl as one object per row', () => {
    const lines = render({ kind: 'rows', rows }, 'jsonl').trimEnd().split('\n');
    expect(lines).to.have.length(2);
    expect(JSON.parse(lines[1] ?? '')).to.deep.equal({
      order_id: 'o-2',
      amount_minor: '9007199254740993',
      paid: false,
    });
  });

  it('prints text as an aligned table with a header, and a record as key: value lines', () => {
    const table = render({ kind: 'rows', rows }, 'text').split('\n');
    expect(table[0]).to.match(/^ORDER_ID\s+AMOUNT_MINOR\s+PAID$/);
    expect(table[2]).to.match(/^o-2\s+9007199254740993\s+false$/);
    expect(render({ kind: 'record', record: { state: 'PAID', note: '' } }, 'text')).to.equal(
      'state: PAID\nnote:  -\n',
    );
  });

  it('parses payment parts from the command line into exact minor units', () => {
    const parts = parsePart('channel:1001:12.34', parsePart('coupon:c-1:0.66'));
    expect(parts.map((p) => [p.kind, p.payChannel, p.couponId, p.amount?.amountMinor])).to.deep.equal([
      [2, '', 'c-1', 66n],
      [4, '1001', '', 1234n],
    ]);
    expect(() => parsePart('channel:12.34')).to.throw(/malformed/);
    expect(() => parsePart('balance:1.234')).to.throw();
  });
});
