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
