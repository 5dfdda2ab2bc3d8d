import { type Logger, pino } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Where to write (default stdout); tests pass a stream to read the lines. */
  destination?: NodeJS.WritableStream;
}

/** pino JSON logger, one line per event, with `service` on every line. */
export function createLogger(options: LoggerOptions): Logger {
  const base = { service: options.service, pid: process.pid };
  const opts = { level: options.level ?? process.env.INFERD_LOG_LEVEL ?? "info", base };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
