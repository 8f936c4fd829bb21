// The /proc readings behind nv_cpu_utilization and nv_cpu_memory_*_bytes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cpuUtilization, parseMeminfo, parseProcStat } from '../../src/metrics/index.js';

const STAT = `cpu  100 10 50 800 40 0 0 0 0 0
cpu0 50 5 25 400 20 0 0 0 0 0
intr 12345
`;

describe('/proc parsing', () => {
  test('parseProcStat reads the aggregate cpu line: idle includes iowait, total every state but guest', () => {
    assert.deepEqual(parseProcStat(STAT), { idle: 840, total: 1000 });
  });

  test('parseProcStat refuses a text without a cpu line', () => {
    assert.throws(() => parseProcStat('intr 1\n'), /no 'cpu' line/);
  });

  test('cpuUtilization is the busy share of the jiffies between two readings', () => {
    assert.equal(cpuUtilization({ idle: 840, total: 1000 }, { idle: 870, total: 1100 }), 0.7);
  });

  test('cpuUtilization is 0 when no time passed', () => {
    assert.equal(cpuUtilization({ idle: 840, total: 1000 }, { idle: 840, total: 1000 }), 0);
  });

  test('parseMeminfo: total and total less MemAvailable, in bytes', () => {
    const text = 'MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    4000000 kB\nBuffers:          100 kB\n';
    assert.deepEqual(parseMeminfo(text), { totalBytes: 16_000_000 * 1024, usedBytes: 12_000_000 * 1024 });
  });

  test('parseMeminfo refuses a text without MemAvailable', () => {
    assert.throws(() => parseMeminfo('MemTotal: 1 kB\n'), /no MemAvailable/);
  });
});
