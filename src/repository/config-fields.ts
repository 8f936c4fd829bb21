// What v2serve does with every field of a Triton ModelConfig, nested ones included, keyed by
// the field's path in proto names (`optimization.cuda.graphs`; repeated and map fields have
// no index or key). The loader walks a model's config against it, so no field a user sets is
// ignored silently; docs/model-config.md renders the same table, and a test keeps both equal
// to proto/model_config.proto.
import { ModelInstanceGroup_Kind } from '../../generated/model_config.js';

/** A model's runtime, as the table tells them apart: a backend's name, `nodejs` for a model module, or `ensemble`. */
export type ConfigRuntime = string;

export type ConfigFieldTreatment =
  | {
      readonly treatment: 'honored';
      readonly how: string;
      /** Honored for these runtimes only; for the others the field is accepted and ignored for `otherwise`. */
      readonly only?: { readonly runtimes: readonly ConfigRuntime[]; readonly otherwise: string };
    }
  | { readonly treatment: 'ignored'; readonly why: string }
  | { readonly treatment: 'refused'; readonly why: string };

const MODEL_RUNTIMES = ['nodejs', 'onnxruntime'] as const;
const ONNX_RUNTIME = ['onnxruntime'] as const;
const GPU_ONLY = 'GPU-only; v2serve runs models on CPUs';

function honored(how: string): ConfigFieldTreatment {
  return { treatment: 'honored', how };
}

function honoredOnly(runtimes: readonly ConfigRuntime[], how: string, otherwise: string): ConfigFieldTreatment {
  return { treatment: 'honored', how, only: { runtimes, otherwise } };
}

function ignored(why: string): ConfigFieldTreatment {
  return { treatment: 'ignored', why };
}

function refused(why: string): ConfigFieldTreatment {
  return { treatment: 'refused', why };
}

/**
 * A message field and the fields beneath it, all treated alike: the loader stops at the
 * first one it ignores or refuses, so the ones beneath only say where they belong.
 */
function subtree(path: string, treatment: ConfigFieldTreatment, beneath: readonly string[]): [string, ConfigFieldTreatment][] {
  return [[path, treatment], ...beneath.map((field): [string, ConfigFieldTreatment] => [`${path}.${field}`, treatment])];
}

const GROUP = 'nothing by itself; see its fields';
const NO_SEQUENCE_BATCHER =
  'v2serve has no sequence batcher: the requests of a sequence run one at a time in arrival order, never batched, whatever the strategy';

/**
 * Values of honored fields that v2serve accepts and ignores, by path and value (an enum's
 * number): the loader logs them with the ignored fields, the field being honored otherwise.
 */
export const IGNORED_VALUES: ReadonlyMap<string, ReadonlyMap<unknown, string>> = new Map([
  ['instance_group.kind', new Map([[ModelInstanceGroup_Kind.KIND_GPU, `KIND_GPU: ${GPU_ONLY}; the group runs \`count\` worker threads, as KIND_CPU`]])],
]);

export const CONFIG_FIELDS: ReadonlyMap<string, ConfigFieldTreatment> = new Map<string, ConfigFieldTreatment>([
  ['name', honored("must be the model directory's name, the load fails otherwise; filled in when left out")],
  ['platform', honored('selects the backend (`ensemble`, `onnxruntime_onnx`); reported in the model metadata')],
  ['backend', honored('selects the backend (`onnxruntime`; `nodejs` or none: a model module); reported in the model metadata')],
  ['version_policy', honored('which version directories load (src/repository/layout.ts); the latest one when left out')],
  ['version_policy.latest', honored('the `num_versions` highest versions')],
  ['version_policy.latest.num_versions', honored('how many of the highest versions load')],
  ['version_policy.all', honored('every version directory loads')],
  ['version_policy.specific', honored('the listed versions load')],
  ['version_policy.specific.versions', honored('the versions to load')],
  ['max_batch_size', honored("requests' first dimension is their rows, at most this many; the dynamic batcher's limit; 0: no batch dimension")],

  ['input', honored('requests are checked against the declared inputs before the model runs (src/tensor)')],
  ['input.name', honored('the tensor a request must send')],
  ['input.data_type', honored("the request tensor's datatype must match")],
  ['input.dims', honored("the request tensor's shape must match (-1: any size)")],
  ['input.format', ignored('informational: reported in the model configuration for clients; tensors are not converted')],
  ['input.reshape', honored('the client sends the tensor in `dims`, the model gets it in `shape`, batch dimension kept (src/tensor/reshape.ts)')],
  ['input.reshape.shape', honored("the model's shape of the input; -1 takes the size of the client's matching -1, in order")],
  ['input.is_shape_tensor', refused('shape tensors are not implemented')],
  ['input.allow_ragged_batch', refused('ragged batching is not implemented: the dynamic batcher only merges requests whose rows have one shape')],
  [
    'input.optional',
    honored('a request may leave the input out and the model then has no tensor of that name (src/tensor/decode.ts); an ensemble step need not map it; the onnxruntime backend refuses it at load, its graphs need every input'),
  ],
  ['input.is_non_linear_format_io', ignored(`non-linear I/O formats are TensorRT's; ${GPU_ONLY}`)],

  ['output', honored("the declared outputs: what a request may ask for; the model's answers are checked against them")],
  ['output.name', honored('the tensor a request may ask for')],
  ['output.data_type', honored("the answer's datatype: a model module's values are converted to it exactly (src/tensor/outputs.ts)")],
  ['output.dims', honored("the answer's shape when the model gives none; the onnxruntime backend checks them against the graph at load")],
  ['output.label_filename', honored('classification labels: the lines of the file beside config.pbtxt (src/pipeline/classification.ts)')],
  ['output.reshape', honored('the model makes the tensor in `shape`, the client gets it in `dims`, batch dimension kept (src/tensor/reshape.ts)')],
  ['output.reshape.shape', honored("the model's shape of the output, checked as `dims` are without a reshape")],
  ['output.is_shape_tensor', refused('shape tensors are not implemented')],
  ['output.is_non_linear_format_io', ignored(`non-linear I/O formats are TensorRT's; ${GPU_ONLY}`)],

  [
    'instance_group',
    honoredOnly(
      MODEL_RUNTIMES,
      'how many instances run and where (src/repository/model-config.ts); one on the main thread when left out, one worker thread for onnxruntime',
      "an ensemble runs on its steps' instances",
    ),
  ],
  ['instance_group.name', honored('reported in the model configuration; `<model>_<index>` when left out')],
  ['instance_group.count', honored('instances in the group (1 when left out); KIND_MODEL takes exactly 1')],
  ['instance_group.gpus', ignored(GPU_ONLY)],
  [
    'instance_group.kind',
    honored('KIND_MODEL: one instance on the main thread; KIND_CPU and KIND_AUTO: `count` worker threads; KIND_GPU: as KIND_CPU, logged at load as ignored'),
  ],
  ['instance_group.profile', ignored(`TensorRT optimization profiles; ${GPU_ONLY}`)],
  ...subtree(
    'instance_group.rate_limiter',
    ignored('v2serve has no rate limiter (Triton applies one only when started with --rate-limit): an instance runs whenever it is free'),
    ['resources', 'resources.name', 'resources.global', 'resources.count', 'priority'],
  ),
  ['instance_group.passive', refused('passive instances are not implemented: every instance would be sent requests')],
  ...subtree('instance_group.secondary_devices', ignored(`NVDLA devices; ${GPU_ONLY}`), ['kind', 'device_id']),
  ['instance_group.host_policy', ignored('host policies (NUMA placement) are not applied: worker threads run where the OS puts them')],

  [
    'default_model_filename',
    honoredOnly(
      MODEL_RUNTIMES,
      "the version's model file: the graph the onnxruntime backend opens, the file a model module's getModel() finds",
      'an ensemble has no model file',
    ),
  ],
  ['cc_model_filenames', ignored(`model files by GPU compute capability; ${GPU_ONLY}`)],
  ['metric_tags', honored("extra labels on the model's metric series and monitoring events")],

  ['dynamic_batching', honored('requests are merged into batches when max_batch_size > 0 (src/scheduling/dynamic-batcher.ts)')],
  ['dynamic_batching.preferred_batch_size', honored('a batch goes once it has this many rows (each 1..max_batch_size); max_batch_size when left out')],
  ['dynamic_batching.max_queue_delay_microseconds', honored('a batch goes once its oldest request has waited this long')],
  ['dynamic_batching.preserve_ordering', refused('responses go out as their batches finish, not in arrival order')],
  [
    'dynamic_batching.priority_levels',
    honored('one queue per level, level 1 batched first, arrival order within a level; the request parameter `priority` picks the level (src/scheduling/queue-policy.ts)'),
  ],
  ['dynamic_batching.default_priority_level', honored('the level of a request whose priority is 0, absent or above priority_levels; must be in [1, priority_levels]')],
  ['dynamic_batching.default_queue_policy', honored('the policy of the one queue, or of every level priority_queue_policy leaves out')],
  ['dynamic_batching.default_queue_policy.timeout_action', honored('past its queue timeout a request fails UNAVAILABLE "Request timeout expired" (REJECT) or waits behind its level\'s requests in time (DELAY)')],
  ['dynamic_batching.default_queue_policy.default_timeout_microseconds', honored('how long a request may wait in the queue; 0: for ever')],
  ['dynamic_batching.default_queue_policy.allow_timeout_override', honored('a request\'s `timeout` parameter may shorten the queue timeout, never lengthen it')],
  [
    'dynamic_batching.default_queue_policy.max_queue_size',
    honored(
      'requests a version (with priority_levels: each level without a policy of its own) holds beyond those executing, past it RESOURCE_EXHAUSTED; 0: --model-max-queue-size (src/scheduling/settings.ts)',
    ),
  ],
  ['dynamic_batching.priority_queue_policy', honored('the policy of each listed level (keys in [1, priority_levels])')],
  ['dynamic_batching.priority_queue_policy.timeout_action', honored('as default_queue_policy.timeout_action, for the level')],
  ['dynamic_batching.priority_queue_policy.default_timeout_microseconds', honored("the level's queue timeout; 0: for ever")],
  ['dynamic_batching.priority_queue_policy.allow_timeout_override', honored("a request's `timeout` parameter may shorten the level's queue timeout")],
  ['dynamic_batching.priority_queue_policy.max_queue_size', honored('requests the level holds beyond those executing, past it RESOURCE_EXHAUSTED; 0: --model-max-queue-size')],

  ['sequence_batching', honored('requests must name a sequence_id; the requests of a sequence run one at a time in arrival order (src/scheduling/sequence-order.ts)')],
  ['sequence_batching.max_sequence_idle_microseconds', honored('SequenceStates forgets a sequence idle this long; 1 s when left out')],
  ...subtree(
    'sequence_batching.control_input',
    ignored('control tensors are not fed: a model reads sequence_id, sequence_start and sequence_end from the request parameters'),
    ['name', 'control', 'control.kind', 'control.int32_false_true', 'control.fp32_false_true', 'control.data_type', 'control.bool_false_true'],
  ),
  ...subtree('sequence_batching.direct', ignored(NO_SEQUENCE_BATCHER), ['max_queue_delay_microseconds', 'minimum_slot_utilization']),
  ...subtree('sequence_batching.oldest', ignored(NO_SEQUENCE_BATCHER), [
    'max_candidate_sequences',
    'preferred_batch_size',
    'max_queue_delay_microseconds',
    'preserve_ordering',
  ]),
  ...subtree(
    'sequence_batching.state',
    refused('implicit state is not implemented: a model keeps its own state per sequence_id (SequenceStates)'),
    [
      'input_name',
      'output_name',
      'data_type',
      'dims',
      'initial_state',
      'initial_state.data_type',
      'initial_state.dims',
      'initial_state.zero_data',
      'initial_state.data_file',
      'initial_state.name',
      'use_same_buffer_for_input_output',
      'use_growable_memory',
    ],
  ),
  ['sequence_batching.iterative_sequence', refused('iterative sequences are not implemented')],

  ['ensemble_scheduling', honored('the steps run as their inputs become available (src/ensemble)')],
  ['ensemble_scheduling.step', honored('the steps, checked at load: each input produced, no cycle')],
  ['ensemble_scheduling.step.model_name', honored('the model the step runs, loaded with the ensemble in explicit mode')],
  ['ensemble_scheduling.step.model_version', honored("the step model's version; -1 or unset: its highest ready one")],
  ['ensemble_scheduling.step.input_map', honored('step input name → ensemble tensor')],
  ['ensemble_scheduling.step.output_map', honored('step output name → ensemble tensor')],
  ['ensemble_scheduling.step.model_namespace', refused('model namespaces are not implemented: a model name is the same everywhere')],
  [
    'ensemble_scheduling.max_inflight_requests',
    ignored("no limit per ensemble on requests in flight; the step models' own queue bounds apply"),
  ],

  ['optimization', honored(GROUP)],
  ['optimization.graph', honoredOnly(ONNX_RUNTIME, GROUP, "graph optimization levels are onnxruntime's")],
  [
    'optimization.graph.level',
    honored("onnxruntime's graph optimization level: -1 basic, 1 extended, 2 disabled, otherwise all (src/onnx/session-options.ts)"),
  ],
  ['optimization.priority', ignored(`GPU stream priority; ${GPU_ONLY}`)],
  ...subtree('optimization.cuda', ignored(`CUDA settings; ${GPU_ONLY}`), [
    'graphs',
    'busy_wait_events',
    'graph_spec',
    'graph_spec.batch_size',
    'graph_spec.input',
    'graph_spec.input.dim',
    'graph_spec.graph_lower_bound',
    'graph_spec.graph_lower_bound.batch_size',
    'graph_spec.graph_lower_bound.input',
    'graph_spec.graph_lower_bound.input.dim',
    'output_copy_stream',
  ]),
  ['optimization.execution_accelerators', honoredOnly(ONNX_RUNTIME, GROUP, "execution providers are onnxruntime's")],
  [
    'optimization.execution_accelerators.gpu_execution_accelerator',
    honored('`cuda` or `tensorrt` puts that onnxruntime provider before the CPU one (needs its libraries); another name is refused at load'),
  ],
  ['optimization.execution_accelerators.gpu_execution_accelerator.name', honored('the provider: `cuda` or `tensorrt`')],
  [
    'optimization.execution_accelerators.gpu_execution_accelerator.parameters',
    ignored(`onnxruntime-node is given the provider by name only, without settings; ${GPU_ONLY}`),
  ],
  ...subtree(
    'optimization.execution_accelerators.cpu_execution_accelerator',
    refused('onnxruntime-node has no CPU accelerator besides its default one'),
    ['name', 'parameters'],
  ),
  ...subtree('optimization.input_pinned_memory', ignored(`pinned host memory for copies to a GPU; ${GPU_ONLY}`), ['enable']),
  ...subtree('optimization.output_pinned_memory', ignored(`pinned host memory for copies from a GPU; ${GPU_ONLY}`), ['enable']),
  ['optimization.gather_kernel_buffer_threshold', ignored(`a threshold for gathering inputs with a GPU kernel; ${GPU_ONLY}`)],
  ['optimization.eager_batching', ignored('a throughput hint for preparing the next batch early: the dynamic batcher forms a batch when an instance is free')],

  [
    'parameters',
    honored("strings the model reads (its context's parameters); the server reads execution_timeout_ms and load_wait_ms, the onnxruntime backend its session settings"),
  ],
  ['parameters.string_value', honored("the parameter's value")],

  [
    'model_warmup',
    honored('each instance runs the samples after its load, before the version is READY; a failing sample fails the load naming it; the runs count in no statistics, metrics or monitoring (src/repository/warmup.ts)'),
  ],
  ['model_warmup.name', honored('names the sample in the log and in a failed load\'s reason')],
  ['model_warmup.batch_size', honored('rows of the sample (each the same data); 1 for a model without batching, at most max_batch_size; 0 skips the sample')],
  ['model_warmup.inputs', honored('the tensors of the sample by input name, checked and reshaped as a request\'s')],
  ['model_warmup.inputs.data_type', honored("the tensor's datatype; must be the input's")],
  ['model_warmup.inputs.dims', honored("the tensor's shape without the batch dimension; every size given (no -1)")],
  ['model_warmup.inputs.zero_data', honored('zeros (TYPE_STRING: empty strings)')],
  ['model_warmup.inputs.random_data', honored('random bytes (TYPE_STRING: empty strings, as Triton; TYPE_BOOL: 0 or 1)')],
  ['model_warmup.inputs.input_data_file', honored("a row's raw bytes from this file in the model directory's `warmup/` folder (TYPE_STRING: 4-byte length-prefixed elements)")],
  ['model_warmup.count', honored('runs of the sample, one after the other; 0 runs it once')],
  ...subtree('model_operations', refused('custom operation libraries are not loaded'), ['op_library_filename']),
  ['model_transaction_policy', honored(GROUP)],
  ['model_transaction_policy.decoupled', honored('the model answers a request zero, one or many times (predict an async generator), over ModelStreamInfer; one-answer calls are refused UNIMPLEMENTED, and a decoupled model cannot have dynamic_batching or sequence_batching (docs/writing-models.md)')],
  ...subtree('batch_input', refused('batch inputs are not implemented'), ['kind', 'target_name', 'data_type', 'source_input']),
  ...subtree('batch_output', refused('batch outputs are not implemented'), ['target_name', 'kind', 'source_input']),
  ...subtree('model_repository_agents', refused('repository agents are not run'), ['agents', 'agents.name', 'agents.parameters']),
  ['response_cache', honored(GROUP)],
  [
    'response_cache.enable',
    honored(
      "a repeated request is answered from the server's response cache without running the model (src/cache; `--cache-config local,size=BYTES`, without it the load logs that there is no cache); refused with `sequence_batching` or a decoupled model",
    ),
  ],
  ['runtime', ignored("names the library a Triton backend loads; v2serve finds a model's module or backend itself")],
  ...subtree('model_metrics', ignored("per-model metric settings are not applied: every model's histograms have the server's buckets"), [
    'metric_control',
    'metric_control.metric_identifier',
    'metric_control.metric_identifier.family',
    'metric_control.histogram_options',
    'metric_control.histogram_options.buckets',
  ]),
]);
