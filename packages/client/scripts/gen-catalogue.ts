/**
 * `make gen` step: reads the protos (through `buf build`, so it sees exactly
 * what the code generator sees) and writes src/generated/catalogue.ts:
 *
 * - every error-reason enum — `paycore.common.v1.ErrorReason` and each
 *   service's `*ErrorReason` — as exported constants, value prefix removed
 *   (`ERROR_REASON_INSUFFICIENT_BALANCE` → `INSUFFICIENT_BALANCE`, the string
 *   the server sends in ErrorInfo.reason), with the enum value's comment;
 * - every RPC of every paycore service with the scope and the error reasons
 *   its comment documents ("Scope cashier:write", "Errors: NOT_FOUND
 *   ORDER_NOT_FOUND, ..."), which the CLI uses to mint tokens with only the
 *   scope a command needs and docs/api-errors.md lists.
 *
 * `--markdown` prints docs/api-errors.md instead (a test keeps the committed
 * file equal to this output).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const OUT_FILE = path.join(ROOT, 'packages', 'client', 'src', 'generated', 'catalogue.ts');
const IMAGE_BYTES_MAX = 256 * 1024 * 1024;
const GRPC_CODES = new Set([
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
]);

interface Location {
  readonly path?: number[];
  readonly leadingComments?: string;
}
interface EnumValue {
  readonly name: string;
  readonly number?: number;
}
interface EnumType {
  readonly name: string;
  readonly value?: EnumValue[];
}
interface Method {
  readonly name: string;
  /** Fully qualified, with a leading dot: `.paycore.cashier.v1.PayRequest`. */
  readonly inputType?: string;
}
interface MessageType {
  readonly name: string;
  readonly nestedType?: MessageType[];
}
interface Service {
  readonly name: string;
  readonly method?: Method[];
}
interface FileDescriptor {
  readonly name: string;
  readonly package?: string;
  readonly enumType?: EnumType[];
  readonly messageType?: MessageType[];
  readonly service?: Service[];
  readonly sourceCodeInfo?: { location?: Location[] };
}

export interface ReasonEnum {
  readonly context: string;
  readonly enumName: string;
  readonly constName: string;
  readonly values: readonly { readonly reason: string; readonly description: string }[];
}
export interface RpcEntry {
  readonly context: string;
  readonly service: string;
  readonly rpc: string;
  readonly path: string;
  readonly scope: string;
  readonly errors: readonly { readonly code: string; readonly reason: string }[];
}

// Field numbers in descriptor.proto: FileDescriptorProto.enum_type = 5,
// .service = 6; EnumDescriptorProto.value = 2; ServiceDescriptorProto.method = 2.
const FILE_ENUM = 5;
const FILE_SERVICE = 6;
const CHILD = 2;

function comment(file: FileDescriptor, at: readonly number[]): string {
  const location = file.sourceCodeInfo?.location?.find(
    (l) => l.path !== undefined && l.path.length === at.length && l.path.every((p, i) => p === at[i]),
  );
  return (location?.leadingComments ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');
}

const upperSnake = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
const pascal = (name: string): string =>
  name
    .split(/[-_]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/** The `paycore.<context>.v1` package's context, or undefined for other packages. */
function contextOf(pkg: string | undefined): string | undefined {
  const match = /^paycore\.([a-z]+)\.v[0-9]+$/.exec(pkg ?? '');
  return match?.[1];
}

/**
 * "Errors: NOT_FOUND ORDER_NOT_FOUND, FAILED_PRECONDITION X (why), Y; ..." → code/reason pairs.
 *
 * A reason right after a code takes that code. A bare reason takes the code
 * its enum value's comment declares (`declaredCode`, e.g. "… NOT_FOUND."),
 * else the last code named before it. "Errors as Pay" / "Errors as
 * ReconcileDay plus X" are resolved by `collect` (`sameAs`).
 */
export function parseErrors(
  text: string,
  declaredCode: (reason: string) => string | undefined = () => undefined,
): { code: string; reason: string }[] {
  // "Errors:", "Errors (definite refusals):", or the additions of "Errors as X plus …".
  const start = /Errors(?:\s*\([^)]*\))?:|Errors as [A-Za-z0-9]+ plus /.exec(text);
  if (start === null) return [];
  const stripped = text
    .slice(start.index + start[0].length)
    .replace(/`[^`]*`/g, ' ')
    .replace(/\([^)]*\)/g, ' ');
  const found: { code: string; reason: string }[] = [];
  let code = '';
  let previousWasCode = false;
  for (const token of stripped.match(/\b[A-Z][A-Z0-9_]+\b/g) ?? []) {
    if (GRPC_CODES.has(token)) {
      code = token;
      previousWasCode = true;
      continue;
    }
    if (!token.includes('_')) continue;
    const chosen = previousWasCode ? code : (declaredCode(token) ?? code);
    previousWasCode = false;
    if (chosen === '') continue;
    if (!found.some((f) => f.reason === token && f.code === chosen))
      found.push({ code: chosen, reason: token });
  }
  return found;
}

/** "Errors as Pay" / "Errors as ReconcileDay plus …": the RPC whose errors this one shares. */
export function sameAs(text: string): string | undefined {
  return /\bErrors as ([A-Z][A-Za-z0-9]*)/.exec(text)?.[1];
}

/** The gRPC code a reason's enum comment names last ("No such difference. NOT_FOUND."). */
function codeInComment(description: string): string | undefined {
  const codes = (description.match(/\b[A-Z][A-Z_]+\b/g) ?? []).filter((word) => GRPC_CODES.has(word));
  return codes[codes.length - 1];
}

export function parseScope(text: string): string {
  return /\bScope:?\s+`?([a-z][a-z0-9-]*:[a-z][a-z0-9-]*)`?/.exec(text)?.[1] ?? '';
}

export function readImage(): FileDescriptor[] {
  const json = execFileSync(
    path.join(ROOT, 'node_modules', '.bin', 'buf'),
    ['build', '-o', '-#format=json', '--path', 'proto/paycore'],
    { cwd: ROOT, maxBuffer: IMAGE_BYTES_MAX, encoding: 'utf8' },
  );
  return (JSON.parse(json) as { file: FileDescriptor[] }).file;
}

export function collect(files: readonly FileDescriptor[]): { reasons: ReasonEnum[]; rpcs: RpcEntry[] } {
  const reasons: ReasonEnum[] = [];
  const rpcs: RpcEntry[] = [];
  for (const file of [...files].sort((a, b) => a.name.localeCompare(b.name))) {
    const context = contextOf(file.package);
    if (context === undefined) continue;
    (file.enumType ?? []).forEach((enumType, enumIndex) => {
      if (!/(^|[a-z])ErrorReason$/.test(enumType.name)) return;
      const prefix = `${upperSnake(enumType.name)}_`;
      const values = (enumType.value ?? [])
        .map((value, valueIndex) => ({ value, valueIndex }))
        .filter(({ value }) => (value.number ?? 0) !== 0)
        .map(({ value, valueIndex }) => {
          if (!value.name.startsWith(prefix)) {
            throw new Error(`${file.name}: ${enumType.name}.${value.name} lacks the prefix ${prefix}`);
          }
          return {
            reason: value.name.slice(prefix.length),
            description: comment(file, [FILE_ENUM, enumIndex, CHILD, valueIndex]),
          };
        });
      const constName = enumType.name === 'ErrorReason' ? `${pascal(context)}ErrorReason` : enumType.name;
      reasons.push({ context, enumName: `${file.package ?? ''}.${enumType.name}`, constName, values });
    });
  }
  // Second pass, once every reason enum is known (the common enum sorts after some services).
  for (const file of [...files].sort((a, b) => a.name.localeCompare(b.name))) {
    const context = contextOf(file.package);
    if (context === undefined) continue;
    const declared = (reason: string): string | undefined => {
      for (const e of reasons) {
        if (e.context !== context && e.context !== 'common') continue;
        const value = e.values.find((v) => v.reason === reason);
        const code = value === undefined ? undefined : codeInComment(value.description);
        if (code !== undefined) return code;
      }
      return undefined;
    };
    (file.service ?? []).forEach((service, serviceIndex) => {
      const own: RpcEntry[] = [];
      const shared: { entry: RpcEntry; from: string; text: string }[] = [];
      (service.method ?? []).forEach((method, methodIndex) => {
        const text = comment(file, [FILE_SERVICE, serviceIndex, CHILD, methodIndex]);
        const entry: RpcEntry = {
          context,
          service: `${file.package ?? ''}.${service.name}`,
          rpc: method.name,
          path: `/${file.package ?? ''}.${service.name}/${method.name}`,
          scope: parseScope(text),
          errors: parseErrors(text, declared),
        };
        own.push(entry);
        const from = sameAs(text);
        if (from !== undefined) shared.push({ entry, from, text });
      });
      // "Errors as X": X's errors first, then this RPC's own additions.
      for (const { entry, from, text } of shared) {
        const source = own.find((r) => r.rpc === from);
        if (source === undefined)
          throw new Error(`${entry.path}: "Errors as ${from}" names no RPC of its service`);
        // "(…, never NOT_FOUND)": the shared list without that code.
        const never = new Set([...text.matchAll(/\bnever ([A-Z][A-Z_]+)\b/g)].map((m) => m[1]));
        const errors = source.errors.filter((e) => !never.has(e.code));
        for (const e of entry.errors)
          if (!errors.some((x) => x.code === e.code && x.reason === e.reason)) errors.push(e);
        own[own.indexOf(entry)] = { ...entry, errors };
      }
      rpcs.push(...own);
    });
  }
  return { reasons, rpcs };
}

const quote = (value: string): string => JSON.stringify(value);
const docComment = (text: string, indent: string): string =>
  text === '' ? '' : `${indent}/** ${text.replace(/\*\//g, '* /')} */\n`;

export function renderTypeScript(reasons: readonly ReasonEnum[], rpcs: readonly RpcEntry[]): string {
  let out =
    '// Code generated by packages/client/scripts/gen-catalogue.ts (make gen) from the protos. DO NOT EDIT.\n\n';
  for (const e of reasons) {
    out += `/** ${e.enumName}: the ErrorInfo reasons it declares. */\n`;
    out += `export const ${e.constName} = {\n`;
    for (const v of e.values) out += `${docComment(v.description, '  ')}  ${v.reason}: ${quote(v.reason)},\n`;
    out += `} as const;\n`;
    out += `export type ${e.constName} = (typeof ${e.constName})[keyof typeof ${e.constName}];\n\n`;
  }
  const documented = new Map<string, Set<string>>();
  for (const r of rpcs) {
    const set = documented.get(r.context) ?? new Set<string>();
    for (const e of r.errors) set.add(e.reason);
    documented.set(r.context, set);
  }
  for (const [context, set] of [...documented.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const name = `${pascal(context)}DocumentedReasons`;
    out += `/** Every reason the ${context} RPCs' comments document (see RPCS for which RPC sends which). */\n`;
    out += `export const ${name} = {\n`;
    for (const reason of [...set].sort()) out += `  ${reason}: ${quote(reason)},\n`;
    out += `} as const;\n\n`;
  }
  out += '/** Every declared reason enum, by context. */\n';
  out += 'export const ERROR_REASON_ENUMS = {\n';
  for (const e of reasons) out += `  ${quote(`${e.context}:${e.constName}`)}: ${e.constName},\n`;
  out += '} as const;\n\n';
  out +=
    'export interface RpcInfo {\n  readonly context: string;\n  readonly service: string;\n  readonly rpc: string;\n';
  out +=
    '  readonly path: string;\n  /** The scope the RPC requires, from its proto comment. */\n  readonly scope: string;\n';
  out += '  /** The errors its proto comment documents: gRPC code and ErrorInfo reason. */\n';
  out += '  readonly errors: readonly { readonly code: string; readonly reason: string }[];\n}\n\n';
  out += '/** Every RPC of every paycore service, keyed by full method path. */\n';
  out += 'export const RPCS: Readonly<Record<string, RpcInfo>> = {\n';
  for (const r of rpcs) out += `  ${quote(r.path)}: ${JSON.stringify(r)},\n`;
  out += '};\n';
  return out;
}

export function renderMarkdown(reasons: readonly ReasonEnum[], rpcs: readonly RpcEntry[]): string {
  let out = '# Error reasons and scopes per RPC\n\n';
  out +=
    'Generated from the protos by `tsx packages/client/scripts/gen-catalogue.ts --markdown`; do not edit\n';
  out +=
    '(a test compares this file with the generator). Each failed call carries a `google.rpc.ErrorInfo`\n';
  out += 'whose `reason` is one of these names (`PaycoreError.reason` in @paycore/client); see\n';
  out += '[the API guide](api-guide.md) for how to handle them.\n\n';
  out += '## Declared reason enums\n\n';
  for (const e of reasons) {
    out += `### ${e.enumName} (\`${e.constName}\`)\n\n| reason | meaning |\n|---|---|\n`;
    for (const v of e.values) out += `| \`${v.reason}\` | ${v.description.replace(/\|/g, '\\|')} |\n`;
    out += '\n';
  }
  out += '## RPCs\n\nEvery RPC can also fail with UNAUTHENTICATED `UNAUTHENTICATED`, PERMISSION_DENIED\n';
  out += '`MISSING_SCOPE`, INVALID_ARGUMENT `DEADLINE_REQUIRED` / `INVALID_FIELD`, UNAVAILABLE\n';
  out += '`DEPENDENCY_UNAVAILABLE` and INTERNAL `INTERNAL`.\n\n';
  let service = '';
  for (const r of rpcs) {
    if (r.service !== service) {
      service = r.service;
      out += `### ${service}\n\n| RPC | scope | errors (code reason) |\n|---|---|---|\n`;
    }
    const errors = r.errors.map((e) => `${e.code} \`${e.reason}\``).join(', ');
    out += `| ${r.rpc} | ${r.scope === '' ? '-' : `\`${r.scope}\``} | ${errors === '' ? '-' : errors} |\n`;
    const next = rpcs[rpcs.indexOf(r) + 1];
    if (next === undefined || next.service !== service) out += '\n';
  }
  return out;
}

const REQUESTS_FILE = path.join(ROOT, 'packages', 'client', 'src', 'generated', 'requests.ts');

/**
 * src/generated/requests.ts: the request message of every paycore RPC, by
 * method path, so the client can complete a partial request with the
 * message's generated `fromPartial` (nested messages included).
 */
export function renderRequests(files: readonly FileDescriptor[]): string {
  // Full message name -> [module, ts-proto name (nested types joined by "_")].
  const where = new Map<string, readonly [string, string]>();
  const visit = (module: string, prefix: string, tsPrefix: string, types: readonly MessageType[]): void => {
    for (const t of types) {
      where.set(`${prefix}.${t.name}`, [module, `${tsPrefix}${t.name}`]);
      visit(module, `${prefix}.${t.name}`, `${tsPrefix}${t.name}_`, t.nestedType ?? []);
    }
  };
  for (const file of files) {
    visit(
      `@paycore/proto/${file.name.replace(/\.proto$/, '')}`,
      `.${file.package ?? ''}`,
      '',
      file.messageType ?? [],
    );
  }
  const imports = new Map<string, Map<string, string>>();
  const entries: string[] = [];
  for (const file of [...files].sort((a, b) => a.name.localeCompare(b.name))) {
    if (contextOf(file.package) === undefined) continue;
    for (const service of file.service ?? []) {
      for (const method of service.method ?? []) {
        const found = where.get(method.inputType ?? '');
        if (found === undefined)
          throw new Error(`${service.name}.${method.name}: no message ${method.inputType}`);
        const [module, name] = found;
        const names = imports.get(module) ?? new Map<string, string>();
        const alias = names.get(name) ?? `m${[...imports.values()].reduce((n, m) => n + m.size, 0)}`;
        names.set(name, alias);
        imports.set(module, names);
        entries.push(`  ${quote(`/${file.package ?? ''}.${service.name}/${method.name}`)}: ${alias},`);
      }
    }
  }
  let out =
    '// Code generated by packages/client/scripts/gen-catalogue.ts (make gen) from the protos. DO NOT EDIT.\n\n';
  for (const [module, names] of [...imports.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const list = [...names.entries()].map(([name, alias]) => `${name} as ${alias}`).join(', ');
    out += `import { ${list} } from ${quote(module)};\n`;
  }
  out += '\n/** A generated message type: completes a partial message with the proto defaults. */\n';
  out += 'export interface RequestType {\n  readonly fromPartial: (object: never) => unknown;\n}\n\n';
  out += '/** The request message of every paycore RPC, keyed by full method path. */\n';
  out += `export const REQUEST_TYPES: Readonly<Record<string, RequestType>> = {\n${entries.join('\n')}\n};\n`;
  return out;
}

function main(): void {
  const { reasons, rpcs } = collect(readImage());
  if (!reasons.some((e) => e.enumName === 'paycore.common.v1.ErrorReason')) {
    throw new Error('paycore.common.v1.ErrorReason not found in the protos');
  }
  if (process.argv.includes('--markdown')) {
    process.stdout.write(renderMarkdown(reasons, rpcs));
    return;
  }
  mkdirSync(path.dirname(OUT_FILE), { recursive: true });
  writeFileSync(OUT_FILE, renderTypeScript(reasons, rpcs));
  writeFileSync(REQUESTS_FILE, renderRequests(readImage()));
  process.stdout.write(
    `gen-catalogue: ${reasons.length} reason enums, ${rpcs.length} RPCs -> ${path.relative(ROOT, OUT_FILE)}\n`,
  );
}

if (require.main === module) main();
