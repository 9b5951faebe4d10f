/**
 * Proves the catalogue decides correctly which codes exist, using the
 * repository's default config/biz-catalogue.json: every code it lists is
 * accepted, and each way a code can be wrong (unknown part, undeclared flow,
 * pay channel not allowed for the flow, channel no not serving the pay
 * channel, half-routed, malformed) is refused with the right reason and a
 * message naming the part. It then proves the file's own validation: each
 * mutation of a small fixed fixture catalogue (one rule broken at a time) is
 * refused with INVALID_CATALOGUE and `field` set to the JSON path at fault,
 * while the unmodified fixture yields exactly the expected codes; file-level
 * failures (missing, not JSON, too large) are reported. The default path
 * honours BIZ_CATALOGUE_FILE.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CATALOGUE_FILE_BYTES_MAX,
  ContextError,
  defaultCataloguePath,
  loadCatalogue,
  parseCatalogue,
  withRoute,
  type Catalogue,
} from './index';

function errorOf(fn: () => unknown): ContextError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ContextError) return err;
    throw err;
  }
  throw new Error('expected a ContextError, nothing was thrown');
}

type Json = Record<string, unknown>;

describe('catalogue: the default file', () => {
  let catalogue: Catalogue;
  before(() => {
    catalogue = loadCatalogue(defaultCataloguePath({}));
  });

  it('is found at config/biz-catalogue.json and lists codes', () => {
    expect(defaultCataloguePath({})).to.equal(resolve(__dirname, '../../../config/biz-catalogue.json'));
    expect(catalogue.codes().length).to.be.greaterThan(50);
  });

  it('accepts every code it lists, unrouted and routed', () => {
    for (const code of catalogue.codes()) {
      expect(catalogue.validate(code).code).to.equal(code);
      expect(catalogue.isKnown(code)).to.equal(true);
      expect(catalogue.describe(code).known).to.equal(true);
    }
  });

  it('accepts the flows of DESIGN.md §3', () => {
    const known = [
      '10010101010000000000', // mall checkout, instant, pay, unrouted
      '10010101011001100001', // ... Alipay QR via Alipay direct
      '10010101012002200001', // ... WeChat JSAPI via WeChat direct
      '10010101010002000000', // ... coupon, internal
      '10010101013001300002', // ... bank quick pay via bank B
      '10020101011002100001', // bill payment, Alipay app
      '10030103030000000000', // ad-credit coins, prepaid, top-up, unrouted
      '10030103070003000000', // ad-credit coins, consume stored value
      '10050101064001300001', // merchant settlement payout via bank A
    ];
    for (const code of known) expect(catalogue.isKnown(code), code).to.equal(true);
  });

  const refused: [string, string, string][] = [
    ['unknown product', '99999901010000000000', 'unknown product 999999'],
    ['unknown biz mode', '10010109010000000000', 'unknown biz mode 09'],
    ['unknown action', '10010101990000000000', 'unknown action 99'],
    ['undeclared flow', '10020102010000000000', 'no flow 100201/02/01'],
    ['unknown pay channel', '10010101019999100001', 'unknown pay channel 9999'],
    [
      'pay channel not allowed for the flow',
      '10030103070001000000',
      'pay channel 0001 is not allowed for flow 100301/03/07',
    ],
    [
      'payout channel on a pay flow',
      '10010101014001300001',
      'pay channel 4001 is not allowed for flow 100101/01/01',
    ],
    ['unknown channel no', '10010101011001999999', 'unknown channel no 999999'],
    [
      'channel no not serving the pay channel',
      '10010101011001200001',
      'channel no 200001 does not serve pay channel 1001',
    ],
    [
      'external channel without provider',
      '10010101011001000000',
      'channel no 000000 does not serve pay channel 1001',
    ],
    [
      'internal channel with a provider',
      '10010101010001100001',
      'channel no 100001 does not serve pay channel 0001',
    ],
    ['half routed: no pay channel, a channel no', '10010101010000100001', 'unknown pay channel 0000'],
  ];
  for (const [why, code, message] of refused) {
    it(`refuses ${why} with UNKNOWN_BIZ_CODE`, () => {
      const err = errorOf(() => catalogue.validate(code, 'request.biz_code'));
      expect(err.reason).to.equal('UNKNOWN_BIZ_CODE');
      expect(err.grpcCode).to.equal('INVALID_ARGUMENT');
      expect(err.field).to.equal('request.biz_code');
      expect(err.message).to.contain(message);
      expect(catalogue.isKnown(code)).to.equal(false);
    });
  }

  it('refuses malformed codes with INVALID_BIZ_CODE', () => {
    expect(errorOf(() => catalogue.validate('1001010101')).reason).to.equal('INVALID_BIZ_CODE');
    expect(catalogue.isKnown('abc')).to.equal(false);
  });

  it('describes codes with labels, known or not', () => {
    const description = catalogue.describe('10010101011001100001');
    expect(description.known).to.equal(true);
    expect(description.problem).to.equal(undefined);
    expect(description.payChannel).to.deep.equal({ code: '1001', label: 'Alipay QR' });
    expect(description.text).to.equal(
      'mall checkout (商城收银) / instant (即时到账) / pay / Alipay QR / Alipay direct',
    );
    const unknown = catalogue.describe('10010101991001100001');
    expect(unknown.known).to.equal(false);
    expect(unknown.problem).to.equal('unknown action 99');
    expect(unknown.text).to.contain('?99');
  });

  it('answers routing questions', () => {
    expect(catalogue.payChannelsFor('10030103070000000000')).to.deep.equal(['0003']);
    expect(catalogue.channelNosFor('3001')).to.deep.equal(['300001', '300002']);
    expect(catalogue.channelNosFor('9999')).to.deep.equal([]);
    expect(catalogue.isInternalPayChannel('0002')).to.equal(true);
    expect(catalogue.isInternalPayChannel('1001')).to.equal(false);
    expect(errorOf(() => catalogue.payChannelsFor('10020102010000000000')).reason).to.equal(
      'UNKNOWN_BIZ_CODE',
    );
    // Every (pay channel, channel no) the router may choose yields a known code.
    const start = '10010101010000000000';
    for (const payChannel of catalogue.payChannelsFor(start)) {
      for (const channelNo of catalogue.channelNosFor(payChannel)) {
        expect(catalogue.isKnown(withRoute(start, payChannel, channelNo).code)).to.equal(true);
      }
    }
  });
});

describe('catalogue: file validation', () => {
  // A small, fixed catalogue so that the JSON paths below do not move when
  // the default file is edited.
  const base: Json = {
    $comment: 'fixture',
    version: 1,
    products: { '100101': 'mall checkout', '100201': 'bill payment' },
    bizModes: { '01': 'instant' },
    actions: { '01': 'pay', '02': 'refund' },
    payChannels: {
      '0000': { label: 'not yet routed' },
      '0001': { label: 'balance', internal: true },
      '1001': { label: 'Alipay QR' },
      '3001': { label: 'bank quick pay' },
    },
    channelNos: { '000000': 'none', '100001': 'Alipay direct', '300001': 'bank A' },
    flows: [
      { product: '100101', bizMode: '01', action: '01', payChannels: ['0001', '1001', '3001'] },
      { product: '100101', bizMode: '01', action: '02', payChannels: ['0001', '1001'] },
      { product: '100201', bizMode: '01', action: '01', payChannels: ['1001'] },
    ],
    routes: [
      { payChannel: '0001', channelNos: ['000000'] },
      { payChannel: '1001', channelNos: ['100001'] },
      { payChannel: '3001', channelNos: ['300001'] },
    ],
  };

  function mutated(change: (json: Json) => void): Json {
    const copy = JSON.parse(JSON.stringify(base)) as Json;
    change(copy);
    return copy;
  }

  const at = (json: Json, ...keys: (string | number)[]): Json => {
    let node: unknown = json;
    for (const key of keys) node = (node as Record<string | number, unknown>)[key];
    return node as Json;
  };

  const cases: [string, (json: Json) => void, string, string][] = [
    ['a wrong version', (j) => (j.version = 2), '$.version', 'must be 1'],
    ['an unknown top-level key', (j) => (j.flow = []), '$["flow"]', 'unknown key'],
    ['a 5-digit product', (j) => (at(j, 'products')['10010'] = 'x'), '$.products["10010"]', '6 ASCII digits'],
    ['an empty label', (j) => (at(j, 'actions')['01'] = ' '), '$.actions["01"]', 'non-empty string'],
    [
      'a non-string label',
      (j) => (at(j, 'channelNos')['300001'] = 7),
      '$.channelNos["300001"]',
      'non-empty string',
    ],
    [
      'a non-boolean internal flag',
      (j) => (at(j, 'payChannels', '0001').internal = 'yes'),
      '$.payChannels["0001"].internal',
      'boolean',
    ],
    [
      'an internal 0000',
      (j) => (at(j, 'payChannels', '0000').internal = true),
      '$.payChannels["0000"]',
      'cannot be internal',
    ],
    [
      'a missing 0000 pay channel',
      (j) => delete at(j, 'payChannels')['0000'],
      '$.payChannels',
      'reserved 0000',
    ],
    [
      'a missing 000000 channel no',
      (j) => delete at(j, 'channelNos')['000000'],
      '$.channelNos',
      'reserved 000000',
    ],
    ['a missing dictionary', (j) => delete j.bizModes, '$.bizModes', 'must be an object'],
    [
      'a flow with an undeclared product',
      (j) => (at(j, 'flows', 1).product = '777777'),
      '$.flows[1].product',
      'not declared in $.products',
    ],
    [
      'a flow with an undeclared pay channel',
      (j) => (at(j, 'flows', 2).payChannels = ['1001', '9999']),
      '$.flows[2].payChannels[1]',
      'not declared in $.payChannels',
    ],
    [
      'a flow allowing 0000',
      (j) => (at(j, 'flows', 2).payChannels = ['0000']),
      '$.flows[2].payChannels[0]',
      'not yet routed',
    ],
    [
      'a flow with no pay channels',
      (j) => (at(j, 'flows', 2).payChannels = []),
      '$.flows[2].payChannels',
      'non-empty array',
    ],
    [
      'a flow listing a pay channel twice',
      (j) => (at(j, 'flows', 2).payChannels = ['1001', '1001']),
      '$.flows[2].payChannels[1]',
      'duplicate',
    ],
    [
      'a duplicate flow',
      (j) => (j.flows as unknown[]).push(at(j, 'flows', 0)),
      '$.flows[3]',
      'declared twice',
    ],
    [
      'a flow key typo',
      (j) => (at(j, 'flows', 1).pay_channels = []),
      '$.flows[1]["pay_channels"]',
      'unknown key',
    ],
    [
      'a flow channel without a route',
      (j) => (j.routes as unknown[]).splice(2, 1),
      '$.flows[0].payChannels',
      '3001 has no route',
    ],
    ['flows that are not an array', (j) => (j.flows = 'all'), '$.flows', 'must be an array'],
    [
      'a route for an undeclared pay channel',
      (j) => (at(j, 'routes', 0).payChannel = '5555'),
      '$.routes[0].payChannel',
      'not a declared',
    ],
    [
      'a route for 0000',
      (j) => (at(j, 'routes', 0).payChannel = '0000'),
      '$.routes[0].payChannel',
      'routable',
    ],
    [
      'an internal channel served by a provider',
      (j) => (at(j, 'routes', 0).channelNos = ['100001']),
      '$.routes[0].channelNos',
      'served only by 000000',
    ],
    [
      'an external channel served by 000000',
      (j) => (at(j, 'routes', 1).channelNos = ['000000']),
      '$.routes[1].channelNos[0]',
      'cannot be served by 000000',
    ],
    [
      'an undeclared channel no',
      (j) => (at(j, 'routes', 2).channelNos = ['300001', '300009']),
      '$.routes[2].channelNos[1]',
      'not declared in $.channelNos',
    ],
    [
      'a duplicate route',
      (j) => (j.routes as unknown[]).push({ payChannel: '1001', channelNos: ['100001'] }),
      '$.routes[3].payChannel',
      'already has a route',
    ],
  ];

  for (const [what, change, path, message] of cases) {
    it(`refuses ${what}, naming ${path}`, () => {
      const err = errorOf(() => parseCatalogue(mutated(change), 'test.json'));
      expect(err.reason).to.equal('INVALID_CATALOGUE');
      expect(err.field).to.equal(path);
      expect(err.message).to.contain(`${path}: `).and.to.contain(message).and.to.contain('test.json');
    });
  }

  it('accepts the unmodified fixture, with its rules applied', () => {
    const catalogue = parseCatalogue(base);
    expect(catalogue.source).to.equal('catalogue');
    expect(catalogue.codes()).to.deep.equal([
      '10010101010000000000',
      '10010101010001000000',
      '10010101011001100001',
      '10010101013001300001',
      '10010101020000000000',
      '10010101020001000000',
      '10010101021001100001',
      '10020101010000000000',
      '10020101011001100001',
    ]);
    expect(catalogue.isKnown('10020101010001000000')).to.equal(false);
  });

  it('reports several problems at once', () => {
    const err = errorOf(() =>
      parseCatalogue(
        mutated((j) => {
          j.version = 0;
          at(j, 'flows', 1).product = '777777';
        }),
      ),
    );
    expect(err.field).to.equal('$.version');
    expect(err.message).to.contain('$.flows[1].product');
  });

  it('refuses a root that is not an object', () => {
    expect(errorOf(() => parseCatalogue([])).field).to.equal('$');
  });
});

describe('catalogue: loading files', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'paycore-catalogue-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports a missing file, a non-JSON file and an oversized file', () => {
    const missing = errorOf(() => loadCatalogue(join(dir, 'missing.json')));
    expect(missing.reason).to.equal('INVALID_CATALOGUE');
    expect(missing.message).to.contain('missing.json');

    writeFileSync(join(dir, 'broken.json'), '{ "version": 1,');
    const broken = errorOf(() => loadCatalogue(join(dir, 'broken.json')));
    expect(broken.message).to.contain('is not JSON');

    writeFileSync(join(dir, 'huge.json'), ' '.repeat(CATALOGUE_FILE_BYTES_MAX + 1));
    expect(errorOf(() => loadCatalogue(join(dir, 'huge.json'))).message).to.contain('bytes');
  });

  it('resolves BIZ_CATALOGUE_FILE against the working directory', () => {
    expect(defaultCataloguePath({ BIZ_CATALOGUE_FILE: '/etc/paycore/codes.json' })).to.equal(
      '/etc/paycore/codes.json',
    );
    expect(defaultCataloguePath({ BIZ_CATALOGUE_FILE: 'codes.json' })).to.equal(resolve('codes.json'));
    expect(defaultCataloguePath({ BIZ_CATALOGUE_FILE: '' })).to.equal(defaultCataloguePath({}));
  });
});
