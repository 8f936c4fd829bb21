// Tensor codec micro-benchmark: decode/encode throughput against naive baselines, same
// process, same inputs, warm-up then a fixed number of iterations.
//   node --import tsx bench/codec.bench.ts [--quick]
// Prints `name  ns/op  GB/s  ratio` (ratio = baseline ns / candidate ns, > 1 is faster) and
// one JSON line per case; writes everything to bench/results/codec.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeInputs, encodeOutputs, type ReceivedInput, type Tensor } from '../src/tensor/index.js';

const QUICK = process.argv.includes('--quick');
const SCALE = QUICK ? 0.1 : 1;

let sink = 0; // results feed this so V8 cannot drop the work

function time(fn: () => void, iterations: number): number {
  const warm = Math.max(3, Math.ceil(iterations / 5));
  for (let i = 0; i < warm; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - t0) / iterations;
}

interface Row {
  name: string;
  bytes: number;
  baseline: string;
  baselineNsPerOp: number;
  candidateNsPerOp: number;
  ratio: number;
  candidateGBps: number;
  baselineGBps: number;
}
const rows: Row[] = [];

function compare(name: string, bytes: number, iterations: number, baseline: [string, () => void], candidate: () => void): void {
  const n = Math.max(5, Math.round(iterations * SCALE));
  // Alternate the two so drift (thermal, GC) does not favour whichever ran second.
  let b = 0;
  let c = 0;
  for (let round = 0; round < 2; round++) {
    b += time(baseline[1], n);
    c += time(candidate, n);
  }
  b /= 2;
  c /= 2;
  rows.push({
    name,
    bytes,
    baseline: baseline[0],
    baselineNsPerOp: b,
    candidateNsPerOp: c,
    ratio: b / c,
    candidateGBps: bytes / c,
    baselineGBps: bytes / b,
  });
}

// ---- inputs --------------------------------------------------------------------------
const FP32_BYTES = 4 * 1024 * 1024;
const f32 = new Float32Array(FP32_BYTES / 4).map((_, i) => i * 0.5);
const alignedRaw = new Uint8Array(f32.buffer); // offset 0
const misalignedBacking = new Uint8Array(FP32_BYTES + 1);
misalignedBacking.set(alignedRaw, 1);
const misalignedRaw = misalignedBacking.subarray(1); // what protobuf hands us at an odd offset
const fp32Input: ReceivedInput = { name: 'X', datatype: 'FP32', shape: [f32.length] };

const STRINGS = 10_000;
const elements = Array.from({ length: STRINGS }, (_, i) => Buffer.from(`element-${i}`));
const bytesTensor: Tensor = { name: 'S', datatype: 'BYTES', shape: [STRINGS], data: elements };
const bytesRaw = encodeOutputs([bytesTensor]).raw[0]!;
const bytesInput: ReceivedInput = { name: 'S', datatype: 'BYTES', shape: [STRINGS] };
const fp32Tensor: Tensor = { name: 'Y', datatype: 'FP32', shape: [f32.length], data: f32 };

// ---- baselines: what a straightforward decoder/encoder does ----------------------------
/** Always copies, then views (the safe-but-copying decoder). */
function copyingDecodeF32(bytes: Uint8Array): Float32Array {
  return new Float32Array(new Uint8Array(bytes).buffer);
}
/** Reads element by element through a DataView (portable, endian-explicit). */
function dataViewDecodeF32(bytes: Uint8Array): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}
/** Copies each BYTES element out (slice) while walking the length prefixes. */
function copyingDecodeBytes(bytes: Uint8Array, count: number): Uint8Array[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let p = 0;
  for (let k = 0; k < count; k++) {
    const len = dv.getUint32(p, true);
    out.push(bytes.slice(p + 4, p + 4 + len));
    p += 4 + len;
  }
  return out;
}
/** One 4-byte Buffer per length prefix, then Buffer.concat. */
function concatEncodeBytes(els: readonly Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const el of els) {
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32LE(el.byteLength, 0);
    parts.push(len, el);
  }
  return Buffer.concat(parts);
}

// ---- cases --------------------------------------------------------------------------
compare('decode FP32 4MiB aligned', FP32_BYTES, 400, ['copying decoder', () => { sink += copyingDecodeF32(alignedRaw).length; }], () => {
  sink += decodeInputs([{ ...fp32Input, raw: alignedRaw }], undefined)[0]!.data.length;
});
compare('decode FP32 4MiB aligned', FP32_BYTES, 100, ['DataView decoder', () => { sink += dataViewDecodeF32(alignedRaw).length; }], () => {
  sink += decodeInputs([{ ...fp32Input, raw: alignedRaw }], undefined)[0]!.data.length;
});
compare('decode FP32 4MiB misaligned', FP32_BYTES, 400, ['copying decoder', () => { sink += copyingDecodeF32(misalignedRaw).length; }], () => {
  sink += decodeInputs([{ ...fp32Input, raw: misalignedRaw }], undefined)[0]!.data.length;
});
compare('decode FP32 4MiB misaligned', FP32_BYTES, 100, ['DataView decoder', () => { sink += dataViewDecodeF32(misalignedRaw).length; }], () => {
  sink += decodeInputs([{ ...fp32Input, raw: misalignedRaw }], undefined)[0]!.data.length;
});
compare('decode BYTES 10k small', bytesRaw.byteLength, 1000, ['copying decoder', () => { sink += copyingDecodeBytes(bytesRaw, STRINGS).length; }], () => {
  sink += decodeInputs([{ ...bytesInput, raw: bytesRaw }], undefined)[0]!.data.length;
});
compare('encode FP32 4MiB', FP32_BYTES, 400, ['copying encoder', () => { sink += Buffer.from(alignedRaw).byteLength; }], () => {
  sink += encodeOutputs([fp32Tensor]).raw[0]!.byteLength;
});
compare('encode BYTES 10k small', bytesRaw.byteLength, 1000, ['Buffer.concat encoder', () => { sink += concatEncodeBytes(elements).byteLength; }], () => {
  sink += encodeOutputs([bytesTensor]).raw[0]!.byteLength;
});

// ---- report -------------------------------------------------------------------------
const cpu = cpus()[0]?.model ?? 'unknown';
const fmt = (x: number, d: number) => x.toFixed(d).padStart(12);
console.log(`node ${process.version}, ${availableParallelism()} CPUs (${cpu})${QUICK ? ', --quick' : ''}`);
console.log(`${'name'.padEnd(48)}${'ns/op'.padStart(12)}${'GB/s'.padStart(12)}${'ratio'.padStart(12)}`);
for (const r of rows) {
  console.log(`${`${r.name} [${r.baseline}]`.padEnd(48)}${fmt(r.baselineNsPerOp, 0)}${fmt(r.baselineGBps, 2)}${fmt(1, 2)}`);
  console.log(`${`${r.name} [v2serve]`.padEnd(48)}${fmt(r.candidateNsPerOp, 0)}${fmt(r.candidateGBps, 2)}${fmt(r.ratio, 2)}`);
}
for (const r of rows) {
  console.log(JSON.stringify({
    name: `${r.name} vs ${r.baseline}`,
    baselineNsPerOp: Math.round(r.baselineNsPerOp),
    candidateNsPerOp: Math.round(r.candidateNsPerOp),
    ratio: Number(r.ratio.toFixed(2)),
    node: process.version,
    cpu,
  }));
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'codec.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ node: process.version, cpus: availableParallelism(), cpu, quick: QUICK, date: new Date().toISOString(), results: rows }, null, 2)}\n`);
console.log(`wrote ${out} (sink ${sink % 10})`);
