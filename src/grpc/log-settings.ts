// Triton's logging extension (LogSettings RPC): the live log settings of the server's
// pino logger. Keys and types as in PROTOCOL §2.6; clients "get" with an empty request.
//
// Child loggers made without an explicit level (the repository's per-model and per-version
// loggers, monitoring's, the poller's) inherit the root's level and log methods through
// pino's prototype chain, so a level set on the root reaches them at once; the switches for
// info/warning/error and the time format live in this object, read by the root's hooks.
import type { Logger, LoggerOptions } from 'pino';
import type { LogSettingsRequest_SettingValue, LogSettingsResponse_SettingValue } from '../../generated/grpc_service.js';
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

type Setting = keyof LogSettingsRequest_SettingValue;

/** Each key and the one oneof it takes (Triton's types). */
const KEYS: ReadonlyMap<string, Setting> = new Map([
  ['log_file', 'stringParam'],
  ['log_info', 'boolParam'],
  ['log_warning', 'boolParam'],
  ['log_error', 'boolParam'],
  ['log_verbose_level', 'uint32Param'],
  ['log_format', 'stringParam'],
]);

const ONEOF_NAME: Readonly<Record<Setting, string>> = {
  boolParam: 'bool_param',
  uint32Param: 'uint32_param',
  stringParam: 'string_param',
};

/** The settings of one root logger; several gRPC servers in one process would share them. */
export class LogSettings {
  private values: LogSettingsValues;
  private root: Logger | undefined;

  constructor(
    initial: Pick<LogSettingsValues, 'verboseLevel' | 'format'>,
    /** Switches the time format of `root` (and so of its children); main.ts knows pino's internals. */
    private readonly setTimeFormat: (root: Logger, format: LogFormat) => void,
  ) {
    this.values = { info: true, warning: true, error: true, ...initial };
  }

  /** The level the root logger is created with. */
  get level(): 'debug' | 'info' {
    return this.values.verboseLevel > 0 ? 'debug' : 'info';
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

  /** Binds the settings to the root logger created with `level` and `hooks`; returns it. */
  attach(root: Logger): Logger {
    this.root = root;
    ATTACHED.set(root, this);
    return root;
  }

  current(): Map<string, LogSettingsResponse_SettingValue> {
    const v = this.values;
    return new Map<string, LogSettingsResponse_SettingValue>([
      // v2serve logs to stdout, which the process's owner redirects: no log file of its own.
      ['log_file', { stringParam: '' }],
      ['log_info', { boolParam: v.info }],
      ['log_warning', { boolParam: v.warning }],
      ['log_error', { boolParam: v.error }],
      ['log_verbose_level', { uint32Param: v.verboseLevel }],
      ['log_format', { stringParam: v.format }],
    ]);
  }

  /** Checks every setting, then applies them all (nothing changes when one is wrong). */
  update(settings: ReadonlyMap<string, LogSettingsRequest_SettingValue>): void {
    let next = { ...this.values };
    for (const [key, value] of settings) {
      const oneof = KEYS.get(key);
      if (!oneof) {
        throw InferenceError.invalidArgument(`settings.${key}`, `is not a log setting (known: ${[...KEYS.keys()].join(', ')})`);
      }
      const given = value[oneof];
      if (given === undefined) throw InferenceError.invalidArgument(`settings.${key}`, `must be a ${ONEOF_NAME[oneof]}`);
      next = withSetting(next, key, given);
    }
    const previous = this.values;
    this.values = next;
    if (this.root) {
      if (next.verboseLevel !== previous.verboseLevel) this.root.level = this.level;
      if (next.format !== previous.format) this.setTimeFormat(this.root, next.format);
    }
  }
}

function withSetting(values: LogSettingsValues, key: string, given: string | number | boolean): LogSettingsValues {
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

/** The settings bound to each root logger, so that the gRPC service finds those of the logger it was given. */
const ATTACHED = new WeakMap<Logger, LogSettings>();

export function logSettingsOf(log: Logger): LogSettings | undefined {
  return ATTACHED.get(log);
}
