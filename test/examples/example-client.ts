/**
 * The example merchant client (examples/merchant-checkout) as a client team
 * gets it: `make client` packs @paycore/client, the example is copied out of
 * the monorepo (so nothing resolves through the monorepo's node_modules),
 * installs the tarball with npm, compiles under strict tsc against the packed
 * .d.ts, and runs with only the environment it is given.
 */
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
export const CLIENT_TARBALL = path.join(ROOT, 'packages', 'client', 'paycore-client-0.1.0.tgz');
const COMMAND_TIMEOUT_MS = 240_000;

/** The one JSON line the example prints at the end. */
export interface ExampleResult {
  order_id: string;
  payment_id: string;
  refund_id: string;
  notified_amount_minor: string;
  refunded: string;
  trace_ids: Record<string, string>;
}

/** `make client`: builds and packs @paycore/client into CLIENT_TARBALL. */
export async function packClient(): Promise<void> {
  await run(
    path.join(ROOT, 'node_modules', '.bin', 'tsx'),
    [path.join(ROOT, 'packages/client/scripts/build.ts')],
    {
      cwd: ROOT,
      timeout: COMMAND_TIMEOUT_MS,
    },
  );
}

/** Copies the example into `work`, installs the packed client and builds it; returns its directory. */
export async function installExample(work: string): Promise<string> {
  const example = path.join(work, 'merchant-checkout');
  cpSync(path.join(ROOT, 'examples', 'merchant-checkout'), example, {
    recursive: true,
    filter: (source) => !/node_modules|dist/.test(path.relative(ROOT, source)),
  });
  const manifestFile = path.join(example, 'package.json');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
    dependencies: Record<string, string>;
  };
  manifest.dependencies['@paycore/client'] = `file:${CLIENT_TARBALL}`;
  writeFileSync(manifestFile, JSON.stringify(manifest, null, 2));
  const npm = {
    cwd: example,
    timeout: COMMAND_TIMEOUT_MS,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  };
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], npm);
  await run('npm', ['run', 'build'], npm);
  return example;
}

/** Runs the built example (`npm start`) with PATH and `env` only; returns its result line. */
export async function runExample(example: string, env: NodeJS.ProcessEnv): Promise<ExampleResult> {
  const out = await run('node', ['dist/main.js'], {
    cwd: example,
    timeout: COMMAND_TIMEOUT_MS,
    env: { PATH: process.env['PATH'], ...env },
  });
  return JSON.parse(out.stdout.trim().split('\n').pop() ?? '{}') as ExampleResult;
}
