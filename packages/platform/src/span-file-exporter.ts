/**
 * Spans to a local file, for the development platform: `paycore trace` reads
 * them without any collector. The contract (docs/runbooks/tracing.md, shared
 * with the CLI): when PAYCORE_SPAN_FILE_DIR is set, a process appends each
 * finished span to `<dir>/<service>.jsonl`, one JSON object a line:
 *
 *   {"service","traceId","spanId","parentSpanId"|null,"name",
 *    "kind":"SERVER|CLIENT|PRODUCER|CONSUMER|INTERNAL",
 *    "startUnixNano","endUnixNano" (decimal strings),"durationMs",
 *    "status":"OK|ERROR|UNSET","attributes":{string|number|boolean}}
 *
 * Files are bounded: before a write would take a file past `fileSizeMaxBytes`
 * (64 MiB) it is renamed to `<service>.jsonl.1` (replacing the previous one)
 * and a new file is started, so a service keeps at most twice the bound.
 *
 * Spans of the pg driver's instrumentation (one per SQL statement) are left
 * out: the file is for following a flow across services, and statement spans
 * would be most of its volume. Batching is the BatchSpanProcessor's; each
 * export is one append of the whole batch.
 */
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { SpanKind, SpanStatusCode, type AttributeValue, type HrTime } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

export const SPAN_FILE_SIZE_MAX_BYTES = 64 * 1024 * 1024;
const SERVICE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ATTRIBUTE_STRING_LENGTH_MAX = 1_024;
const EXCLUDED_SCOPES = new Set(['@opentelemetry/instrumentation-pg']);

export interface SpanFileExporterOptions {
  readonly directory: string;
  /** File name stem and the `service` of every line. */
  readonly serviceName: string;
  readonly fileSizeMaxBytes?: number;
}

/** A span as one line of the span file (the contract's shape). */
export interface SpanLine {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | null;
  readonly name: string;
  readonly kind: 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER' | 'INTERNAL';
  readonly startUnixNano: string;
  readonly endUnixNano: string;
  readonly durationMs: number;
  readonly status: 'OK' | 'ERROR' | 'UNSET';
  readonly attributes: Record<string, string | number | boolean>;
}

function hrTimeNanos(time: HrTime): bigint {
  return BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
}

const KINDS: Record<SpanKind, SpanLine['kind']> = {
  [SpanKind.SERVER]: 'SERVER',
  [SpanKind.CLIENT]: 'CLIENT',
  [SpanKind.PRODUCER]: 'PRODUCER',
  [SpanKind.CONSUMER]: 'CONSUMER',
  [SpanKind.INTERNAL]: 'INTERNAL',
};

function attributeValue(value: AttributeValue | undefined): string | number | boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value.slice(0, ATTRIBUTE_STRING_LENGTH_MAX);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  // Arrays are not part of the contract; they become one comma-separated string.
  return value
    .map((item) => String(item))
    .join(',')
    .slice(0, ATTRIBUTE_STRING_LENGTH_MAX);
}

export function toSpanLine(span: ReadableSpan, service: string): SpanLine {
  const context = span.spanContext();
  const attributes: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(span.attributes)) {
    const converted = attributeValue(value);
    if (converted !== undefined) attributes[key] = converted;
  }
  const start = hrTimeNanos(span.startTime);
  const end = hrTimeNanos(span.endTime);
  return {
    service,
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? null,
    name: span.name,
    kind: KINDS[span.kind],
    startUnixNano: start.toString(),
    endUnixNano: end.toString(),
    durationMs: Number(end - start) / 1e6,
    status:
      span.status.code === SpanStatusCode.ERROR
        ? 'ERROR'
        : span.status.code === SpanStatusCode.OK
          ? 'OK'
          : 'UNSET',
    attributes,
  };
}

export class SpanFileExporter implements SpanExporter {
  readonly file: string;
  private readonly fileSizeMaxBytes: number;
  private sizeBytes: number | undefined;
  private stopped = false;

  constructor(private readonly options: SpanFileExporterOptions) {
    if (!SERVICE_NAME_PATTERN.test(options.serviceName))
      throw new Error(`span file: service name ${JSON.stringify(options.serviceName)} is not a file name`);
    this.file = path.join(options.directory, `${options.serviceName}.jsonl`);
    this.fileSizeMaxBytes = options.fileSizeMaxBytes ?? SPAN_FILE_SIZE_MAX_BYTES;
    if (!Number.isSafeInteger(this.fileSizeMaxBytes) || this.fileSizeMaxBytes < 1_024)
      throw new RangeError('span file: fileSizeMaxBytes must be an integer >= 1024');
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.stopped) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('span file exporter is shut down') });
      return;
    }
    try {
      const lines = spans
        .filter((span) => !EXCLUDED_SCOPES.has(span.instrumentationScope.name))
        .map((span) => `${JSON.stringify(toSpanLine(span, this.options.serviceName))}\n`)
        .join('');
      if (lines !== '') this.append(lines);
      resultCallback({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      resultCallback({
        code: ExportResultCode.FAILED,
        error: error instanceof Error ? error : new Error(String(error)),
      });
    }
  }

  shutdown(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  private append(text: string): void {
    const bytes = Buffer.byteLength(text);
    if (this.sizeBytes === undefined) {
      mkdirSync(this.options.directory, { recursive: true });
      this.sizeBytes = currentSize(this.file);
    }
    if (this.sizeBytes > 0 && this.sizeBytes + bytes > this.fileSizeMaxBytes) {
      renameSync(this.file, `${this.file}.1`);
      this.sizeBytes = 0;
    }
    appendFileSync(this.file, text);
    this.sizeBytes += bytes;
  }
}

function currentSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The exporter PAYCORE_SPAN_FILE_DIR asks for, or undefined when it is unset. */
export function spanFileExporterFromEnv(
  serviceName: string,
  env: NodeJS.ProcessEnv = process.env,
): SpanFileExporter | undefined {
  const directory = env['PAYCORE_SPAN_FILE_DIR'];
  if (directory === undefined || directory === '') return undefined;
  return new SpanFileExporter({ directory, serviceName });
}
