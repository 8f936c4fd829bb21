// The one module that knows pino's internals: the root logger with live settings, and a
// worker thread's logger made to look like the main thread's.
import { pino, stdTimeFunctions, symbols, type DestinationStream, type Logger } from 'pino';
import { LogSettings, type LogFormat } from './log-settings.js';

/** pino reads the time function from the logger at each line; children inherit it from the root. */
function setTimeFormat(logger: Logger, format: LogFormat): void {
  (logger as unknown as Record<symbol, unknown>)[symbols.timeSym] =
    format === 'ISO8601' ? stdTimeFunctions.isoTime : stdTimeFunctions.epochTime;
}

/** The time format `logger` writes with now. */
export function timeFormatOf(logger: Logger): LogFormat {
  return (logger as unknown as Record<symbol, unknown>)[symbols.timeSym] === stdTimeFunctions.isoTime ? 'ISO8601' : 'default';
}

export interface RootLogger {
  readonly log: Logger;
  /** Live: the LogSettings RPC (and REST route) change them. */
  readonly settings: LogSettings;
}

/** The process's root logger and its live settings, writing to `destination` (stdout by default). */
export function createRootLogger(
  initial: { readonly verboseLevel: number; readonly format: LogFormat; readonly name?: string },
  destination?: DestinationStream,
): RootLogger {
  // The settings switch the logger, whose hooks read the settings: the logger comes second.
  const root: { log?: Logger } = {};
  const settings = new LogSettings(
    initial,
    (format) => root.log && setTimeFormat(root.log, format),
    (level) => {
      if (root.log) root.log.level = level;
    },
  );
  const options = {
    name: initial.name ?? 'v2serve',
    level: settings.level,
    hooks: settings.hooks,
    ...(initial.format === 'ISO8601' ? { timestamp: stdTimeFunctions.isoTime } : {}),
  };
  const log = destination ? pino(options, destination) : pino(options);
  root.log = log;
  return { log, settings };
}

/** What a worker thread needs to log as `logger` does. */
export interface LoggerShape {
  readonly level: string;
  readonly bindings: Record<string, unknown>;
  readonly format: LogFormat;
}

export function loggerShape(logger: Logger): LoggerShape {
  return { level: logger.level, bindings: logger.bindings(), format: timeFormatOf(logger) };
}

/**
 * A logger like the one `shape` describes, writing synchronously to stdout: a line written
 * just before a worker crashes is not lost in a buffer.
 */
export function loggerLike(shape: LoggerShape, extraBindings: Record<string, unknown>): Logger {
  return pino(
    { level: shape.level, ...(shape.format === 'ISO8601' ? { timestamp: stdTimeFunctions.isoTime } : {}) },
    pino.destination({ dest: 1, sync: true }),
  ).child({ ...shape.bindings, ...extraBindings });
}
