// The metrics side path: Prometheus metrics fed through events.ts's contracts, and the port that serves them.
export { Metrics, type MetricsOptions, type PublisherCounts } from './metrics.js';
export { startMetricsServer, type RunningMetricsServer } from './server.js';
export { DEFAULT_BUCKETS, DEFAULT_METRICS_SETTINGS, METRICS_CONFIG_KEYS, parseMetricsConfig, type MetricsSettings } from './metrics-config.js';
export { cpuUtilization, parseMeminfo, parseProcStat, type CpuTimes, type MemoryFigures } from './proc.js';
