// Logging: the root pino logger with Triton's live log settings, shared by every transport.
export {
  LOG_SETTINGS,
  LogSettings,
  unknownLogSetting,
  type LogFormat,
  type LogSettingKind,
  type LogSettingValue,
  type LogSettingsValues,
} from './log-settings.js';
export { createRootLogger, loggerLike, loggerShape, timeFormatOf, type LoggerShape, type RootLogger } from './logger.js';
export { requestLog } from './request-log.js';
