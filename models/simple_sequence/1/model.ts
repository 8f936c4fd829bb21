import { InferenceError, ModelServer, type InferRequest, type PredictOutputs } from 'v2serve';

/**
 * Triton's `simple_sequence`: OUTPUT = INPUT + START, where START is 1 on the request that
 * carries `sequence_start`. The model keeps one state per `sequence_id`, as Triton's sequence
 * batcher does: a sequence must begin with `sequence_start`, `sequence_end` drops its state,
 * and a sequence idle for longer than `max_sequence_idle_microseconds` is forgotten.
 */
export default class SimpleSequence extends ModelServer {
  /** When each open sequence was last seen, least recently seen first. */
  private readonly lastSeen = new Map<string, number>();
  private idleMs = 1000;

  load(): void {
    // Triton's default when the config leaves it at 0: one second.
    const idleUs = Number(this.config.sequenceBatching?.maxSequenceIdleMicroseconds ?? 0n);
    this.idleMs = idleUs > 0 ? idleUs / 1000 : 1000;
  }

  predict(request: InferRequest): PredictOutputs {
    const id = request.parameters['sequence_id'];
    const start = request.parameters['sequence_start'] === true;
    const end = request.parameters['sequence_end'] === true;
    // Integer and string ids are different sequences, as in Triton.
    const key = typeof id === 'string' ? JSON.stringify(id) : String(id);
    const now = Date.now();
    this.forgetIdle(now);
    if (!start && !this.lastSeen.has(key)) {
      throw new InferenceError(
        'INVALID_ARGUMENT',
        `inference request for sequence ${key} to model '${this.name}' must specify the START flag on the first request of the sequence`,
      );
    }
    this.lastSeen.delete(key);
    if (!end) this.lastSeen.set(key, now);

    const input = request.tensors['INPUT']?.data as Int32Array;
    const output = new Int32Array(input.length);
    for (let i = 0; i < input.length; i++) output[i] = (input[i] as number) + (start ? 1 : 0);
    return { OUTPUT: output };
  }

  /** Sequences whose client never sent `sequence_end` must not hold memory forever. */
  private forgetIdle(now: number): void {
    for (const [key, seen] of this.lastSeen) {
      if (now - seen <= this.idleMs) break;
      this.lastSeen.delete(key);
    }
  }
}
