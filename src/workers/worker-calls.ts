// Model calls from a worker instance: ModelServer.infer() in the worker becomes a 'call'
// message to its pool on the main thread, which makes the call into the repository and
// answers with the output tensors. Tensors move as transferred buffers (copies: the caller
// may keep its own), never as JSON.
import { abortError } from '../errors.js';
import { dictionary } from '../dictionary.js';
import { callInputs, type ChainedCallOptions, type ModelCaller, type ModelCallInputs, type ModelCallResult } from '../model/index.js';
import { deserializeError, packTensorCopy, serializeError, unpackTensor, type FromWorker, type ToWorker } from './worker-protocol.js';

interface PendingCall {
  resolve(result: ModelCallResult): void;
  reject(err: Error): void;
}

export class WorkerCalls implements ModelCaller {
  private next = 0;
  private readonly pending = new Map<number, PendingCall>();

  constructor(private readonly post: (message: FromWorker, transfer: ArrayBuffer[]) => void) {}

  infer(model: string, inputs: ModelCallInputs, options: ChainedCallOptions): Promise<ModelCallResult> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const call = ++this.next;
    const transfer = new Set<ArrayBuffer>();
    let tensors;
    try {
      tensors = callInputs(inputs).map((tensor) => packTensorCopy(tensor, transfer));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return new Promise<ModelCallResult>((resolve, reject) => {
      const onAbort = (): void => this.post({ type: 'call-abort', call, reason: serializeError(abortError(signal as AbortSignal)) }, []);
      const settled = (): void => {
        this.pending.delete(call);
        signal?.removeEventListener('abort', onAbort);
      };
      this.pending.set(call, {
        resolve: (result) => {
          settled();
          resolve(result);
        },
        reject: (err) => {
          settled();
          reject(err);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.post(
        {
          type: 'call',
          call,
          model,
          version: options.version ?? '',
          id: options.id ?? '',
          tensors,
          parameters: options.parameters ?? dictionary(),
          outputs: options.outputs ?? [],
          callers: options.callers,
        },
        [...transfer],
      );
    });
  }

  /** The pool's answer to a call. */
  settle(message: Extract<ToWorker, { type: 'call-done' | 'call-failed' }>): void {
    const pending = this.pending.get(message.call);
    if (!pending) return;
    if (message.type === 'call-failed') {
      pending.reject(deserializeError(message.error));
      return;
    }
    const outputs = message.outputs.map(unpackTensor);
    pending.resolve({
      model: message.model,
      version: message.version,
      outputs,
      tensors: dictionary(outputs.map((tensor) => [tensor.name, tensor] as const)),
      // Structured cloning gave them Object.prototype back.
      parameters: dictionary(message.parameters),
    });
  }
}
