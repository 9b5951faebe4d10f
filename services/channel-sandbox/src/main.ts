/**
 * channel-sandbox entry point. Env: HTTP_PORT (0 = pick one), HTTP_HOST,
 * SANDBOX_TIME_SCALE, SANDBOX_KEYS_DIR, SANDBOX_AUTO_PAY_MS,
 * SANDBOX_PUBLIC_URL, LOG_LEVEL. Prints `channel-sandbox listening http=<port>`
 * once ready (test harnesses wait for that line); SIGTERM / SIGINT stop it.
 * No tracing: the sandbox stands in for an external party, whose insides a
 * paycore trace should not show.
 */
import { createLogger } from '@paycore/platform';
import { loadConfig } from './config';
import { startSandbox } from './sandbox';

function main(): void {
  const config = loadConfig();
  const logger = createLogger({ service: 'channel-sandbox', level: config.logLevel });
  startSandbox({ ...config, logger })
    .then((sandbox) => {
      process.stdout.write(`channel-sandbox listening http=${sandbox.port}\n`);
      const shutdown = (signal: string): void => {
        logger.info({ signal }, 'channel sandbox stopping');
        sandbox
          .stop()
          .then(() => process.exit(0))
          .catch((err: unknown) => {
            logger.error({ err }, 'channel sandbox stop failed');
            process.exit(1);
          });
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    })
    .catch((err: unknown) => {
      logger.fatal({ err }, 'channel sandbox failed to start');
      process.exit(1);
    });
}

main();
