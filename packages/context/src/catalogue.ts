/**
 * The context code catalogue: which codes exist (DESIGN.md §3, "codes are
 * data"). Loaded and validated once at start-up, then consulted on every
 * request so that an unknown code is refused at the edge with
 * INVALID_ARGUMENT / UNKNOWN_BIZ_CODE instead of spreading into rows, events
 * and logs.
 *
 * A code is known iff its product / biz mode / action triple is a declared
 * flow AND either it is unrouted, or its pay channel is one the flow may use
 * and its (pay channel, channel no) pair is a declared route. The file format
 * is described in config/README.md.
 *
 * Validation of the file is strict and names the JSON path of each problem,
 * because a catalogue typo found at start-up costs a redeploy while one found
 * in production costs refused payments.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  BIZ_CODE_PARTS,
  isBizCodePart,
  NO_CHANNEL_NO,
  parseBizCode,
  UNROUTED_PAY_CHANNEL,
  type BizCode,
  type BizCodePart,
} from './biz-code';
import { ContextError, ContextErrorReason } from './errors';

/** Environment variable that overrides the catalogue location. */
export const BIZ_CATALOGUE_FILE_ENV = 'BIZ_CATALOGUE_FILE';
export const CATALOGUE_VERSION = 1;
/** A catalogue is a few kilobytes; anything near this is not a catalogue. */
export const CATALOGUE_FILE_BYTES_MAX = 1024 * 1024;
/** Per dictionary, and for flows and routes. */
export const CATALOGUE_ENTRIES_MAX = 10_000;
export const CATALOGUE_LABEL_LENGTH_MAX = 200;
/** Problems reported at once; the rest are elided. */
const PROBLEMS_REPORTED_MAX = 20;

export interface PartDescription {
  readonly code: string;
  /** undefined when the catalogue does not declare this part. */
  readonly label: string | undefined;
}

export interface BizCodeDescription {
  readonly code: string;
  readonly known: boolean;
  /** Why the code is unknown, when it is. */
  readonly problem: string | undefined;
  readonly product: PartDescription;
  readonly bizMode: PartDescription;
  readonly action: PartDescription;
  readonly payChannel: PartDescription;
  readonly channelNo: PartDescription;
  /** One line for logs and the demo, e.g. "mall checkout / instant / pay / Alipay QR / Alipay direct". */
  readonly text: string;
}

export interface Catalogue {
  /** Where the catalogue came from (file path or a label), for messages. */
  readonly source: string;
  /** Parses and checks a code; throws INVALID_BIZ_CODE (malformed) or UNKNOWN_BIZ_CODE naming the part. */
  validate(code: string, field?: string): BizCode;
  /** True iff validate would succeed. */
  isKnown(code: string): boolean;
  /** Human labels for a well-formed code, known or not (for logs); throws only on malformed codes. */
  describe(code: string): BizCodeDescription;
  /** Pay channels the code's flow may be routed to; throws UNKNOWN_BIZ_CODE for an unknown flow. */
  payChannelsFor(code: string): readonly string[];
  /** Channel numbers that serve a pay channel (empty when none). */
  channelNosFor(payChannel: string): readonly string[];
  /** True for balance, coupon, stored value: served in-house, channel no always 000000. */
  isInternalPayChannel(payChannel: string): boolean;
  /** Every known code: each flow unrouted, then each allowed route (for seeding and the demo). */
  codes(): readonly string[];
}

interface Tables {
  readonly products: ReadonlyMap<string, string>;
  readonly bizModes: ReadonlyMap<string, string>;
  readonly actions: ReadonlyMap<string, string>;
  readonly payChannels: ReadonlyMap<string, { readonly label: string; readonly internal: boolean }>;
  readonly channelNos: ReadonlyMap<string, string>;
  /** "product/bizMode/action" -> pay channels in file order. */
  readonly flows: ReadonlyMap<string, readonly string[]>;
  /** pay channel -> channel numbers in file order. */
  readonly routes: ReadonlyMap<string, readonly string[]>;
}

const flowKey = (product: string, bizMode: string, action: string): string =>
  `${product}/${bizMode}/${action}`;

// ---------------------------------------------------------------------------
// File validation

type JsonObject = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const keyPath = (path: string, key: string): string => `${path}[${JSON.stringify(key)}]`;

/** Collects problems with their JSON paths, so one start-up shows every typo. */
class Problems {
  readonly list: { path: string; message: string }[] = [];

  add(path: string, message: string): void {
    this.list.push({ path, message });
  }

  throwIfAny(source: string): void {
    const first = this.list[0];
    if (first === undefined) return;
    const shown = this.list.slice(0, PROBLEMS_REPORTED_MAX).map((p) => `${p.path}: ${p.message}`);
    const more = this.list.length - shown.length;
    throw new ContextError(
      ContextErrorReason.INVALID_CATALOGUE,
      `invalid context code catalogue ${source}: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
      first.path,
    );
  }
}

function checkKeys(value: JsonObject, path: string, allowed: readonly string[], problems: Problems): void {
  for (const key of Object.keys(value)) {
    // "$comment" and friends are the only way to annotate JSON.
    if (!allowed.includes(key) && !key.startsWith('$')) problems.add(keyPath(path, key), 'unknown key');
  }
}

function checkLabel(value: unknown, path: string, problems: Problems): string | undefined {
  if (typeof value !== 'string' || value.trim() === '' || value.length > CATALOGUE_LABEL_LENGTH_MAX) {
    problems.add(
      path,
      `label must be a non-empty string of at most ${CATALOGUE_LABEL_LENGTH_MAX} characters`,
    );
    return undefined;
  }
  return value;
}

function readDictionary<T>(
  root: JsonObject,
  name: string,
  part: BizCodePart,
  problems: Problems,
  readEntry: (value: unknown, path: string) => T | undefined,
): Map<string, T> {
  const out = new Map<string, T>();
  const path = `$.${name}`;
  const dictionary = root[name];
  if (!isObject(dictionary)) {
    problems.add(path, 'must be an object of code -> entry');
    return out;
  }
  const entries = Object.entries(dictionary);
  if (entries.length > CATALOGUE_ENTRIES_MAX) {
    problems.add(path, `at most ${CATALOGUE_ENTRIES_MAX} entries`);
    return out;
  }
  for (const [code, value] of entries) {
    const entryPath = keyPath(path, code);
    if (!isBizCodePart(part, code)) {
      problems.add(entryPath, `key must be ${BIZ_CODE_PARTS[part]} ASCII digits`);
      continue;
    }
    const entry = readEntry(value, entryPath);
    if (entry !== undefined) out.set(code, entry);
  }
  return out;
}

function readPayChannel(
  value: unknown,
  path: string,
  problems: Problems,
): { label: string; internal: boolean } | undefined {
  if (!isObject(value)) {
    problems.add(path, 'must be an object { "label": string, "internal"?: boolean }');
    return undefined;
  }
  checkKeys(value, path, ['label', 'internal'], problems);
  const label = checkLabel(value.label, `${path}.label`, problems);
  const internal = value.internal ?? false;
  if (typeof internal !== 'boolean') {
    problems.add(`${path}.internal`, 'must be a boolean');
    return undefined;
  }
  return label === undefined ? undefined : { label, internal };
}

/** Reads a list of declared codes, reporting malformed, undeclared, reserved and duplicate items. */
function readCodeList(
  value: unknown,
  path: string,
  declared: ReadonlyMap<string, unknown>,
  what: string,
  reserved: { readonly code: string; readonly why: string } | undefined,
  problems: Problems,
): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > CATALOGUE_ENTRIES_MAX) {
    problems.add(path, `must be a non-empty array of at most ${CATALOGUE_ENTRIES_MAX} ${what} codes`);
    return [];
  }
  const out: string[] = [];
  (value as readonly unknown[]).forEach((item, index) => {
    const itemPath = `${path}[${index}]`;
    if (typeof item !== 'string' || !declared.has(item)) {
      problems.add(itemPath, `${what} ${JSON.stringify(item)} is not declared in $.${what}s`);
    } else if (item === reserved?.code) {
      problems.add(itemPath, reserved.why);
    } else if (out.includes(item)) {
      problems.add(itemPath, `duplicate ${what} ${item}`);
    } else {
      out.push(item);
    }
  });
  return out;
}

function readArray(root: JsonObject, name: string, problems: Problems): readonly unknown[] {
  const value = root[name];
  if (!Array.isArray(value) || value.length > CATALOGUE_ENTRIES_MAX) {
    problems.add(`$.${name}`, `must be an array of at most ${CATALOGUE_ENTRIES_MAX} entries`);
    return [];
  }
  return value as readonly unknown[];
}

function readRoutes(
  root: JsonObject,
  tables: Omit<Tables, 'flows' | 'routes'>,
  problems: Problems,
): Map<string, readonly string[]> {
  const routes = new Map<string, readonly string[]>();
  readArray(root, 'routes', problems).forEach((route, index) => {
    const path = `$.routes[${index}]`;
    if (!isObject(route)) {
      problems.add(path, 'must be an object { "payChannel", "channelNos" }');
      return;
    }
    checkKeys(route, path, ['payChannel', 'channelNos'], problems);
    const payChannel = route.payChannel;
    const channel = typeof payChannel === 'string' ? tables.payChannels.get(payChannel) : undefined;
    if (typeof payChannel !== 'string' || channel === undefined || payChannel === UNROUTED_PAY_CHANNEL) {
      problems.add(
        `${path}.payChannel`,
        `${JSON.stringify(payChannel)} is not a declared, routable pay channel`,
      );
      return;
    }
    if (routes.has(payChannel)) {
      problems.add(`${path}.payChannel`, `pay channel ${payChannel} already has a route entry`);
      return;
    }
    // An external pay channel always goes through a provider, so it needs a real channel number.
    const reserved = channel.internal
      ? undefined
      : {
          code: NO_CHANNEL_NO,
          why: `external pay channel ${payChannel} cannot be served by ${NO_CHANNEL_NO}`,
        };
    const channelNos = readCodeList(
      route.channelNos,
      `${path}.channelNos`,
      tables.channelNos,
      'channelNo',
      reserved,
      problems,
    );
    if (channel.internal && channelNos.some((no) => no !== NO_CHANNEL_NO)) {
      problems.add(
        `${path}.channelNos`,
        `internal pay channel ${payChannel} is served only by ${NO_CHANNEL_NO}`,
      );
    }
    routes.set(payChannel, channelNos);
  });
  return routes;
}

function readFlows(
  root: JsonObject,
  tables: Omit<Tables, 'flows'>,
  problems: Problems,
): Map<string, readonly string[]> {
  const flows = new Map<string, readonly string[]>();
  readArray(root, 'flows', problems).forEach((flow, index) => {
    const path = `$.flows[${index}]`;
    if (!isObject(flow)) {
      problems.add(path, 'must be an object { "product", "bizMode", "action", "payChannels" }');
      return;
    }
    checkKeys(flow, path, ['product', 'bizMode', 'action', 'payChannels'], problems);
    const parts: [string, ReadonlyMap<string, unknown>][] = [
      ['product', tables.products],
      ['bizMode', tables.bizModes],
      ['action', tables.actions],
    ];
    const triple: string[] = [];
    for (const [part, dictionary] of parts) {
      const value = flow[part];
      if (typeof value === 'string' && dictionary.has(value)) {
        triple.push(value);
      } else {
        problems.add(`${path}.${part}`, `${part} ${JSON.stringify(value)} is not declared in $.${part}s`);
      }
    }
    const payChannels = readCodeList(
      flow.payChannels,
      `${path}.payChannels`,
      tables.payChannels,
      'payChannel',
      {
        code: UNROUTED_PAY_CHANNEL,
        why: `${UNROUTED_PAY_CHANNEL} means "not yet routed" and cannot be allowed`,
      },
      problems,
    );
    payChannels.forEach((payChannel) => {
      // A flow allowed to use a pay channel that nobody serves could never be routed.
      if ((tables.routes.get(payChannel) ?? []).length === 0) {
        problems.add(`${path}.payChannels`, `pay channel ${payChannel} has no route in $.routes`);
      }
    });
    if (triple.length !== parts.length) return;
    const key = triple.join('/');
    if (flows.has(key)) {
      problems.add(path, `flow ${key} is declared twice`);
      return;
    }
    flows.set(key, payChannels);
  });
  return flows;
}

function readTables(json: unknown, source: string): Tables {
  const problems = new Problems();
  if (!isObject(json)) {
    throw new ContextError(
      ContextErrorReason.INVALID_CATALOGUE,
      `invalid context code catalogue ${source}: $: must be a JSON object`,
      '$',
    );
  }
  const allowedKeys = [
    'version',
    'products',
    'bizModes',
    'actions',
    'payChannels',
    'channelNos',
    'flows',
    'routes',
  ];
  checkKeys(json, '$', allowedKeys, problems);
  if (json.version !== CATALOGUE_VERSION) problems.add('$.version', `must be ${CATALOGUE_VERSION}`);
  const label = (value: unknown, path: string) => checkLabel(value, path, problems);
  const dictionaries = {
    products: readDictionary(json, 'products', 'product', problems, label),
    bizModes: readDictionary(json, 'bizModes', 'bizMode', problems, label),
    actions: readDictionary(json, 'actions', 'action', problems, label),
    payChannels: readDictionary(json, 'payChannels', 'payChannel', problems, (value, path) =>
      readPayChannel(value, path, problems),
    ),
    channelNos: readDictionary(json, 'channelNos', 'channelNo', problems, label),
  };
  // The reserved "not routed" values need labels so that describe() can name them.
  if (!dictionaries.payChannels.has(UNROUTED_PAY_CHANNEL)) {
    problems.add('$.payChannels', `must declare the reserved ${UNROUTED_PAY_CHANNEL} (not yet routed)`);
  }
  if (dictionaries.payChannels.get(UNROUTED_PAY_CHANNEL)?.internal === true) {
    problems.add(
      keyPath('$.payChannels', UNROUTED_PAY_CHANNEL),
      'the unrouted pay channel cannot be internal',
    );
  }
  if (!dictionaries.channelNos.has(NO_CHANNEL_NO)) {
    problems.add('$.channelNos', `must declare the reserved ${NO_CHANNEL_NO} (none / internal)`);
  }
  const routes = readRoutes(json, dictionaries, problems);
  const flows = readFlows(json, { ...dictionaries, routes }, problems);
  problems.throwIfAny(source);
  return { ...dictionaries, routes, flows };
}

// ---------------------------------------------------------------------------
// Lookups

interface Problem {
  readonly part: BizCodePart | 'flow';
  readonly message: string;
}

function findProblem(tables: Tables, code: BizCode): Problem | undefined {
  if (!tables.products.has(code.product))
    return { part: 'product', message: `unknown product ${code.product}` };
  if (!tables.bizModes.has(code.bizMode))
    return { part: 'bizMode', message: `unknown biz mode ${code.bizMode}` };
  if (!tables.actions.has(code.action)) return { part: 'action', message: `unknown action ${code.action}` };
  const key = flowKey(code.product, code.bizMode, code.action);
  const payChannels = tables.flows.get(key);
  if (payChannels === undefined) return { part: 'flow', message: `no flow ${key} (product/bizMode/action)` };
  if (!code.routed) return undefined;
  if (!tables.payChannels.has(code.payChannel) || code.payChannel === UNROUTED_PAY_CHANNEL) {
    return { part: 'payChannel', message: `unknown pay channel ${code.payChannel}` };
  }
  if (!payChannels.includes(code.payChannel)) {
    return { part: 'payChannel', message: `pay channel ${code.payChannel} is not allowed for flow ${key}` };
  }
  if (!tables.channelNos.has(code.channelNo)) {
    return { part: 'channelNo', message: `unknown channel no ${code.channelNo}` };
  }
  if (!(tables.routes.get(code.payChannel) ?? []).includes(code.channelNo)) {
    return {
      part: 'channelNo',
      message: `channel no ${code.channelNo} does not serve pay channel ${code.payChannel}`,
    };
  }
  return undefined;
}

function describePart(code: string, label: string | undefined): PartDescription {
  return { code, label };
}

class TableCatalogue implements Catalogue {
  constructor(
    readonly source: string,
    private readonly tables: Tables,
  ) {}

  validate(code: string, field = 'biz_code'): BizCode {
    const parsed = parseBizCode(code, field);
    const problem = findProblem(this.tables, parsed);
    if (problem !== undefined) {
      throw new ContextError(
        ContextErrorReason.UNKNOWN_BIZ_CODE,
        `context code ${code} is not in the catalogue: ${problem.message}`,
        field,
      );
    }
    return parsed;
  }

  isKnown(code: string): boolean {
    try {
      this.validate(code);
      return true;
    } catch (err) {
      if (err instanceof ContextError) return false;
      throw err;
    }
  }

  describe(code: string): BizCodeDescription {
    const parsed = parseBizCode(code);
    const problem = findProblem(this.tables, parsed);
    const t = this.tables;
    const parts = {
      product: describePart(parsed.product, t.products.get(parsed.product)),
      bizMode: describePart(parsed.bizMode, t.bizModes.get(parsed.bizMode)),
      action: describePart(parsed.action, t.actions.get(parsed.action)),
      payChannel: describePart(parsed.payChannel, t.payChannels.get(parsed.payChannel)?.label),
      channelNo: describePart(parsed.channelNo, t.channelNos.get(parsed.channelNo)),
    };
    const text = Object.values(parts)
      .map((p) => p.label ?? `?${p.code}`)
      .join(' / ');
    return { code, known: problem === undefined, problem: problem?.message, ...parts, text };
  }

  payChannelsFor(code: string): readonly string[] {
    const parsed = parseBizCode(code);
    const key = flowKey(parsed.product, parsed.bizMode, parsed.action);
    const payChannels = this.tables.flows.get(key);
    if (payChannels === undefined) {
      throw new ContextError(
        ContextErrorReason.UNKNOWN_BIZ_CODE,
        `context code ${code}: no flow ${key}`,
        'biz_code',
      );
    }
    return payChannels;
  }

  channelNosFor(payChannel: string): readonly string[] {
    return this.tables.routes.get(payChannel) ?? [];
  }

  isInternalPayChannel(payChannel: string): boolean {
    return this.tables.payChannels.get(payChannel)?.internal ?? false;
  }

  codes(): readonly string[] {
    const out: string[] = [];
    for (const [key, payChannels] of this.tables.flows) {
      const prefix = key.split('/').join('');
      out.push(`${prefix}${UNROUTED_PAY_CHANNEL}${NO_CHANNEL_NO}`);
      for (const payChannel of payChannels) {
        for (const channelNo of this.channelNosFor(payChannel))
          out.push(`${prefix}${payChannel}${channelNo}`);
      }
    }
    return out;
  }
}

/** Builds a catalogue from already-parsed JSON (pure; `source` names it in messages). */
export function parseCatalogue(json: unknown, source = 'catalogue'): Catalogue {
  return new TableCatalogue(source, readTables(json, source));
}

/** Reads, parses and validates a catalogue file; the only I/O in this package. */
export function loadCatalogue(path: string): Catalogue {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > CATALOGUE_FILE_BYTES_MAX) {
      throw new ContextError(
        ContextErrorReason.INVALID_CATALOGUE,
        `context code catalogue ${path} is ${size} bytes, more than ${CATALOGUE_FILE_BYTES_MAX}`,
        '$',
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ContextError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new ContextError(
      ContextErrorReason.INVALID_CATALOGUE,
      `cannot read context code catalogue: ${why}`,
      '$',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ContextError(
      ContextErrorReason.INVALID_CATALOGUE,
      `context code catalogue ${path} is not JSON: ${why}`,
      '$',
    );
  }
  return parseCatalogue(json, path);
}

/**
 * BIZ_CATALOGUE_FILE when set (relative to the working directory), else
 * config/biz-catalogue.json at the repository root. The root is found from
 * this file's fixed place in the monorepo (packages/context/src), so no
 * directory walking and no I/O happen here.
 */
export function defaultCataloguePath(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[BIZ_CATALOGUE_FILE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  return resolve(__dirname, '..', '..', '..', 'config', 'biz-catalogue.json');
}
