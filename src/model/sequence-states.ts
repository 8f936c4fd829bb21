// Per-sequence state for stateful models, with the rules of Triton's sequence batcher:
// a sequence begins with `sequence_start`, `sequence_end` forgets it, and one left idle
// longer than `max_sequence_idle_microseconds` (default one second) is forgotten too.
import type { ModelConfig } from '../../generated/model_config.js';
import { InferenceError } from '../errors.js';
import type { Parameters } from './types.js';

/** One request's place in a sequence (request parameters sequence_id/_start/_end). */
export interface SequencePosition {
  /** Triton's correlation id: a non-zero integer or a non-empty string. */
  readonly id: number | bigint | string;
  readonly start: boolean;
  readonly end: boolean;
}

/**
 * The sequence a request belongs to, or undefined when it is in none (no `sequence_id`,
 * or 0 / "", which Triton reserves for requests outside any sequence). The gRPC boundary
 * has already checked the parameter types.
 */
export function sequenceOf(parameters: Parameters): SequencePosition | undefined {
  const id = parameters['sequence_id'];
  if (id === undefined || id === 0 || id === 0n || id === '' || typeof id === 'boolean') return undefined;
  return { id, start: parameters['sequence_start'] === true, end: parameters['sequence_end'] === true };
}

/** Triton's default idle time when the config leaves it at 0. */
const DEFAULT_IDLE_MS = 1000;

export interface SequenceStep<S> extends SequencePosition {
  /** The state after this request. */
  readonly state: S;
}

/**
 * Keeps one state per sequence id. Integer and string ids are different sequences, as in
 * Triton. v2serve runs the requests of one sequence one at a time and in order, so a model
 * needs no lock around `advance`.
 */
export class SequenceStates<S> {
  /** When each open sequence was last seen, least recently seen first. */
  private readonly open = new Map<string, { state: S; seenMs: number }>();
  private readonly idleMs: number;

  constructor(private readonly model: { readonly name: string; readonly config: ModelConfig }) {
    const idleUs = Number(model.config.sequenceBatching?.maxSequenceIdleMicroseconds ?? 0n);
    this.idleMs = idleUs > 0 ? idleUs / 1000 : DEFAULT_IDLE_MS;
  }

  /**
   * Moves the request's sequence on: `next` gets the state before this request (undefined on
   * `sequence_start`) and returns the state after it. A request outside any sequence, or one
   * continuing a sequence that was never started (or already ended or forgotten), is
   * INVALID_ARGUMENT with Triton's wording.
   */
  advance(parameters: Parameters, next: (previous: S | undefined, position: SequencePosition) => S): SequenceStep<S> {
    const position = sequenceOf(parameters);
    if (!position) {
      throw new InferenceError(
        'INVALID_ARGUMENT',
        `inference request to model '${this.model.name}' must specify a non-zero or non-empty correlation ID (parameter 'sequence_id')`,
      );
    }
    const key = typeof position.id === 'string' ? JSON.stringify(position.id) : String(position.id);
    const now = Date.now();
    this.forgetIdle(now);
    const current = this.open.get(key);
    if (!position.start && !current) {
      throw new InferenceError(
        'INVALID_ARGUMENT',
        `inference request for sequence ${key} to model '${this.model.name}' must specify the START flag on the first request of the sequence`,
      );
    }
    const state = next(position.start ? undefined : current?.state, position);
    this.open.delete(key);
    if (!position.end) this.open.set(key, { state, seenMs: now });
    return { ...position, state };
  }

  /** How many sequences are open. */
  get size(): number {
    return this.open.size;
  }

  /** Sequences whose client never sent `sequence_end` must not hold memory forever. */
  private forgetIdle(now: number): void {
    for (const [key, { seenMs }] of this.open) {
      if (now - seenMs <= this.idleMs) break;
      this.open.delete(key);
    }
  }
}
