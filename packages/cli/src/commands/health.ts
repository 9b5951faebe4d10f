/** `paycore health`: grpc.health.v1 of every endpoint the profile knows. */
import type { Command } from 'commander';
import type { Runtime } from '../runtime';

const HEALTH_DEADLINE_MS = 3_000;

export function register(program: Command, runtime: () => Runtime): void {
  program
    .command('health')
    .description('health of every service (grpc.health.v1 Check)')
    .action(async () => {
      const rt = runtime();
      const client = rt.client([]);
      const rows = await Promise.all(
        Object.entries(client.endpoints).map(async ([service, address]) => {
          try {
            return {
              service,
              address,
              status: await client.health(service, { deadlineMs: HEALTH_DEADLINE_MS }),
            };
          } catch (err) {
            return {
              service,
              address,
              status: `UNREACHABLE (${err instanceof Error ? err.message : String(err)})`,
            };
          }
        }),
      );
      rt.print({ kind: 'rows', rows, columns: ['service', 'address', 'status'] });
      if (rows.some((row) => row.status !== 'SERVING')) process.exitCode = 1;
    });
}
