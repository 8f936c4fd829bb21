// Triton's logging extension: the live log settings of the server's root pino logger.
// Keys and their kinds as in PROTOCOL §2.6; each transport maps its own value types
// (gRPC's oneofs, HTTP's JSON) onto the kinds.
//
// Child loggers made without an explicit level (the repository's per-model and per-version
// loggers, monitoring's, the poller's) inherit the root's level and log methods through
// pino's prototype chain, so a level set on the root reaches them at once; the switches for
// info/warning/error and the time format live in this object, read by the root's hooks.
import type { LoggerOptions } from 'pino';
import { InferenceError } from '../errors.js';

export type LogFormat = 'default' | 'ISO8601';

export interface LogSettingsValues {
  /** 0: no verbose (debug) lines; ≥ 1: debug lines on. */
  readonly verboseLevel: number;
  readonly info: boolean;
  readonly warning: boolean;
  readonly error: boolean;
  readonly format: LogFormat;
}

/** pino's numeric levels. */
const INFO = 30;
const WARN = 40;
const ERROR = 50;

export type LogSettingKind = 'bool' | 'uint32' | 'string';
export type LogSettingValue = boolean | number | string;

/** Each setting and the kind of value it takes (Triton's types). */
export const LOG_SETTINGS: ReadonlyMap<string, LogSettingKind> = new Map([
  ['log_file', 'string'],
  ['log_info', 'bool'],
  ['log_warning', 'bool'],
  ['log_error', 'bool'],
  ['log_verbose_level', 'uint32'],
  ['log_format', 'string'],
]);

/** The error for a key that is no log setting, listing those that are. */
export function unknownLogSetting(key: string): InferenceError {
  return InferenceError.invalidArgument(`settings.${key}`, `is not a log setting (known: ${[...LOG_SETTINGS.keys()].join(', ')})`);
}

function isKind(value: LogSettingValue, kind: LogSettingKind): boolean {
  if (kind === 'bool') return typeof value === 'boolean';
  if (kind === 'string') return typeof value === 'string';
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

/** The settings of one root logger; every transport of the process shares them. */
export class LogSettings {
  private values: LogSettingsValues;

  constructor(
    initial: Pick<LogSettingsValues, 'verboseLevel' | 'format'>,
    /** Switches the time format of the root logger (and so of its children). */
    private readonly setTimeFormat: (format: LogFormat) => void,
    /** Sets the root logger's level. */
    private readonly setLevel: (level: 'debug' | 'info') => void,
  ) {
    this.values = { info: true, warning: true, error: true, ...initial };
  }

  /** The level the root logger runs at. */
  get level(): 'debug' | 'info' {
    return this.values.verboseLevel > 0 ? 'debug' : 'info';
  }

  get format(): LogFormat {
    return this.values.format;
  }

  /** pino hooks that drop info, warning or error lines while switched off; pass them when creating the root. */
  get hooks(): NonNullable<LoggerOptions['hooks']> {
    const allows = (level: number): boolean => this.allows(level);
    return {
      logMethod(args, method, level) {
        if (allows(level)) method.apply(this, args);
      },
    };
  }

  private allows(level: number): boolean {
    if (level === INFO) return this.values.info;
    if (level === WARN) return this.values.warning;
    if (level === ERROR) return this.values.error;
    return true;
  }

  current(): Map<string, LogSettingValue> {
    const v = this.values;
    return new Map<string, LogSettingValue>([
      // v2serve logs to stdout, which the process's owner redirects: no log file of its own.
      ['log_file', ''],
      ['log_info', v.info],
      ['log_warning', v.warning],
      ['log_error', v.error],
      ['log_verbose_level', v.verboseLevel],
      ['log_format', v.format],
    ]);
  }

  /** Checks every setting, then applies them all (nothing changes when one is wrong). */
  update(settings: ReadonlyMap<string, LogSettingValue>): void {
    let next = { ...this.values };
    for (const [key, value] of settings) {
      const kind = LOG_SETTINGS.get(key);
      if (!kind) throw unknownLogSetting(key);
      if (!isKind(value, kind)) throw InferenceError.invalidArgument(`settings.${key}`, `must be a ${kind}`);
      next = withSetting(next, key, value);
    }
    const previous = this.values;
    this.values = next;
    if (next.verboseLevel !== previous.verboseLevel) this.setLevel(this.level);
    if (next.format !== previous.format) this.setTimeFormat(next.format);
  }
}

function withSetting(values: LogSettingsValues, key: string, given: LogSettingValue): LogSettingsValues {
  switch (key) {
    case 'log_file':
      if (given !== '') {
        throw new InferenceError(
          'UNIMPLEMENTED',
          `'settings.log_file': v2serve writes its log to stdout and cannot switch to '${given}'; redirect stdout instead`,
        );
      }
      return values;
    case 'log_info':
      return { ...values, info: given as boolean };
    case 'log_warning':
      return { ...values, warning: given as boolean };
    case 'log_error':
      return { ...values, error: given as boolean };
    case 'log_verbose_level':
      return { ...values, verboseLevel: given as number };
    default:
      if (given !== 'default' && given !== 'ISO8601') {
        throw InferenceError.invalidArgument('settings.log_format', `must be 'default' or 'ISO8601', got '${String(given)}'`);
      }
      return { ...values, format: given };
  }
}

