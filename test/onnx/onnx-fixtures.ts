// Tiny ONNX models built at test time with our writer, written to temporary directories.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeOnnxModel, type OnnxDim, type OnnxElemType } from '../../src/onnx/index.js';

/** y = Identity(x), both of `elemType` and `shape`. */
export function identityModel(elemType: OnnxElemType, shape: readonly OnnxDim[] = ['n']): Uint8Array {
  return encodeOnnxModel({
    graph: {
      name: `identity_${elemType.toLowerCase()}`,
      inputs: [{ name: 'x', elemType, shape }],
      outputs: [{ name: 'y', elemType, shape }],
      nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }],
    },
  });
}

/** c = a + b, float32 [batch, 4], and d = a - b: the batching model of the tests. */
export function addSubModel(): Uint8Array {
  const shape = ['batch', 4];
  return encodeOnnxModel({
    graph: {
      name: 'add_sub',
      inputs: [
        { name: 'a', elemType: 'FLOAT', shape },
        { name: 'b', elemType: 'FLOAT', shape },
      ],
      outputs: [
        { name: 'sum', elemType: 'FLOAT', shape },
        { name: 'difference', elemType: 'FLOAT', shape },
      ],
      nodes: [
        { opType: 'Add', inputs: ['a', 'b'], outputs: ['sum'] },
        { opType: 'Sub', inputs: ['a', 'b'], outputs: ['difference'] },
      ],
    },
  });
}

/** Every input `in_<type>` comes back as `out_<type>`, one Identity per supported type, all of `shape`. */
export function identityAllModel(elemTypes: readonly OnnxElemType[], shape: readonly OnnxDim[]): Uint8Array {
  const name = (prefix: string, elemType: OnnxElemType) => `${prefix}_${elemType.toLowerCase()}`;
  return encodeOnnxModel({
    graph: {
      name: 'identity_all',
      inputs: elemTypes.map((elemType) => ({ name: name('in', elemType), elemType, shape })),
      outputs: elemTypes.map((elemType) => ({ name: name('out', elemType), elemType, shape })),
      nodes: elemTypes.map((elemType) => ({ opType: 'Identity', inputs: [name('in', elemType)], outputs: [name('out', elemType)] })),
    },
  });
}

/** Deterministic uniform numbers in [-1, 1): mulberry32, so a model's weights are the same every run. */
function uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * 2 - 1;
  };
}

/**
 * A float32 multilayer perceptron `x [batch, widths[0]] → y [batch, widths.at(-1)]`: MatMul by
 * seeded weights (scaled by 1/√fan-in so values stay near 1), Relu between layers. A single row
 * reads every weight once, so its cost is the weights' size; a batch reads them once for all rows.
 */
export function mlpModel(widths: readonly number[], seed = 0x1e55): Uint8Array {
  const random = uniform(seed);
  const initializers = [];
  const nodes = [];
  let previous = 'x';
  for (let layer = 0; layer + 1 < widths.length; layer++) {
    const [fanIn, fanOut] = [widths[layer]!, widths[layer + 1]!];
    const weights = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < weights.length; i++) weights[i] = random() / Math.sqrt(fanIn);
    initializers.push({ name: `w${layer}`, elemType: 'FLOAT' as const, dims: [fanIn, fanOut], data: weights });
    const last = layer + 2 === widths.length;
    const product = last ? 'y' : `h${layer}`;
    nodes.push({ opType: 'MatMul', inputs: [previous, `w${layer}`], outputs: [product] });
    if (!last) nodes.push({ opType: 'Relu', inputs: [product], outputs: [`r${layer}`] });
    previous = `r${layer}`;
  }
  return encodeOnnxModel({
    graph: {
      name: 'mlp',
      inputs: [{ name: 'x', elemType: 'FLOAT', shape: ['batch', widths[0]!] }],
      outputs: [{ name: 'y', elemType: 'FLOAT', shape: ['batch', widths.at(-1)!] }],
      nodes,
      initializers,
    },
  });
}

/** A scratch directory removed by the returned cleanup. */
export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'v2serve-onnx-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `bytes` as `<dir>/<file>` (creating `dir`) and returns the path. */
export function writeModel(dir: string, bytes: Uint8Array, file = 'model.onnx'): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, file);
  writeFileSync(path, bytes);
  return path;
}
