/**
 * The `paycore` command: global options (profile, config file, addresses,
 * token, output, deadline), then one command group per service area. Exit
 * codes: 0 done, 1 the call failed or the result says not OK (unhealthy,
 * unbalanced, nothing traced), 2 bad usage or settings.
 */
import { Command, CommanderError, Option } from 'commander';
import { PaycoreError } from '@paycore/client';
import { REGISTRARS } from './commands';
import { createRuntime, type Runtime } from './runtime';
import {
  defaultConfigFile,
  environmentLayer,
  fileLayer,
  OUTPUT_FORMATS,
  resolveSettings,
  SettingsError,
  type Layer,
} from './settings';

interface GlobalFlags {
  profile?: string;
  config?: string;
  runDir?: string;
  endpointsFile?: string;
  address: Record<string, string>;
  output?: string;
  deadlineMs?: string;
  token?: string;
  tokenFile?: string;
  privateKeyFile?: string;
  subject?: string;
}

function collectAddress(value: string, previous: Record<string, string>): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new SettingsError(`--address expects service=host:port, got "${value}"`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

export function flagLayer(flags: GlobalFlags): Layer {
  const layer: Layer = {};
  const copy = [
    'runDir',
    'endpointsFile',
    'output',
    'deadlineMs',
    'token',
    'tokenFile',
    'privateKeyFile',
    'subject',
  ] as const;
  for (const key of copy) {
    const value = flags[key];
    if (value !== undefined) layer[key] = value;
  }
  if (Object.keys(flags.address).length > 0) layer.addresses = flags.address;
  return layer;
}

export function buildProgram(env: NodeJS.ProcessEnv, cwd: string, write: (text: string) => void): Command {
  const program = new Command('paycore');
  program
    .description("paycore's command line: payments, accounts, channels, end of day and flow tracing")
    .option('--profile <name>', 'config-file profile (env PAYCORE_PROFILE)', env['PAYCORE_PROFILE'])
    .option('--config <file>', 'config file (env PAYCORE_CONFIG_FILE; default ~/.config/paycore/config.toml)')
    .option(
      '--run-dir <dir>',
      "the local platform's run directory (env PAYCORE_RUN_DIR; default the nearest .run/)",
    )
    .option(
      '--endpoints-file <file>',
      'service addresses as JSON (env PAYCORE_ENDPOINTS_FILE; default <run dir>/endpoints.json)',
    )
    .option(
      '--address <service=host:port>',
      'address of one service (repeatable; env PAYCORE_ADDRESS_<SERVICE>)',
      collectAddress,
      {},
    )
    .addOption(
      new Option('-o, --output <format>', 'output format (env PAYCORE_OUTPUT)').choices(OUTPUT_FORMATS),
    )
    .option('--deadline-ms <ms>', 'deadline of each call (env PAYCORE_DEADLINE_MS; default 10000)')
    .option('--token <jwt>', 'bearer token to send (env PAYCORE_TOKEN)')
    .option('--token-file <file>', 'file holding the bearer token (env PAYCORE_TOKEN_FILE)')
    .option(
      '--private-key-file <file>',
      'mint a token per command with only its scopes (env PAYCORE_PRIVATE_KEY_FILE)',
    )
    .option('--subject <sub>', 'sub of minted tokens (env PAYCORE_SUBJECT; default paycore-cli)')
    .showHelpAfterError()
    .exitOverride();
  let runtime: (Runtime & { closeAll?: () => void }) | undefined;
  const getRuntime = (): Runtime => {
    if (runtime) return runtime;
    const flags = program.opts<GlobalFlags>();
    const profile = flags.profile ?? 'default';
    const explicitConfig = flags.config ?? env['PAYCORE_CONFIG_FILE'];
    const file = fileLayer(explicitConfig ?? defaultConfigFile(env), profile, explicitConfig !== undefined);
    const settings = resolveSettings(profile, [flagLayer(flags), environmentLayer(env), file], cwd);
    runtime = createRuntime(settings, write);
    return runtime;
  };
  for (const register of REGISTRARS) register(program, getRuntime);
  program.hook('postAction', () => runtime?.closeAll?.());
  return program;
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const program = buildProgram(env, process.cwd(), (text) => process.stdout.write(text));
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof SettingsError) {
      process.stderr.write(`paycore: ${err.message}\n`);
      return 2;
    }
    if (err instanceof PaycoreError) {
      const reason = err.reason === '' ? '' : ` ${err.reason}`;
      const fields = err.fieldViolations.map((v) => `\n  ${v.field}: ${v.description}`).join('');
      const metadata = Object.entries(err.metadata)
        .map(([k, v]) => ` ${k}=${v}`)
        .join('');
      process.stderr.write(`paycore: ${err.codeName}${reason}: ${err.message}${metadata}${fields}\n`);
      return 1;
    }
    process.stderr.write(`paycore: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
