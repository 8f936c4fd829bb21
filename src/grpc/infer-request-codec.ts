// ModelInferRequest read with raw_input_contents as views into the received message, not
// copies: the generated decoder copies every raw tensor (Buffer.from of the field's bytes).
// The nested messages (parameters, input and output tensors) go through the generated
// decoders; only the top level is read here. Field numbers are the contract's
// (proto/grpc_service.proto).
import { BinaryReader } from '@bufbuild/protobuf/wire';
import {
  ModelInferRequest_InferInputTensor,
  ModelInferRequest_InferRequestedOutputTensor,
  ModelInferRequest_ParametersEntry,
  type ModelInferRequest,
} from '../../generated/grpc_service.js';
import { alignRawInputs } from './raw-alignment.js';

const WIRE_BYTES = 2;
/** The size of the message a request was decoded from, for the request log. */
const WIRE_SIZE = Symbol('wireSize');
type Sized = ModelInferRequest & { readonly [WIRE_SIZE]?: number };

export function requestWireSize(request: ModelInferRequest): number | undefined {
  return (request as Sized)[WIRE_SIZE];
}
const WIRE_END_GROUP = 4;

/** Decodes a ModelInferRequest; its raw inputs share `bytes`, moved onto their element boundary where they can be. */
export function decodeModelInferRequest(bytes: Uint8Array): ModelInferRequest {
  const reader = new BinaryReader(bytes);
  const request: ModelInferRequest = {
    modelName: '',
    modelVersion: '',
    id: '',
    parameters: new Map(),
    inputs: [],
    outputs: [],
    rawInputContents: [],
  };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (wireType === WIRE_BYTES) {
      switch (field) {
        case 1:
          request.modelName = reader.string();
          continue;
        case 2:
          request.modelVersion = reader.string();
          continue;
        case 3:
          request.id = reader.string();
          continue;
        case 4: {
          const entry = ModelInferRequest_ParametersEntry.decode(reader, reader.uint32());
          if (entry.value !== undefined) request.parameters.set(entry.key, entry.value);
          continue;
        }
        case 5:
          request.inputs.push(ModelInferRequest_InferInputTensor.decode(reader, reader.uint32()));
          continue;
        case 6:
          request.outputs.push(ModelInferRequest_InferRequestedOutputTensor.decode(reader, reader.uint32()));
          continue;
        case 7: {
          const view = reader.bytes();
          request.rawInputContents.push(Buffer.from(view.buffer, view.byteOffset, view.byteLength));
          continue;
        }
      }
    }
    if (wireType === WIRE_END_GROUP || tag === 0) break;
    reader.skip(wireType);
  }
  alignRawInputs(request);
  // Not enumerable: the request stays equal to what the generated decoder reads.
  Object.defineProperty(request, WIRE_SIZE, { value: bytes.byteLength });
  return request;
}
