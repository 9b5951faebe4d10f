/**
 * Every error reason a service can return is declared in its proto: in the
 * service's own reason enum or in paycore.common.v1.ErrorReason.
 *
 * How: the sources are scanned (no service is started) for reasons thrown in
 * code — a DomainError subclass's `readonly reason = 'X'`, an
 * `new ApiError(code, 'X', …)`, a field violation's `reason: 'X'`, a status
 * the platform's mapper builds, the members of a `…ErrorReason` constant
 * object (e.g. @paycore/context's), and the keys of a service's
 * `REASON_CODES` table (reason → gRPC code: reconciliation's and settlement's
 * typed errors take their reason from it) — and each is looked up in the enum values
 * parsed out of the .proto files. A missing one is reported as
 * `<service>: <REASON> (<file>:<line>)` naming the enum it belongs in.
 *
 * Checked: the platform kit (whose reasons every service returns, so they
 * belong in the common enum), and each service in SERVICES with the shared
 * packages it depends on. Services not in SERVICES are listed in PENDING with
 * why; a service directory in neither list fails the test, so a new service
 * cannot be forgotten.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

const ROOT = path.resolve(__dirname, '..');
const FILES_MAX = 2_000;

interface ReasonEnum {
  readonly file: string;
  readonly name: string;
  readonly prefix: string;
}

const COMMON: ReasonEnum = {
  file: 'proto/paycore/common/v1/error_reason.proto',
  name: 'paycore.common.v1.ErrorReason',
  prefix: 'ERROR_REASON_',
};

interface CheckedService {
  readonly dir: string;
  readonly reasons: ReasonEnum;
  /** Shared packages under packages/ whose reasons reach this service's callers. */
  readonly packages: readonly string[];
}

const SERVICES: Readonly<Record<string, CheckedService>> = {
  'channel-router': {
    dir: 'services/channel-router/src',
    reasons: {
      file: 'proto/paycore/channel/v1/errors.proto',
      name: 'paycore.channel.v1.ChannelErrorReason',
      prefix: 'CHANNEL_ERROR_REASON_',
    },
    // Not @paycore/money: the router only computes fees over amounts and rates
    // its handlers have already validated, so money's reasons cannot reach a caller.
    // Not @paycore/calendar: the router uses only isIsoDate (a boolean) and
    // ChannelDays, whose rules are validated at start-up.
    packages: ['context', 'errors'],
  },
  account: {
    dir: 'services/account/src',
    reasons: {
      file: 'proto/paycore/account/v1/error_reason.proto',
      name: 'paycore.account.v1.AccountErrorReason',
      prefix: 'ACCOUNT_ERROR_REASON_',
    },
    packages: ['context', 'errors'],
  },
  ledger: {
    dir: 'services/ledger/src',
    reasons: {
      file: 'proto/paycore/ledger/v1/error_reason.proto',
      name: 'paycore.ledger.v1.LedgerErrorReason',
      prefix: 'LEDGER_ERROR_REASON_',
    },
    packages: ['context', 'errors'],
  },
  reconciliation: {
    dir: 'services/reconciliation/src',
    reasons: {
      file: 'proto/paycore/reconciliation/v1/reconciliation_service.proto',
      name: 'paycore.reconciliation.v1.ReconciliationErrorReason',
      prefix: 'RECONCILIATION_ERROR_REASON_',
    },
    // Not @paycore/channel-protocols: its parse failures are ProtocolErrors that
    // reconciliation turns into MALFORMED_STATEMENT; not @paycore/money: its
    // MoneyError is a programmer error (INTERNAL), never a declared refusal.
    packages: ['context', 'errors'],
  },
  settlement: {
    dir: 'services/settlement/src',
    reasons: {
      file: 'proto/paycore/settlement/v1/settlement_service.proto',
      name: 'paycore.settlement.v1.SettlementErrorReason',
      prefix: 'SETTLEMENT_ERROR_REASON_',
    },
    // @paycore/calendar: a settlement date in a year without calendar data is refused with its reason.
    packages: ['context', 'errors', 'calendar'],
  },
  cashier: {
    dir: 'services/cashier/src',
    reasons: {
      file: 'proto/paycore/cashier/v1/cashier_service.proto',
      name: 'paycore.cashier.v1.CashierErrorReason',
      prefix: 'CASHIER_ERROR_REASON_',
    },
    packages: ['context', 'errors'],
  },
};

const PENDING: Readonly<Record<string, string>> = {
  'channel-sandbox': 'a test double of the channels, speaking their HTTP protocols; it has no gRPC API',
};

/** Reasons a shared package throws only while a process starts: no RPC returns them. */
const STARTUP_ONLY: Readonly<Record<string, string>> = {
  INVALID_CATALOGUE: 'the code catalogue failed to load; the service does not start',
};

interface Found {
  readonly reason: string;
  readonly where: string;
}

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) {
      if (name !== 'node_modules' && name !== 'gen') sources(full, out);
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(full);
    if (out.length > FILES_MAX) throw new Error(`more than ${FILES_MAX} files under ${dir}`);
  }
  return out;
}

const LINE_PATTERNS: readonly RegExp[] = [
  /readonly reason = '([A-Z][A-Z0-9_]*)'/g,
  /new ApiError\(\s*'[A-Z_]+',\s*'([A-Z][A-Z0-9_]*)'/g,
  /(?<!readonly )\breason: '([A-Z][A-Z0-9_]*)'/g,
  /build\(GrpcStatus\.[A-Z_]+, '([A-Z][A-Z0-9_]*)'/g,
];

/**
 * Members of `export const SomethingErrorReason = { X: 'X', … }`, and the keys
 * of `export const REASON_CODES = { X: 'GRPC_CODE', … }` (the reason → status
 * table a service's typed error takes its reason from).
 */
function reasonObjects(text: string): string[] {
  const found: string[] = [];
  for (const block of text.matchAll(/export const \w*ErrorReason\s*=\s*\{([^}]*)\}/g)) {
    for (const member of (block[1] ?? '').matchAll(/^\s*([A-Z][A-Z0-9_]*):\s*'\1'/gm)) {
      if (member[1] !== undefined) found.push(member[1]);
    }
  }
  for (const block of text.matchAll(/export const REASON_CODES\s*=\s*\{([^}]*)\}/g)) {
    for (const member of (block[1] ?? '').matchAll(/^\s*([A-Z][A-Z0-9_]*):\s*'[A-Z_]+'/gm)) {
      if (member[1] !== undefined) found.push(member[1]);
    }
  }
  return found;
}

function thrownReasons(dir: string): Found[] {
  const found: Found[] = [];
  for (const file of sources(path.join(ROOT, dir))) {
    const text = readFileSync(file, 'utf8');
    const relative = path.relative(ROOT, file);
    text.split('\n').forEach((line, index) => {
      for (const pattern of LINE_PATTERNS) {
        for (const match of line.matchAll(pattern)) {
          if (match[1] !== undefined) found.push({ reason: match[1], where: `${relative}:${index + 1}` });
        }
      }
    });
    for (const reason of reasonObjects(text)) found.push({ reason, where: relative });
  }
  return found.filter((f) => !(f.reason in STARTUP_ONLY));
}

function declared(reasons: ReasonEnum): Set<string> {
  const text = readFileSync(path.join(ROOT, reasons.file), 'utf8');
  const name = reasons.name.split('.').at(-1) ?? '';
  const body = new RegExp(`enum ${name}\\s*\\{([^}]*)\\}`).exec(text)?.[1];
  if (body === undefined) throw new Error(`${reasons.file} declares no enum ${name}`);
  const values = new Set<string>();
  for (const match of body.matchAll(new RegExp(`\\b${reasons.prefix}([A-Z0-9_]+)\\s*=\\s*\\d+`, 'g'))) {
    if (match[1] !== undefined && match[1] !== 'UNSPECIFIED') values.add(match[1]);
  }
  return values;
}

function missing(service: string, found: readonly Found[], enums: readonly ReasonEnum[]): string[] {
  const known = new Set(enums.flatMap((e) => [...declared(e)]));
  const names = enums.map((e) => e.name).join(' or ');
  return found
    .filter((f) => !known.has(f.reason))
    .map((f) => `${service}: ${f.reason} (${f.where}) is not declared in ${names}`);
}

describe('every error reason a service returns is declared in its proto', () => {
  it('the platform kit returns only reasons of paycore.common.v1.ErrorReason', () => {
    const found = thrownReasons('packages/platform/src');
    expect(found.map((f) => f.reason)).to.include.members([
      'INVALID_FIELD',
      'IDEMPOTENCY_KEY_REUSED',
      'INTERNAL',
    ]);
    expect(missing('platform', found, [COMMON])).to.deep.equal([]);
  });

  for (const [service, checked] of Object.entries(SERVICES)) {
    it(`${service} returns only reasons of its own enum or the common one`, () => {
      const own = thrownReasons(checked.dir);
      expect(own.length, `no reasons found under ${checked.dir}: is the scan broken?`).to.be.greaterThan(0);
      const shared = checked.packages.flatMap((name) => thrownReasons(`packages/${name}/src`));
      expect(missing(service, [...own, ...shared], [checked.reasons, COMMON])).to.deep.equal([]);
    });
  }

  it('every service directory is checked or says why it is not yet', () => {
    const services = readdirSync(path.join(ROOT, 'services')).filter((name) =>
      statSync(path.join(ROOT, 'services', name)).isDirectory(),
    );
    const unaccounted = services.filter((name) => !(name in SERVICES) && !(name in PENDING));
    expect(unaccounted, 'add each to SERVICES (with its reason enum) or to PENDING').to.deep.equal([]);
  });
});
