// gRPC server reflection (grpc.reflection.v1 and v1alpha) over the descriptors buf compiled
// from proto/: each file is served as the exact bytes in generated/descriptor_set.ts, under
// its own name, so a client building a descriptor pool (grpcurl, Postman, Python's protobuf)
// sees what protoc would give it: map entries as `<Field>Entry`, fully-qualified type names.
import { status as Status, type Server, type ServerDuplexStream } from '@grpc/grpc-js';
import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import {
  FileDescriptorProtoSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import { DESCRIPTOR_SET_BASE64 } from '../../generated/descriptor_set.js';
import {
  ServerReflectionService as ReflectionV1,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from '../../generated/grpc/reflection/v1/reflection.js';
import { ServerReflectionService as ReflectionV1Alpha } from '../../generated/grpc/reflection/v1alpha/reflection.js';

export const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'] as const;

/** FileDescriptorSet.file is field 1; each entry is one serialized FileDescriptorProto. */
const FILE_FIELD = 1;

interface CompiledFile {
  readonly name: string;
  /** The FileDescriptorProto exactly as the compiler wrote it. */
  readonly bytes: Buffer;
  readonly dependencies: readonly string[];
}

/** Where every file, symbol and extension of the compiled descriptors is found. */
export class DescriptorIndex {
  private readonly files = new Map<string, CompiledFile>();
  private readonly symbols = new Map<string, CompiledFile>();
  private readonly messages = new Set<string>();
  /** Extended message → extension number → declaring file. */
  private readonly extensions = new Map<string, Map<number, CompiledFile>>();

  constructor(descriptorSet: Uint8Array) {
    const reader = new BinaryReader(descriptorSet);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field !== FILE_FIELD || wireType !== WireType.LengthDelimited) {
        reader.skip(wireType);
        continue;
      }
      const bytes = Buffer.from(reader.bytes());
      const proto = fromBinary(FileDescriptorProtoSchema, bytes);
      const file: CompiledFile = { name: proto.name, bytes, dependencies: proto.dependency };
      this.files.set(file.name, file);
      this.indexFile(proto, file);
    }
  }

  /** The v2serve contract as compiled into generated/descriptor_set.ts. */
  static compiled(): DescriptorIndex {
    return new DescriptorIndex(Buffer.from(DESCRIPTOR_SET_BASE64, 'base64'));
  }

  fileNames(): string[] {
    return [...this.files.keys()];
  }

  fileByName(name: string): CompiledFile | undefined {
    return this.files.get(name);
  }

  fileContainingSymbol(symbol: string): CompiledFile | undefined {
    return this.symbols.get(symbol.startsWith('.') ? symbol.slice(1) : symbol);
  }

  fileContainingExtension(message: string, extensionNumber: number): CompiledFile | undefined {
    return this.extensions.get(trimDot(message))?.get(extensionNumber);
  }

  /** The extension numbers of a message, or undefined when no such message exists. */
  extensionNumbers(message: string): number[] | undefined {
    const name = trimDot(message);
    if (!this.messages.has(name)) return undefined;
    return [...(this.extensions.get(name)?.keys() ?? [])].sort((a, b) => a - b);
  }

  hasService(name: string): boolean {
    return this.symbols.has(name);
  }

  private indexFile(proto: FileDescriptorProto, file: CompiledFile): void {
    const scope = proto.package ? `${proto.package}.` : '';
    for (const message of proto.messageType) this.indexMessage(message, scope, file);
    for (const enumType of proto.enumType) this.indexEnum(enumType, scope, file);
    for (const extension of proto.extension) this.indexExtension(extension, scope, file);
    for (const service of proto.service) {
      const name = scope + service.name;
      this.symbols.set(name, file);
      for (const method of service.method) this.symbols.set(`${name}.${method.name}`, file);
    }
  }

  private indexMessage(message: DescriptorProto, scope: string, file: CompiledFile): void {
    const name = scope + message.name;
    this.symbols.set(name, file);
    this.messages.add(name);
    for (const field of message.field) this.symbols.set(`${name}.${field.name}`, file);
    for (const oneof of message.oneofDecl) this.symbols.set(`${name}.${oneof.name}`, file);
    for (const nested of message.nestedType) this.indexMessage(nested, `${name}.`, file);
    for (const enumType of message.enumType) this.indexEnum(enumType, `${name}.`, file);
    for (const extension of message.extension) this.indexExtension(extension, `${name}.`, file);
  }

  /** Enum values live in the enum's enclosing scope, as in C++ (protobuf's scoping rule). */
  private indexEnum(enumType: EnumDescriptorProto, scope: string, file: CompiledFile): void {
    this.symbols.set(scope + enumType.name, file);
    for (const value of enumType.value) this.symbols.set(scope + value.name, file);
  }

  private indexExtension(extension: FieldDescriptorProto, scope: string, file: CompiledFile): void {
    this.symbols.set(scope + extension.name, file);
    const extended = trimDot(extension.extendee);
    let byNumber = this.extensions.get(extended);
    if (!byNumber) this.extensions.set(extended, (byNumber = new Map()));
    byNumber.set(extension.number, file);
  }
}

function trimDot(name: string): string {
  return name.startsWith('.') ? name.slice(1) : name;
}

type ReflectionAnswer = Omit<ServerReflectionResponse, 'validHost' | 'originalRequest'>;

function notFound(message: string): ReflectionAnswer {
  return { errorResponse: { errorCode: Status.NOT_FOUND, errorMessage: message } };
}

/**
 * Answers one reflection stream. A file comes with the files it imports, transitively;
 * imports this stream has already received are left out (the client has them), the
 * requested file never is.
 */
class ReflectionStream {
  private readonly sent = new Set<string>();

  constructor(
    private readonly index: DescriptorIndex,
    private readonly services: readonly string[],
  ) {}

  answer(request: ServerReflectionRequest): ServerReflectionResponse {
    return { validHost: request.host, originalRequest: request, ...this.answerOf(request) };
  }

  private answerOf(request: ServerReflectionRequest): ReflectionAnswer {
    if (request.listServices !== undefined) {
      return { listServicesResponse: { service: this.services.map((name) => ({ name })) } };
    }
    if (request.fileByFilename !== undefined) {
      const file = this.index.fileByName(request.fileByFilename);
      return file ? this.withImports(file) : notFound(`file '${request.fileByFilename}' not found`);
    }
    if (request.fileContainingSymbol !== undefined) {
      const file = this.index.fileContainingSymbol(request.fileContainingSymbol);
      return file ? this.withImports(file) : notFound(`symbol '${request.fileContainingSymbol}' not found`);
    }
    if (request.fileContainingExtension !== undefined) {
      const { containingType, extensionNumber } = request.fileContainingExtension;
      const file = this.index.fileContainingExtension(containingType, extensionNumber);
      return file ? this.withImports(file) : notFound(`extension ${extensionNumber} of '${containingType}' not found`);
    }
    if (request.allExtensionNumbersOfType !== undefined) {
      const numbers = this.index.extensionNumbers(request.allExtensionNumbersOfType);
      if (!numbers) return notFound(`message type '${request.allExtensionNumbersOfType}' not found`);
      return { allExtensionNumbersResponse: { baseTypeName: trimDot(request.allExtensionNumbersOfType), extensionNumber: numbers } };
    }
    return { errorResponse: { errorCode: Status.INVALID_ARGUMENT, errorMessage: 'the request asks for nothing (message_request is not set)' } };
  }

  private withImports(requested: CompiledFile): ReflectionAnswer {
    const out: Buffer[] = [];
    const queue = [requested];
    for (let file = queue.shift(); file; file = queue.shift()) {
      if (file !== requested && this.sent.has(file.name)) continue;
      this.sent.add(file.name);
      out.push(file.bytes);
      for (const dependency of file.dependencies) {
        const imported = this.index.fileByName(dependency);
        if (imported && !queue.includes(imported)) queue.push(imported);
      }
    }
    return { fileDescriptorResponse: { fileDescriptorProto: out } };
  }
}

/**
 * Adds both reflection services to `server`. `services` are the fully-qualified names the
 * server serves besides reflection; each must be in the compiled descriptors.
 */
export function addReflection(server: Server, services: readonly string[], index = DescriptorIndex.compiled()): void {
  const listed = [...services, ...REFLECTION_SERVICES];
  for (const name of listed) {
    if (!index.hasService(name)) throw new Error(`reflection: service '${name}' is not in the compiled descriptors`);
  }
  const handler = (call: ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>): void => {
    const stream = new ReflectionStream(index, listed);
    call.on('data', (request: ServerReflectionRequest) => call.write(stream.answer(request)));
    call.on('end', () => call.end());
    // A client that goes away mid-stream only ends its own stream.
    call.on('error', () => undefined);
  };
  server.addService(ReflectionV1, { serverReflectionInfo: handler });
  server.addService(ReflectionV1Alpha, { serverReflectionInfo: handler });
}
