// The model server of ONNX models: served as it is for a zero-code model, subclassed to
// put TypeScript hooks (preprocess, postprocess, explain, op<Name>) around the graph.
import { InferenceError } from '../errors.js';
import { ModelServer, type InferRequest, type ModelContext, type PredictOutputs } from '../model/index.js';
import type { Tensor } from '../tensor/index.js';
import { checkConfigAgainstModel } from './auto-complete.js';
import { findOnnxModelFile } from './model-file.js';
import { OnnxSession } from './session.js';
import { sessionOptionsFromConfig } from './session-options.js';
import type { OnnxSignature } from './signature.js';

/**
 * Serves the version's `.onnx` file with onnxruntime: load() opens one session (one per
 * instance), predict() feeds it `request.tensors` by name and returns its outputs.
 *
 * Subclass it to add hooks. A subclass whose inputs or outputs differ from the graph's (it
 * takes JSON and feeds floats, say) overrides checkModelSignature() and predict(), and calls
 * runModel() to reach the graph.
 */
export class OnnxModel extends ModelServer {
  private session: OnnxSession | undefined;

  /** The version directory, where modelFile() looks. */
  private readonly versionPath: string;

  constructor(context: ModelContext) {
    super(context);
    this.versionPath = context.versionPath;
  }

  /** The model file of this version: `default_model_filename`, else `model.onnx`, else the first `.onnx` file by name. */
  protected modelFile(): string {
    return findOnnxModelFile(this.versionPath, this.config.defaultModelFilename, this.version);
  }

  override async load(): Promise<void> {
    const session = await OnnxSession.open(this.modelFile(), sessionOptionsFromConfig(this.config));
    try {
      this.checkModelSignature(session.signature);
    } catch (err) {
      await session.release();
      throw err;
    }
    this.session = session;
  }

  /**
   * Rejects a model file that contradicts config.pbtxt (see checkConfigAgainstModel). A
   * subclass that translates between its declared tensors and the graph's checks what it
   * relies on instead.
   */
  protected checkModelSignature(signature: OnnxSignature): void {
    checkConfigAgainstModel(this.config, signature);
  }

  /** The graph's inputs and outputs; available once load() resolved. */
  get signature(): OnnxSignature {
    return this.openSession().signature;
  }

  /**
   * Runs the graph: `tensors` are its inputs by name, `outputs` the outputs wanted (all when
   * omitted). Returns them by name, as v2serve tensors.
   */
  async runModel(
    tensors: Readonly<Record<string, Tensor>>,
    outputs?: readonly string[],
    signal?: AbortSignal,
  ): Promise<Record<string, Tensor>> {
    return this.openSession().run(tensors, outputs, signal);
  }

  /**
   * The request's tensors, in their config reshape shape (the server reshapes them both ways),
   * feed the graph. It reads no signal: a run cannot be stopped once it started, and the
   * scheduler drops a request cancelled before. The default value keeps `predict.length` at 1,
   * so the server hands it no AbortSignal of its own: Node's cost microseconds each, and V8
   * keeps them past a scavenge (scavenges grew 5-10× on Iris). A subclass that declares the
   * parameter gets the request's signal.
   */
  async predict(request: InferRequest, _signal: AbortSignal | undefined = undefined): Promise<PredictOutputs> {
    return this.runModel(request.tensors, this.wantedOutputs(request));
  }

  /** The outputs the client asked for, else the declared ones, else (an undeclared config) all of the graph's. */
  private wantedOutputs(request: InferRequest): readonly string[] | undefined {
    if (request.outputs.length > 0) return request.outputs.map((output) => output.name);
    if (this.config.output.length > 0) return this.config.output.map((output) => output.name);
    return undefined;
  }

  override async unload(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.release();
  }

  private openSession(): OnnxSession {
    if (this.session === undefined) {
      throw new InferenceError('UNAVAILABLE', `model '${this.name}' has no open onnxruntime session (not loaded, or unloaded)`);
    }
    return this.session;
  }
}
