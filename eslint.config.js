// Lint: typescript-eslint's recommended rules and the folder boundaries of the style guide.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const zone = (target, from, message, except = []) => ({ target, from, message, except });
/** Modules every core folder may import. */
const LEAVES = ['tensor', 'errors.ts', 'events.ts', 'dictionary.ts', 'package-root.ts', 'restrictions.ts', 'request-id.ts', 'listen.ts', 'call-tracker.ts', 'cancellation.ts', 'id-table.ts'];
/** src/<folder> may import from src/ only the folders and files listed. */
const layer = (folder, allowed, message) => [zone(`./src/${folder}`, './src', message, allowed.map((name) => `./${name}`))];

// A string-keyed record built from an object literal inherits Object.prototype: a key that
// came from outside ("__proto__", "constructor", "toString") would hit the prototype.
const DICTIONARY = 'A string-keyed record must have no prototype: use dictionary() from src/dictionary.ts, or a Map.';
const STRING_RECORD = "TSTypeReference[typeName.name='Record'] > TSTypeParameterInstantiation > TSStringKeyword:first-child";
const prototypeSafeRecords = [
  { selector: "CallExpression[callee.object.name='Object'][callee.property.name='fromEntries']", message: DICTIONARY },
  { selector: `VariableDeclarator[init.type='ObjectExpression'] > Identifier > TSTypeAnnotation ${STRING_RECORD}`, message: DICTIONARY },
  { selector: "VariableDeclarator[init.type='ObjectExpression'] > Identifier > TSTypeAnnotation TSIndexSignature", message: DICTIONARY },
  { selector: `PropertyDefinition[value.type='ObjectExpression'] > TSTypeAnnotation ${STRING_RECORD}`, message: DICTIONARY },
  { selector: "PropertyDefinition[value.type='ObjectExpression'] > TSTypeAnnotation TSIndexSignature", message: DICTIONARY },
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'generated/**', 'dist/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })] },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            ...layer('tensor', ['tensor', 'errors.ts', 'dictionary.ts'], 'src/tensor is pure: it imports only src/errors.ts and src/dictionary.ts.'),
            ...layer('model', ['model', ...LEAVES], 'src/model is the model-author contract: it knows no repository, scheduling, workers or transport.'),
            ...layer('scheduling', ['scheduling', 'model', ...LEAVES], 'src/scheduling runs jobs on instances: it knows no repository, pipeline or transport.'),
            ...layer('workers', ['workers', 'model', 'logging', 'model-imports', ...LEAVES], 'src/workers implements a model instance in threads: it knows no repository, scheduling or transport.'),
            ...layer('cache', ['cache', 'model', ...LEAVES], 'src/cache is the response cache: keys, the LRU store and the answers it keeps; it knows no pipeline, repository or transport.'),
            zone('./src/cache', './generated', 'src/cache never sees protobuf types.'),
            ...layer('pipeline', ['pipeline', 'cache', 'scheduling', 'model', ...LEAVES], 'src/pipeline is a version\'s request path: it knows no repository, workers or transport.'),
            ...layer('ensemble', ['ensemble', 'model', ...LEAVES], 'src/ensemble is the step graph and its runner: it calls models through the model contract and knows no repository, scheduling or transport.'),
            ...layer('repository', ['repository', 'ensemble', 'pipeline', 'cache', 'scheduling', 'workers', 'model', ...LEAVES], 'src/repository knows no transport or side path.'),
            ...layer('onnx', ['onnx', 'model', ...LEAVES], 'src/onnx is a model backend: it builds on the model-author contract and knows no repository, scheduling or transport.'),
            // Loaded before the server in each thread (bin/v2serve.js, src/workers/worker-entry.js), and
            // resolve-hook.ts inside Node's module-hooks thread: it knows nothing of the server.
            ...layer('model-imports', ['model-imports', 'package-root.ts'], 'src/model-imports redirects model imports of v2serve: it imports only src/package-root.ts.'),
            ...layer('logging', ['logging', 'errors.ts', 'events.ts', 'dictionary.ts'], 'src/logging is pino, the live log settings and the request log; it knows no transport.'),
            // Metrics are a side path fed through events.ts's contracts: the wiring (src/server.ts) hands them in.
            ...layer('metrics', ['metrics', 'events.ts', 'errors.ts', 'dictionary.ts', 'listen.ts'], 'src/metrics is fed through the contracts of src/events.ts: it knows no repository, pipeline, transport or monitoring.'),
            zone('./src/metrics', './generated', 'src/metrics never sees protobuf types.'),
            ...['grpc', 'http'].map((folder) => zone(`./src/${folder}`, './src/metrics', `src/${folder} hands finished requests to a RequestSink; it does not know metrics.`)),
            zone('./src/tensor', './generated', 'src/tensor never sees protobuf types.'),
            // ModelConfig is the repository's file format (config.pbtxt), not a gRPC concern.
            ...['model', 'scheduling', 'workers', 'pipeline', 'ensemble'].map((folder) =>
              zone(`./src/${folder}`, './generated', `src/${folder} may use only the ModelConfig schema.`, ['./model_config.ts']),
            ),
            zone('./src/repository', './generated', 'src/repository may use only the ModelConfig schema and its descriptors.', [
              './model_config.ts',
              './descriptor_set.ts',
            ]),
            zone('./src/monitoring', './src', 'src/monitoring imports only src/events.ts (and tensor types).', [
              './monitoring',
              './events.ts',
              './dictionary.ts',
              './id-table.ts',
              './tensor/types.ts',
            ]),
            zone('./src/monitoring', './generated', 'src/monitoring never sees protobuf types.'),
            zone('./src/logging', './generated', 'src/logging never sees protobuf types.'),
            zone('./src/onnx', './generated', 'src/onnx may use only the ModelConfig schema.', ['./model_config.ts']),
            ...layer(
              'data-plane',
              ['data-plane', 'repository', 'shared-memory', 'pipeline', 'cache', 'model', ...LEAVES],
              'src/data-plane is the transport-neutral way into inference: it knows no transport, side path or CLI.',
            ),
            zone('./src/data-plane', './generated', 'src/data-plane never sees protobuf types.'),
            ...layer(
              'http',
              ['http', 'data-plane', 'model', 'pipeline', 'repository', 'shared-memory', 'logging', ...LEAVES],
              'src/http translates HTTP/JSON to the core: it knows no scheduling, workers, monitoring, CLI or gRPC.',
            ),
            zone('./src/http', './generated', 'src/http never sees protobuf types: JSON is its wire format.'),
            zone('./src/grpc', './src/monitoring', 'src/grpc does not know monitoring.'),
            zone('./src/grpc', './src/http', 'src/grpc does not know the HTTP transport: what both use lives outside them.'),
            zone('./src/grpc', './src/cli', 'src/grpc gets its settings through options.'),
            zone('./src/grpc', './src/scheduling', 'src/grpc translates; scheduling is the core\'s business.'),
            zone('./src/grpc', './src/workers', 'src/grpc translates; instances are the core\'s business.'),
            zone('./src/events.ts', './src', 'events.ts imports only tensor types.', ['./events.ts', './tensor/types.ts']),
            zone('./src/errors.ts', './src', 'errors.ts imports nothing of ours.', ['./errors.ts']),
            zone('./src/dictionary.ts', './src', 'dictionary.ts imports nothing of ours.', ['./dictionary.ts']),
            zone('./src/package-root.ts', './src', 'package-root.ts imports nothing of ours.', ['./package-root.ts']),
            zone('./src/restrictions.ts', './src', 'restrictions.ts imports nothing of ours.', ['./restrictions.ts']),
            zone('./src/request-id.ts', './src', 'request-id.ts imports nothing of ours.', ['./request-id.ts']),
            zone('./src/listen.ts', './src', 'listen.ts imports nothing of ours.', ['./listen.ts']),
            zone('./src/call-tracker.ts', './src', 'call-tracker.ts imports nothing of ours.', ['./call-tracker.ts']),
            zone('./src/cancellation.ts', './src', 'cancellation.ts imports nothing of ours.', ['./cancellation.ts']),
            zone('./src/id-table.ts', './src', 'id-table.ts imports nothing of ours.', ['./id-table.ts']),
          ],
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', ...prototypeSafeRecords],
      // Skips type-only imports (no option counts them): test/import-cycles.test.ts counts those.
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['src/tensor/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['node:fs*', 'node:net', 'node:http*', 'pino', '@grpc/*', 'nats'], message: 'src/tensor does no I/O.' }] },
      ],
    },
  },
);
