// What a server answered, whatever the transport, and how it differs from what the scenario
// expects. Every server is asked once before it is measured, so that one answering errors
// or wrong values cannot look fast.
import type { ModelInferResponse } from '../generated/grpc_service.js';

/** An output the answer must hold; `raw` absent checks only its size (datatype × shape). */
export interface ExpectedOutput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly raw?: Uint8Array;
}

/** An answer's outputs, each as its little-endian bytes. */
export interface Answer {
  readonly outputs: readonly {
    readonly name: string;
    readonly datatype: string;
    readonly shape: readonly number[];
    /** Undefined when the answer carried no values for it. */
    readonly raw: Uint8Array | undefined;
  }[];
}

const BYTES_PER_ELEMENT: Readonly<Partial<Record<string, number>>> = { INT32: 4, FP32: 4 };

export function grpcAnswer(response: ModelInferResponse): Answer {
  return {
    outputs: response.outputs.map((output, i) => ({
      name: output.name,
      datatype: output.datatype,
      shape: output.shape.map(Number),
      raw: response.rawOutputContents[i],
    })),
  };
}

/** How `answer` differs from `expected`, as one message per difference; empty when it does not. */
export function answerProblems(answer: Answer, expected: readonly ExpectedOutput[]): string[] {
  const problems: string[] = [];
  if (answer.outputs.length !== expected.length) problems.push(`${answer.outputs.length} outputs, expected ${expected.length}`);
  for (const want of expected) {
    const got = answer.outputs.find((o) => o.name === want.name);
    if (!got) {
      problems.push(`no output ${want.name}`);
      continue;
    }
    if (got.datatype !== want.datatype || got.shape.join() !== want.shape.join()) {
      problems.push(`${want.name} is ${got.datatype} [${got.shape.join(',')}], expected ${want.datatype} [${want.shape.join(',')}]`);
    }
    const raw = got.raw;
    if (!raw) problems.push(`${want.name} has no values`);
    else if (want.raw ? !Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).equals(want.raw) : raw.length !== byteSize(want)) {
      problems.push(`${want.name}: its ${raw.length} bytes are not the expected values`);
    }
  }
  return problems;
}

function byteSize(output: ExpectedOutput): number {
  return output.shape.reduce((a, b) => a * b, BYTES_PER_ELEMENT[output.datatype] ?? NaN);
}

/**
 * `expected` with the values of outputs it gives only by size taken from a reference answer
 * (a model's result the bench cannot compute, as ONNX's): a floor computing the same model
 * must answer the same bytes.
 */
export function settleExpected(expected: readonly ExpectedOutput[], reference: Answer): ExpectedOutput[] {
  return expected.map((want) => {
    const raw = want.raw ?? reference.outputs.find((o) => o.name === want.name)?.raw;
    return raw ? { ...want, raw } : want;
  });
}
