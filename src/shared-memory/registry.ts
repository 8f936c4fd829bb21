// Triton's system shared memory extension. A region is a slice of a POSIX shared memory
// object, which Linux keeps as the file /dev/shm/<key>. The file is opened once, at
// registration (so, like Triton's mmap, the region outlives an unlink by the client), and
// each request that names the region reads its inputs from it and writes its outputs to it
// with positioned file I/O: one copy each way, which Node can do without a native mmap.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { InferenceError } from '../errors.js';
import type { Parameters, ParamValue } from '../model/index.js';
import type { CallInput, InferCall, InferResult } from '../pipeline/index.js';

export const SHM_DIR = '/dev/shm';

const REGION = 'shared_memory_region';
const BYTE_SIZE = 'shared_memory_byte_size';
const OFFSET = 'shared_memory_offset';

export interface RegionStatus {
  readonly name: string;
  readonly key: string;
  readonly offset: bigint;
  readonly byteSize: bigint;
}

/** Where one tensor lives in a region, as a request's parameters give it. */
interface Placement {
  readonly region: string;
  readonly offset: number;
  readonly byteSize: number;
}

/** A requested output to be written into a region once the model has answered. */
export interface OutputPlacement extends Placement {
  readonly name: string;
  readonly field: string;
}

class Region {
  private users = 0;
  private removed = false;

  constructor(
    readonly name: string,
    readonly key: string,
    readonly offset: number,
    readonly byteSize: number,
    private readonly file: FileHandle,
  ) {}

  /** Keeps the file open while a request reads or writes it, even if the region is unregistered meanwhile. */
  async use<T>(work: (file: FileHandle) => Promise<T>): Promise<T> {
    this.users++;
    try {
      return await work(this.file);
    } finally {
      this.users--;
      if (this.removed && this.users === 0) await this.file.close();
    }
  }

  async remove(): Promise<void> {
    this.removed = true;
    if (this.users === 0) await this.file.close();
  }
}

function toSafeNumber(value: bigint | number, field: string): number {
  if (value < 0 || value > Number.MAX_SAFE_INTEGER) {
    throw InferenceError.invalidArgument(field, `must be between 0 and ${Number.MAX_SAFE_INTEGER}, got ${value}`);
  }
  return Number(value);
}

function isInteger(value: ParamValue | undefined): value is number | bigint {
  return typeof value === 'bigint' || Number.isInteger(value);
}

/** shm_open keys are one name, optionally after a '/': never a path into the file system. */
function fileName(key: string): string {
  const name = key.startsWith('/') ? key.slice(1) : key;
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw InferenceError.invalidArgument('key', `must be a shared memory object name such as '/input_data', got '${key}'`);
  }
  return name;
}

/** Does any input or requested output name a region? Requests that don't pay nothing more. */
export function usesSharedMemory(call: InferCall): boolean {
  for (const input of call.inputs) if (hasPlacement(input.parameters)) return true;
  for (const output of call.outputs) if (hasPlacement(output.parameters)) return true;
  return false;
}

/** Whether a tensor's parameters place it in a region (its data is read from or written to there). */
function hasPlacement(parameters: Parameters | undefined): boolean {
  return parameters !== undefined && (parameters[REGION] !== undefined || parameters[BYTE_SIZE] !== undefined || parameters[OFFSET] !== undefined);
}

/** Reads the region parameters of one tensor, with Triton's rules (ParseSharedMemoryParams); undefined when it names none. */
export function placementOf(parameters: Parameters | undefined, field: string): Placement | undefined {
  if (!parameters || !hasPlacement(parameters)) return undefined;
  const region = parameters[REGION];
  const byteSize = parameters[BYTE_SIZE];
  const offset = parameters[OFFSET];
  if (region === undefined) {
    throw InferenceError.invalidArgument(`${field}.parameters`, `'${BYTE_SIZE}' and '${OFFSET}' need '${REGION}'`);
  }
  if (typeof region !== 'string') {
    throw InferenceError.invalidArgument(`${field}.parameters.${REGION}`, 'must be a string_param');
  }
  if (!isInteger(byteSize)) {
    throw InferenceError.invalidArgument(`${field}.parameters.${BYTE_SIZE}`, `must be an int64_param (required with '${REGION}')`);
  }
  if (offset !== undefined && !isInteger(offset)) {
    throw InferenceError.invalidArgument(`${field}.parameters.${OFFSET}`, 'must be an int64_param');
  }
  return {
    region,
    byteSize: toSafeNumber(byteSize, `${field}.parameters.${BYTE_SIZE}`),
    offset: toSafeNumber(offset ?? 0, `${field}.parameters.${OFFSET}`),
  };
}

/** The registered system shared memory regions of one server. */
export class SharedMemoryRegistry {
  private readonly regions = new Map<string, Region>();
  /** Names being registered: a second register of the same name must not race the first. */
  private readonly registering = new Set<string>();

  constructor(private readonly dir: string = SHM_DIR) {}

  async register(name: string, key: string, offset: bigint, byteSize: bigint): Promise<void> {
    if (!name) throw InferenceError.invalidArgument('name', 'must not be empty');
    const file = fileName(key);
    const start = toSafeNumber(offset, 'offset');
    const size = toSafeNumber(byteSize, 'byte_size');
    if (this.regions.has(name) || this.registering.has(name)) {
      throw new InferenceError('ALREADY_EXISTS', `shared memory region '${name}' already in manager`);
    }
    this.registering.add(name);
    try {
      let handle: FileHandle;
      try {
        // O_NOFOLLOW: a symlink planted in /dev/shm must not lead elsewhere.
        handle = await open(join(this.dir, file), constants.O_RDWR | constants.O_NOFOLLOW);
      } catch (err) {
        throw new InferenceError('INVALID_ARGUMENT', `Unable to open shared memory region: '${key}' (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
          cause: err,
        });
      }
      try {
        const stat = await handle.stat();
        if (!stat.isFile()) throw InferenceError.invalidArgument('key', `'${key}' is not a shared memory object`);
        if (start + size > stat.size) {
          throw InferenceError.invalidArgument(
            'byte_size',
            `region '${name}': offset ${start} + byte_size ${size} exceeds the ${stat.size} bytes of '${key}'`,
          );
        }
      } catch (err) {
        await handle.close();
        throw err;
      }
      this.regions.set(name, new Region(name, key, start, size, handle));
    } finally {
      this.registering.delete(name);
    }
  }

  /** All regions, or the one named (NOT_FOUND if it isn't registered). */
  status(name: string): RegionStatus[] {
    const regions = name ? [this.regions.get(name)] : [...this.regions.values()];
    return regions.map((region) => {
      if (!region) throw new InferenceError('NOT_FOUND', `Unable to find system shared memory region: '${name}'`);
      return { name: region.name, key: region.key, offset: BigInt(region.offset), byteSize: BigInt(region.byteSize) };
    });
  }

  /** Unregisters one region, or all with an empty name; an unknown name is no error (as Triton). */
  async unregister(name: string): Promise<void> {
    const names = name ? [name] : [...this.regions.keys()];
    for (const n of names) {
      const region = this.regions.get(n);
      if (!region) continue;
      this.regions.delete(n);
      await region.remove();
    }
  }

  private region(placement: Placement, field: string): Region {
    const region = this.regions.get(placement.region);
    if (!region) throw new InferenceError('NOT_FOUND', `Unable to find shared memory region: '${placement.region}' (${field})`);
    if (placement.offset + placement.byteSize > region.byteSize) {
      throw InferenceError.invalidArgument(
        `${field}.parameters.${OFFSET}`,
        `region '${region.name}': offset ${placement.offset} + byte_size ${placement.byteSize} exceeds the region's ${region.byteSize} bytes`,
      );
    }
    return region;
  }

  /** Checks, before anything runs, the regions the requested outputs are to be written to. */
  outputPlacements(call: InferCall): OutputPlacement[] {
    const placements: OutputPlacement[] = [];
    for (const [i, output] of call.outputs.entries()) {
      const field = `outputs[${i}]`;
      const placement = placementOf(output.parameters, field);
      if (!placement) continue;
      this.region(placement, field);
      placements.push({ ...placement, name: output.name, field });
    }
    return placements;
  }

  /** The call's inputs, each one placed in a region with its bytes read from there as its raw data. */
  async readInputs(call: InferCall): Promise<CallInput[]> {
    return Promise.all(
      call.inputs.map(async (input, i) => {
        const field = `inputs[${i}]`;
        const placement = placementOf(input.parameters, field);
        if (!placement) return input;
        if (input.raw !== undefined) throw InferenceError.invalidArgument(field, `'${input.name}' is in shared memory: it must carry no data of its own`);
        const region = this.region(placement, field);
        const raw = await region.use((file) => readFully(file, region.offset + placement.offset, placement.byteSize, region.name));
        return { ...input, raw };
      }),
    );
  }

  /** Writes each placed output into its region; the result keeps an empty raw entry, datatype and shape. */
  async writeOutputs(placements: readonly OutputPlacement[], result: InferResult): Promise<void> {
    await Promise.all(
      placements.map(async (placement) => {
        const index = result.outputs.findIndex((output) => output.name === placement.name);
        if (index < 0) return;
        const bytes = result.raw[index] as Uint8Array;
        if (bytes.byteLength > placement.byteSize) {
          throw InferenceError.invalidArgument(
            `${placement.field}.parameters.${BYTE_SIZE}`,
            `shared memory size specified with the request for output '${placement.name}' (${placement.byteSize} bytes) should be at least ${bytes.byteLength} bytes to hold the results`,
          );
        }
        const region = this.region(placement, placement.field);
        await region.use((file) => writeFully(file, region.offset + placement.offset, bytes));
        result.raw[index] = new Uint8Array(0);
      }),
    );
  }

  /** Unregisters everything (server shutdown). */
  close(): Promise<void> {
    return this.unregister('');
  }
}

async function readFully(file: FileHandle, position: number, length: number, region: string): Promise<Uint8Array> {
  const buffer = Buffer.allocUnsafe(length);
  for (let done = 0; done < length; ) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    // Only a shm object truncated after registration ends early; the buffer is never returned then.
    if (bytesRead === 0) throw new InferenceError('INVALID_ARGUMENT', `shared memory region '${region}' is shorter than registered`);
    done += bytesRead;
  }
  return buffer;
}

async function writeFully(file: FileHandle, position: number, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.byteLength; ) {
    const { bytesWritten } = await file.write(bytes, done, bytes.byteLength - done, position + done);
    done += bytesWritten;
  }
}
