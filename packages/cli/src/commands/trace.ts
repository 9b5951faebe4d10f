/** `paycore trace <id>`: see ../trace.ts. Reads local files only; needs no token. */
import type { Command } from 'commander';
import type { Runtime } from '../runtime';
import { amountOf, findFlow, isoOf, traceFiles } from '../trace';

export function register(program: Command, runtime: () => Runtime): void {
  program
    .command('trace <id>')
    .description(
      "a flow's steps across every service in time order (order id, payment id, refund id or trace id)",
    )
    .action((id: string) => {
      const rt = runtime();
      const files = traceFiles(rt.settings.runDir);
      if (files.length === 0) {
        throw new Error(
          `no span or log files under ${rt.settings.runDir} (spans/*.jsonl, logs/*.log): is the platform running there?`,
        );
      }
      const steps = findFlow(files, id);
      rt.print({
        kind: 'rows',
        columns: ['time', 'service', 'step', 'state', 'amount', 'biz_code', 'trace_id', 'duration_ms'],
        rows: steps.map((s) => ({
          time: isoOf(s.timeNs),
          service: s.service,
          step: s.step,
          kind: s.kind,
          state: s.state,
          amount: amountOf(s),
          biz_code: s.bizCode,
          trace_id: s.traceId,
          span_id: s.spanId,
          duration_ms: s.durationMs === undefined ? '' : s.durationMs.toFixed(1),
          status: s.status,
          source: s.source,
          ...s.ids,
        })),
      });
      if (steps.length === 0) {
        process.stderr.write(`paycore trace: nothing found for ${id} in ${rt.settings.runDir}\n`);
        process.exitCode = 1;
      }
    });
}
