/**
 * `make client`: builds @paycore/client into an installable tarball.
 *
 *   1. stages the client's sources (tests left out) in build/src, with the
 *      generated proto code (packages/proto/src/gen, from `make gen`) and
 *      @paycore/money's sources copied beside them, and rewrites the
 *      `@paycore/proto/...` and `@paycore/money` imports into relative ones —
 *      so the package carries everything it needs and depends only on public
 *      npm packages;
 *   2. compiles with `tsc -p tsconfig.build.json` into dist/ (CommonJS +
 *      .d.ts);
 *   3. lays out build/package (package.json with the runtime dependencies at
 *      the monorepo's versions, README.md, dist/) and runs `npm pack` there,
 *      writing packages/client/paycore-client-<version>.tgz.
 *
 * Fails if any `@paycore/` import survives the rewrite.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const PACKAGE_DIR = path.resolve(__dirname, '..');
const ROOT = path.resolve(PACKAGE_DIR, '..', '..');
const BUILD_DIR = path.join(PACKAGE_DIR, 'build');
const STAGE_DIR = path.join(BUILD_DIR, 'src');
const DIST_DIR = path.join(PACKAGE_DIR, 'dist');
const PACK_DIR = path.join(BUILD_DIR, 'package');
const PROTO_GEN_DIR = path.join(ROOT, 'packages', 'proto', 'src', 'gen');
const MONEY_SRC_DIR = path.join(ROOT, 'packages', 'money', 'src');
const FILES_MAX = 2_000;

interface Manifest {
  name: string;
  version: string;
  description: string;
  license: string;
  paycorePack: { dependencies: string[] };
}

/** Every .ts file under `dir` that is not a test, relative paths; bounded. */
function sources(dir: string, prefix = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(dir, prefix)).sort()) {
    const relative = path.join(prefix, entry);
    if (statSync(path.join(dir, relative)).isDirectory()) found.push(...sources(dir, relative));
    else if (entry.endsWith('.ts') && !entry.endsWith('.test.ts')) found.push(relative);
    if (found.length > FILES_MAX) throw new Error(`more than ${FILES_MAX} source files under ${dir}`);
  }
  return found;
}

function copySources(from: string, to: string): string[] {
  const files = sources(from);
  for (const file of files) {
    mkdirSync(path.dirname(path.join(to, file)), { recursive: true });
    cpSync(path.join(from, file), path.join(to, file));
  }
  return files.map((file) => path.join(to, file));
}

function relativeImport(fromFile: string, target: string): string {
  const relative = path.relative(path.dirname(fromFile), target).split(path.sep).join('/');
  return relative.startsWith('.') ? relative : `./${relative}`;
}

/** Rewrites the monorepo-only specifiers of one staged file into relative ones. */
function rewriteImports(file: string): void {
  const text = readFileSync(file, 'utf8')
    .replace(
      /(['"])@paycore\/proto\/([^'"]+)\1/g,
      (_m, quote: string, rest: string) =>
        `${quote}${relativeImport(file, path.join(STAGE_DIR, 'proto-gen', rest))}${quote}`,
    )
    .replace(
      /(['"])@paycore\/money\1/g,
      (_m, quote: string) =>
        `${quote}${relativeImport(file, path.join(STAGE_DIR, 'vendor', 'money', 'index'))}${quote}`,
    );
  if (/['"]@paycore\//.test(text)) throw new Error(`${file}: an @paycore/ import is left after the rewrite`);
  writeFileSync(file, text);
}

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

function main(): void {
  const manifest = JSON.parse(readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8')) as Manifest;
  const rootManifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  rmSync(BUILD_DIR, { recursive: true, force: true });
  rmSync(DIST_DIR, { recursive: true, force: true });

  const staged = [
    ...copySources(path.join(PACKAGE_DIR, 'src'), STAGE_DIR),
    ...copySources(PROTO_GEN_DIR, path.join(STAGE_DIR, 'proto-gen')),
    ...copySources(MONEY_SRC_DIR, path.join(STAGE_DIR, 'vendor', 'money')),
  ];
  for (const file of staged) rewriteImports(file);

  run(
    path.join(ROOT, 'node_modules', '.bin', 'tsc'),
    ['-p', path.join(PACKAGE_DIR, 'tsconfig.build.json')],
    ROOT,
  );

  const dependencies: Record<string, string> = {};
  for (const name of manifest.paycorePack.dependencies) {
    const version = rootManifest.dependencies[name];
    if (version === undefined) throw new Error(`runtime dependency ${name} is not in the root package.json`);
    dependencies[name] = version;
  }
  mkdirSync(PACK_DIR, { recursive: true });
  cpSync(DIST_DIR, path.join(PACK_DIR, 'dist'), { recursive: true });
  cpSync(path.join(PACKAGE_DIR, 'README.md'), path.join(PACK_DIR, 'README.md'));
  const packed = {
    name: manifest.name,
    version: manifest.version,
    description: manifest.description,
    license: manifest.license,
    main: './dist/index.js',
    types: './dist/index.d.ts',
    exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
    files: ['dist', 'README.md'],
    engines: { node: '>=20.19.0' },
    dependencies,
  };
  writeFileSync(path.join(PACK_DIR, 'package.json'), `${JSON.stringify(packed, null, 2)}\n`);
  const tarball = run('npm', ['pack', '--silent', '--pack-destination', PACKAGE_DIR], PACK_DIR).trim();
  process.stdout.write(
    `client: ${path.join(path.relative(ROOT, PACKAGE_DIR), tarball)} (${staged.length} sources)\n`,
  );
}

main();
