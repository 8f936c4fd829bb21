// ModelStreamInfer: requests in, answers out in order of completion, over one bidi stream
// that stays open through failed requests and ends in step with shutdown.
import { status as Status, type handleBidiStreamingCall, type ServerDuplexStream } from '@grpc/grpc-js';
import type { ModelInferRequest } from '../../generated/grpc_service.js';
import { dictionary } from '../dictionary.js';
import { errorMessage } from '../errors.js';
import { requestIdOf } from '../request-id.js';
import { callSignal } from './call-signal.js';
import { requestWireSize } from './infer-request-codec.js';
import type { StreamAnswer } from './infer-response-codec.js';
import { inferTarget, record } from './request-record.js';
import { inferOne, type ServiceContext } from './service-context.js';
import { SHUTTING_DOWN, toServiceError } from './status.js';

/** Ends a stream with UNAVAILABLE: grpc-js sends the status of an emitted error carrying a code. */
function endShuttingDown(call: ServerDuplexStream<ModelInferRequest, StreamAnswer>): void {
  call.emit('error', Object.assign(new Error(SHUTTING_DOWN.details), SHUTTING_DOWN));
}

/** Shared by every failed request's answer: the encoder only reads it. */
const NO_PARAMETERS = Object.freeze(dictionary<never>());

/** The answer of a failed stream request: its id, model and version, and the error text. */
function streamError(request: ModelInferRequest, message: string): StreamAnswer {
  return {
    errorMessage: message,
    result: { model: request.modelName, version: request.modelVersion, id: request.id, parameters: NO_PARAMETERS, outputs: [], raw: [] },
  };
}

/**
 * Responses go out in order of completion; a failed request answers with error_message and
 * the stream stays open. Each request in flight counts as a call for shutdown; an idle open
 * stream does not, and is ended (UNAVAILABLE) once shutdown starts and its requests are answered.
 */
export function modelStreamInfer(context: ServiceContext): handleBidiStreamingCall<ModelInferRequest, StreamAnswer> {
  return (call: ServerDuplexStream<ModelInferRequest, StreamAnswer>) => {
    if (context.calls.shuttingDown) {
      endShuttingDown(call);
      return;
    }
    const signal = callSignal(call);
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

    call.on('data', (request: ModelInferRequest) => {
      if (ended) return;
      if (!context.calls.enter()) {
        call.write(streamError(request, SHUTTING_DOWN.details));
        return;
      }
      pending++;
      const arrivedNs = process.hrtime.bigint();
      const requestId = requestIdOf(request.id);
      let code = Status.OK;
      let target = inferTarget(request);
      inferOne(context, request, arrivedNs, requestId, signal)
        .then(
          (result): StreamAnswer => {
            target = { model: request.modelName, version: result.version };
            return { errorMessage: '', result };
          },
          (err: unknown) => {
            const failure = toServiceError(err, context.log, requestId);
            code = failure.code;
            return streamError(request, failure.details);
          },
        )
        .then((response) => {
          if (!signal.aborted) call.write(response);
          pending--;
          context.calls.leave();
          endWhenIdle();
          // A stream request answered after the stream was cancelled reached nobody.
          const status = signal.aborted && code === Status.OK ? Status.CANCELLED : code;
          context.requests?.finished(record('ModelStreamInfer', target, requestId, arrivedNs, status, requestWireSize(request), undefined));
        });
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
