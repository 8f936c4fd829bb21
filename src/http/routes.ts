// The route table: every path the HTTP transport answers, its verb, its restriction category
// and its handler. Paths follow Triton's patterns (versions are numeric in paths) plus
// KServe's model list and the seed's `…/<operation>` for custom operations.
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { checkRepositoryName, type DataPlane } from '../data-plane/index.js';
import { dictionary } from '../dictionary.js';
import { InferenceError } from '../errors.js';
import type { LogSettings } from '../logging/index.js';
import type { InferCall, InferResult } from '../pipeline/index.js';
import { configToJson, parseConfigJson, type ModelRepository } from '../repository/index.js';
import type { ProtocolCategory } from '../restrictions.js';
import type { SharedMemoryRegistry } from '../shared-memory/index.js';
import {
  unloadDependents,
  fromIndexJson,
  fromLoadJson,
  fromLogSettingsJson,
  fromRegisterJson,
  jsonObject,
  rawBinaryCall,
  toIndexJson,
  toInferCall,
  toInferReply,
  toLogSettingsJson,
  toRegionsJson,
  toStatisticsJson,
  type InferTarget,
} from './converters.js';
import { NOT_ONE_RESPONSE, sseEvent, toGenerateCall, toGenerateJson } from './generate.js';

/** What handlers need to know about the server around them. */
export interface RouteContext {
  /** Inference; its repository and shared memory are the two below. */
  readonly dataPlane: DataPlane;
  readonly repository: ModelRepository;
  readonly sharedMemory: SharedMemoryRegistry;
  readonly logSettings: LogSettings;
  readonly log: Logger;
  readonly serverName: string;
  readonly serverVersion: string;
  readonly extensions: readonly string[];
  /** True once shutdown started: the server reports not ready. */
  readonly shuttingDown: () => boolean;
}

/** One request as a handler sees it. */
export interface RouteRequest {
  readonly message: IncomingMessage;
  /** The path's captured segments, URL-decoded. */
  readonly params: readonly (string | undefined)[];
  readonly body: Buffer;
  readonly arrivedNs: bigint;
  /** Fires when the client goes away before the answer. */
  readonly signal: AbortSignal;
  /** What the request log says about it; an inference sets the request id it read from the body. */
  readonly note: RequestNote;
}

export interface RequestNote {
  /** Empty until known: the server makes one when the route does not set it. */
  requestId: string;
  /** The version that served an inference, once it answered. */
  version?: string;
  /** A generate request: how many responses the model made (sent, for generate_stream). */
  responses?: number;
}

/** An answer: no body, a JSON value or text, an inference header followed by binary blobs, or a stream. */
export interface Reply {
  readonly status: number;
  readonly json?: string;
  readonly binary?: readonly Uint8Array[];
  /** Sent chunk by chunk as it is made (generate_stream's events), after `status` and the headers. */
  readonly stream?: ReplyStream;
  /**
   * Compressed when the client's Accept-Encoding asks. Only inference answers are, as Triton's:
   * clients such as tritonclient's aio one accept gzip on every request yet decompress only
   * the answers to inferences.
   */
  readonly compressible?: boolean;
}

/** A streamed answer. The route has made its first chunk before it answers, so that an error before it is a plain error reply. */
export interface ReplyStream {
  readonly contentType: string;
  readonly chunks: AsyncIterable<string>;
  /** The chunk that tells the client of an error after the first chunk went out, with the error's text. */
  readonly errorChunk: (message: string) => string;
}

const EMPTY_OK: Reply = { status: 200 };
const json = (value: unknown, status = 200): Reply => ({ status, json: JSON.stringify(value) });
const ok = (): Reply => json(dictionary());

/** Which model a route's request concerns, from its path. */
type About = (params: readonly (string | undefined)[]) => { readonly model: string; readonly version: string };
const modelOf: About = (params) => ({ model: params[0] ?? '', version: params[1] ?? '' });
const repositoryModelOf: About = (params) => ({ model: params[1] ?? '', version: '' });

export interface Route {
  readonly method: 'GET' | 'POST';
  /** The request log's name for it: the gRPC RPC that does the same. */
  readonly operation: string;
  readonly about?: About;
  readonly path: RegExp;
  readonly category: ProtocolCategory | undefined;
  readonly handle: (context: RouteContext, request: RouteRequest) => Reply | Promise<Reply>;
}

const MODEL = '/v2/models/([^/]+)(?:/versions/([0-9]+))?';
const model = (suffix: string) => new RegExp(`^${MODEL}${suffix}$`);
/** Sub-paths of a model that are not operations: a POST to them is a wrong verb, not a custom operation. */
const RESERVED = '(?!(?:ready|config|stats|versions|trace|generate|generate_stream)$)';

function target(request: RouteRequest, operation?: string): InferTarget {
  return { model: request.params[0] as string, version: request.params[1] ?? '', operation };
}

/** The header that splits the JSON part from the binary blobs (Triton's binary extension). */
const HEADER_LENGTH = 'inference-header-content-length';

async function infer(context: RouteContext, request: RouteRequest, operation: string | undefined): Promise<Reply> {
  const { body, message } = request;
  const where = target(request, operation);
  const declared = message.headers[HEADER_LENGTH];
  let httpCall;
  if (declared === undefined) {
    httpCall = toInferCall(where, jsonObject(body), new Uint8Array(0), request.arrivedNs);
  } else {
    const text = String(declared).trim();
    const headerLength = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(headerLength) || headerLength > body.byteLength) {
      throw InferenceError.invalidArgument('Inference-Header-Content-Length', `must be an integer in 0..${body.byteLength} (the body's size), got '${declared}'`);
    }
    if (headerLength === 0) {
      const metadata = context.repository.metadata(where.model, where.version);
      const batched = context.repository.config(where.model, where.version).maxBatchSize > 0;
      httpCall = rawBinaryCall(where, metadata, batched, body, request.arrivedNs);
    } else {
      httpCall = toInferCall(where, jsonObject(body.subarray(0, headerLength)), body.subarray(headerLength), request.arrivedNs);
    }
  }
  const current = httpCall;
  request.note.requestId = current.call.requestId;
  const result = await context.dataPlane.infer(current.call, request.signal);
  request.note.version = result.version;
  const reply = toInferReply(result, current);
  return { status: 200, json: reply.json, binary: reply.binary, compressible: true };
}

/** The generate extension's call: the body's fields read against the inputs the model declares. */
function generateCall(context: RouteContext, request: RouteRequest): InferCall {
  const encoding = request.message.headers['content-encoding'];
  // Triton reads generate bodies uncompressed only.
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    throw InferenceError.invalidArgument('Content-Encoding', `is '${encoding}': generate requests must not be compressed`);
  }
  const [model, version] = [request.params[0] as string, request.params[1] ?? ''];
  const call = toGenerateCall({ model, version }, jsonObject(request.body), context.repository.metadata(model, version), request.arrivedNs);
  request.note.requestId = call.requestId;
  return call;
}

/** `…/generate`: exactly one response, as one JSON object. */
async function generate(context: RouteContext, request: RouteRequest): Promise<Reply> {
  const call = generateCall(context, request);
  let only: InferResult | undefined;
  let count = 0;
  for await (const { result } of context.dataPlane.inferStream(call, request.signal)) {
    only = result;
    // A second response already decides the answer: the model need not make more.
    if (++count > 1) break;
  }
  request.note.responses = count;
  if (count !== 1 || only === undefined) throw new InferenceError('INTERNAL', NOT_ONE_RESPONSE);
  request.note.version = only.version;
  return { status: 200, json: toGenerateJson(only) };
}

const EVENT_STREAM = 'text/event-stream; charset=utf-8';
const errorEvent = (message: string): string => sseEvent(JSON.stringify({ error: message }));

/** `…/generate_stream`: one Server-Sent Event per response, as the model makes them. */
async function generateStream(context: RouteContext, request: RouteRequest): Promise<Reply> {
  const responses = context.dataPlane.inferStream(generateCall(context, request), request.signal)[Symbol.asyncIterator]();
  // An error before the first response is answered with its status; later ones become an event.
  const first = await responses.next();
  const { note } = request;
  note.responses = 0;
  async function* events(): AsyncGenerator<string> {
    try {
      for (let next = first; !next.done; next = await responses.next()) {
        note.version = next.value.result.version;
        yield sseEvent(toGenerateJson(next.value.result));
        note.responses = (note.responses ?? 0) + 1;
      }
    } finally {
      // The client went away mid-stream: the model's responses are no longer wanted.
      await responses.return?.(undefined);
    }
  }
  return { status: 200, stream: { contentType: EVENT_STREAM, chunks: events(), errorChunk: errorEvent } };
}

/** In order: the first route whose path and verb match answers. Inference first: it is most of the traffic. */
export const ROUTES: readonly Route[] = [
  {
    method: 'POST',
    operation: 'ModelInfer',
    about: modelOf,
    path: model('/infer'),
    category: 'inference',
    handle: (c, r) => infer(c, r, undefined),
  },
  {
    method: 'GET',
    operation: 'ServerMetadata',
    path: /^\/v2\/?$/,
    category: 'metadata',
    handle: (c) => json({ name: c.serverName, version: c.serverVersion, extensions: c.extensions }),
  },
  { method: 'GET', operation: 'ServerLive', path: /^\/v2\/health\/live$/, category: 'health', handle: () => EMPTY_OK },
  {
    method: 'GET',
    operation: 'ServerReady',
    path: /^\/v2\/health\/ready$/,
    category: 'health',
    handle: (c) => ({ status: !c.shuttingDown() && c.repository.serverReady() ? 200 : 400 }),
  },
  {
    method: 'GET',
    operation: 'ModelList',
    path: /^\/v2\/models$/,
    category: 'metadata',
    handle: (c) => json({ models: [...new Set(c.repository.index(true).map((entry) => entry.name))] }),
  },
  {
    method: 'GET',
    operation: 'ModelStatistics',
    path: /^\/v2\/models\/stats$/,
    category: 'statistics',
    handle: (c) => json(toStatisticsJson(c.repository.statistics('', ''))),
  },
  {
    method: 'GET',
    operation: 'ModelMetadata',
    about: modelOf,
    path: model(''),
    category: 'metadata',
    handle: (c, r) => json(c.repository.metadata(r.params[0] as string, r.params[1] ?? '')),
  },
  {
    method: 'GET',
    operation: 'ModelReady',
    about: modelOf,
    path: model('/ready'),
    category: 'health',
    handle: (c, r) => {
      const [name, version] = r.params as [string, string | undefined];
      if (c.repository.modelReady(name, version ?? '')) return EMPTY_OK;
      return json({ error: `Model '${name}'${version ? ` version ${version}` : ''} is not ready` }, 400);
    },
  },
  {
    method: 'GET',
    operation: 'ModelConfig',
    about: modelOf,
    path: model('/config'),
    category: 'model-config',
    handle: (c, r) => ({ status: 200, json: configToJson(c.repository.config(r.params[0] as string, r.params[1] ?? '')) }),
  },
  {
    method: 'GET',
    operation: 'ModelStatistics',
    about: modelOf,
    path: model('/stats'),
    category: 'statistics',
    handle: (c, r) => json(toStatisticsJson(c.repository.statistics(r.params[0] as string, r.params[1] ?? ''))),
  },
  {
    method: 'POST',
    // Named by the gRPC RPC that answers the same way: one response, or a stream of them.
    operation: 'ModelInfer',
    about: modelOf,
    path: model('/generate'),
    category: 'inference',
    handle: generate,
  },
  {
    method: 'POST',
    operation: 'ModelStreamInfer',
    about: modelOf,
    path: model('/generate_stream'),
    category: 'inference',
    handle: generateStream,
  },
  {
    method: 'POST',
    operation: 'ModelInfer',
    about: modelOf,
    path: model(`/${RESERVED}([^/]+)`),
    category: 'inference',
    handle: (c, r) => infer(c, r, r.params[2] as string),
  },
  {
    method: 'POST',
    operation: 'RepositoryIndex',
    path: /^\/v2\/repository(?:\/([^/]+))?\/index$/,
    category: 'model-repository',
    handle: (c, r) => {
      checkRepositoryName(r.params[0], 'the path');
      return json(toIndexJson(c.repository.index(fromIndexJson(jsonObject(r.body)))));
    },
  },
  {
    method: 'POST',
    operation: 'RepositoryModelLoad',
    about: repositoryModelOf,
    path: /^\/v2\/repository(?:\/([^/]+))?\/models\/([^/]+)\/load$/,
    category: 'model-repository',
    handle: async (c, r) => {
      checkRepositoryName(r.params[0], 'the path');
      c.repository.checkExplicitControl();
      const { config, files } = fromLoadJson(jsonObject(r.body));
      await c.repository.loadModel(r.params[1] as string, config === undefined ? undefined : parseConfigJson(config), files);
      return ok();
    },
  },
  {
    method: 'POST',
    operation: 'RepositoryModelUnload',
    about: repositoryModelOf,
    path: /^\/v2\/repository(?:\/([^/]+))?\/models\/([^/]+)\/unload$/,
    category: 'model-repository',
    handle: async (c, r) => {
      checkRepositoryName(r.params[0], 'the path');
      c.repository.checkExplicitControl();
      await c.repository.unloadModel(r.params[1] as string, unloadDependents(jsonObject(r.body)));
      return ok();
    },
  },
  {
    method: 'GET',
    operation: 'SystemSharedMemoryStatus',
    path: /^\/v2\/systemsharedmemory(?:\/region\/([^/]+))?\/status$/,
    category: 'shared-memory',
    handle: (c, r) => json(toRegionsJson(c.sharedMemory.status(r.params[0] ?? ''))),
  },
  {
    method: 'POST',
    operation: 'SystemSharedMemoryRegister',
    path: /^\/v2\/systemsharedmemory\/region\/([^/]+)\/register$/,
    category: 'shared-memory',
    handle: async (c, r) => {
      const { key, offset, byteSize } = fromRegisterJson(jsonObject(r.body));
      await c.sharedMemory.register(r.params[0] as string, key, offset, byteSize);
      return ok();
    },
  },
  {
    method: 'POST',
    operation: 'SystemSharedMemoryUnregister',
    path: /^\/v2\/systemsharedmemory(?:\/region\/([^/]+))?\/unregister$/,
    category: 'shared-memory',
    handle: async (c, r) => {
      await c.sharedMemory.unregister(r.params[0] ?? '');
      return ok();
    },
  },
  // No CUDA region can exist (v2serve runs models on the CPU): status lists none, as gRPC answers.
  {
    method: 'GET',
    operation: 'CudaSharedMemoryStatus',
    path: /^\/v2\/cudasharedmemory(?:\/region\/([^/]+))?\/status$/,
    category: 'shared-memory',
    handle: (_c, r) => {
      if (r.params[0]) throw new InferenceError('NOT_FOUND', `Unable to find cuda shared memory region: '${r.params[0]}'`);
      return json([]);
    },
  },
  {
    method: 'POST',
    operation: 'CudaSharedMemoryRegister',
    path: /^\/v2\/cudasharedmemory\/region\/([^/]+)\/register$/,
    category: 'shared-memory',
    handle: (_c, r) => {
      throw new InferenceError('INVALID_ARGUMENT', `failed to register CUDA shared memory region '${r.params[0]}': GPUs not supported`);
    },
  },
  {
    method: 'POST',
    operation: 'CudaSharedMemoryUnregister',
    path: /^\/v2\/cudasharedmemory(?:\/region\/([^/]+))?\/unregister$/,
    category: 'shared-memory',
    handle: () => ok(),
  },
  ...(['GET', 'POST'] as const).map(
    (method): Route => ({
      method,
      operation: 'TraceSetting',
      path: /^\/v2(?:\/models\/[^/]+(?:\/versions\/[0-9]+)?)?\/trace\/setting$/,
      category: 'trace',
      handle: () => {
        throw InferenceError.unimplemented('trace setting (v2serve does not trace requests)');
      },
    }),
  ),
  {
    method: 'GET',
    operation: 'LogSettings',
    path: /^\/v2\/logging$/,
    category: 'logging',
    handle: (c) => json(toLogSettingsJson(c.logSettings.current())),
  },
  {
    method: 'POST',
    operation: 'LogSettings',
    path: /^\/v2\/logging$/,
    category: 'logging',
    handle: (c, r) => {
      const changes = fromLogSettingsJson(jsonObject(r.body));
      c.logSettings.update(changes);
      if (changes.size > 0) c.log.info({ settings: dictionary(c.logSettings.current()) }, 'log settings changed');
      return json(toLogSettingsJson(c.logSettings.current()));
    },
  },
];

/** The route for `method path`, with its decoded captures; 404 without one, 405 for a path with other verbs. */
export function findRoute(method: string, path: string): { route: Route; params: (string | undefined)[] } {
  let pathMatched = false;
  for (const route of ROUTES) {
    const match = route.path.exec(path);
    if (!match) continue;
    pathMatched = true;
    // HEAD is answered as GET without a body (node:http drops it).
    if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) continue;
    return { route, params: match.slice(1).map(decodeSegment) };
  }
  throw pathMatched ? new InferenceError('METHOD_NOT_ALLOWED', 'Method Not Allowed') : new InferenceError('NOT_FOUND', 'Not Found');
}

function decodeSegment(segment: string | undefined): string | undefined {
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InferenceError('INVALID_ARGUMENT', `'${segment}' is not a valid URL path segment`);
  }
}
