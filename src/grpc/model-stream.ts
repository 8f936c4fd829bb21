// ModelStreamInfer: requests in, each request's responses out as its model makes them (one
// for a model that is not decoupled), responses of different requests interleaved, over one
// bidi stream that stays open through failed requests and ends in step with shutdown.
import { status as Status, type handleBidiStreamingCall, type ServerDuplexStream } from '@grpc/grpc-js';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import type { Cancellation } from '../cancellation.js';
import { dictionary } from '../dictionary.js';
import { abortError, errorMessage } from '../errors.js';
import { requestIdOf } from '../request-id.js';
import { CallCancellation } from './call-cancellation.js';
import { toInferCall } from './converters.js';
import { requestWireSize } from './infer-request-codec.js';
import type { StreamAnswer } from './infer-response-codec.js';
import { inferTarget, record } from './request-record.js';
import type { ServiceContext } from './service-context.js';
import { SHUTTING_DOWN, toServiceError } from './status.js';

type Stream = ServerDuplexStream<ModelInferRequest, StreamAnswer>;

/** Ends a stream with UNAVAILABLE: grpc-js sends the status of an emitted error carrying a code. */
function endShuttingDown(call: Stream): void {
  call.emit('error', Object.assign(new Error(SHUTTING_DOWN.details), SHUTTING_DOWN));
}

/** Shared by every answer without parameters: the encoder only reads it. */
const NO_PARAMETERS = Object.freeze(dictionary<never>());

/** Triton's request parameter asking for a flag-only last response when the model marks none. */
const EMPTY_FINAL_PARAMETER = 'triton_enable_empty_final_response';

/** An answer carrying no outputs: a failed request's (with its error text), or the empty final response. */
function bareAnswer(request: ModelInferRequest, version: string, message: string): StreamAnswer {
  return {
    errorMessage: message,
    final: true,
    result: { model: request.modelName, version, id: request.id, parameters: NO_PARAMETERS, outputs: [], raw: [] },
  };
}

/**
 * The stream's write side with flow control: a write that fills grpc-js's buffer (write()
 * returns false) makes the next response of every request on the stream wait for 'drain'.
 * With the one-response hand-off of the data plane behind it, that bounds what the server
 * holds per request to one response in the buffer plus one the model has made.
 */
class StreamWriter {
  private drained: Promise<void> | undefined;

  constructor(
    private readonly call: Stream,
    private readonly signal: Cancellation,
  ) {}

  /** Resolves when the stream can take more; at once unless the last write filled the buffer. */
  write(answer: StreamAnswer): Promise<void> | undefined {
    if (this.call.write(answer)) return this.drained;
    this.drained ??= new Promise<void>((resolve) => {
      const done = (): void => {
        this.call.off('drain', done);
        this.signal.removeEventListener('abort', done);
        this.drained = undefined;
        resolve();
      };
      this.call.on('drain', done);
      this.signal.addEventListener('abort', done, { once: true });
    });
    return this.drained;
  }
}

/**
 * Each request's responses go out as made, flagged `triton_final_response` false, or true
 * for the one its model marks as the last (and for the one answer of a model that is not
 * decoupled). A model that ends without marking one sends nothing more unless the request set
 * `triton_enable_empty_final_response`: then an empty response flagged true ends it. A failed
 * request answers with error_message (flagged true) and the stream stays open. Each request in
 * flight counts as a call for shutdown; an idle open stream does not, and is ended
 * (UNAVAILABLE) once shutdown starts and its requests are answered. Cancelling the stream
 * cancels every request of it in its model.
 */
export function modelStreamInfer(context: ServiceContext): handleBidiStreamingCall<ModelInferRequest, StreamAnswer> {
  return (call: Stream) => {
    if (context.calls.shuttingDown) {
      endShuttingDown(call);
      return;
    }
    const signal = new CallCancellation(call);
    const writer = new StreamWriter(call, signal);
    let pending = 0;
    let halfClosed = false;
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      unsubscribe();
      if (signal.aborted) return;
      if (halfClosed) call.end();
      else endShuttingDown(call);
    };
    const endWhenIdle = (): void => {
      if (pending === 0 && (halfClosed || context.calls.shuttingDown)) end();
    };
    const unsubscribe = context.calls.onClosing(endWhenIdle);

    /** One request's responses, written as they come; settles when the request is done. */
    const serve = async (request: ModelInferRequest, arrivedNs: bigint, requestId: string): Promise<void> => {
      let code = Status.OK;
      let target = inferTarget(request);
      let responses = 0;
      try {
        const inferCall = toInferCall(request, arrivedNs, requestId);
        let finalSent = false;
        let version = request.modelVersion;
        for await (const { result, final } of context.dataPlane.inferStream(inferCall, signal)) {
          if (signal.aborted) break;
          version = result.version;
          target = { model: request.modelName, version };
          responses++;
          finalSent = final;
          await writer.write({ errorMessage: '', final, result });
        }
        if (signal.aborted) throw abortError(signal);
        if (!finalSent && inferCall.parameters[EMPTY_FINAL_PARAMETER] === true) {
          await writer.write(bareAnswer(request, version, ''));
        }
      } catch (err) {
        const failure = toServiceError(err, context.log, requestId);
        code = failure.code;
        if (!signal.aborted) await writer.write(bareAnswer(request, request.modelVersion, failure.details));
      }
      pending--;
      context.calls.leave();
      endWhenIdle();
      // A stream request answered after the stream was cancelled reached nobody.
      const status = signal.aborted && code === Status.OK ? Status.CANCELLED : code;
      context.requests?.finished({
        ...record('ModelStreamInfer', target, requestId, arrivedNs, status, requestWireSize(request), undefined),
        responses,
      });
    };

    call.on('data', (request: ModelInferRequest) => {
      if (ended) return;
      if (!context.calls.enter()) {
        call.write(bareAnswer(request, request.modelVersion, SHUTTING_DOWN.details));
        return;
      }
      pending++;
      void serve(request, process.hrtime.bigint(), requestIdOf(request.id));
    });
    call.on('end', () => {
      halfClosed = true;
      endWhenIdle();
    });
    // Cancelled or broken: nothing more can be written; requests in flight still leave the tracker.
    const abandon = (): void => {
      ended = true;
      unsubscribe();
    };
    call.on('error', (err) => {
      if (context.log.isLevelEnabled('debug')) context.log.debug({ err: errorMessage(err) }, 'stream error');
      abandon();
    });
    call.on('cancelled', abandon);
  };
}
