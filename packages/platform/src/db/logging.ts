/**
 * The logging surface the database and events code needs. It is a structural
 * subset of pino's Logger, so a service passes its logger straight in, and
 * tests can pass nothing at all.
 */
export interface PlatformLogSink {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const ignore = (): void => undefined;

export const SILENT_LOG_SINK: PlatformLogSink = { debug: ignore, info: ignore, warn: ignore, error: ignore };

/** Formats an unknown thrown value for a log field without losing its message. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
