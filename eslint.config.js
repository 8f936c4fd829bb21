// Lint: typescript-eslint's recommended rules and the folder boundaries of the style guide.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const zone = (target, from, message, except = []) => ({ target, from, message, except });

export default tseslint.config(
  { ignores: ['node_modules/**', 'generated/**', 'bench/results/**'] },
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
            zone('./src/tensor', './src', 'src/tensor is pure: it imports only src/errors.ts.', ['./tensor', './errors.ts']),
            zone('./src/tensor', './generated', 'src/tensor never sees protobuf types.'),
            zone('./src/model', './src/grpc', 'src/model knows nothing of gRPC.'),
            zone('./src/model', './src/monitoring', 'src/model emits events; it does not know monitoring.'),
            zone('./src/model', './src/cli', 'src/model gets its settings through constructors.'),
            // ModelConfig is the repository's file format (config.pbtxt), not a gRPC concern.
            zone('./src/model', './generated', 'src/model may use only the ModelConfig schema.', ['./model_config.ts', './descriptor_set.ts']),
            zone('./src/monitoring', './src', 'src/monitoring imports only src/events.ts (and tensor types).', [
              './monitoring',
              './events.ts',
              './tensor/types.ts',
            ]),
            zone('./src/monitoring', './generated', 'src/monitoring never sees protobuf types.'),
            zone('./src/onnx', './src', 'src/onnx imports only src/tensor and src/model through their index files, and src/errors.ts.', [
              './onnx',
              './tensor/index.ts',
              './model/index.ts',
              './errors.ts',
            ]),
            zone('./src/onnx', './generated', 'src/onnx may use only the ModelConfig schema.', ['./model_config.ts']),
            zone('./src/grpc', './src/monitoring', 'src/grpc does not know monitoring.'),
            zone('./src/grpc', './src/cli', 'src/grpc gets its settings through options.'),
            zone('./src/events.ts', './src', 'events.ts imports only tensor types.', ['./events.ts', './tensor/types.ts']),
            zone('./src/errors.ts', './src', 'errors.ts imports nothing of ours.', ['./errors.ts']),
          ],
        },
      ],
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
