// Flag parsing: Triton's names and defaults, and a message naming the flag when a value is wrong.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_MODEL_REPOSITORY, parseConfig, UsageError } from '../../src/cli/config.js';

describe('parseConfig', () => {
  test('defaults are Triton\'s where it has one: port 8001 on 0.0.0.0, strict readiness, 30 s exit timeout', () => {
    const config = parseConfig([]);
    assert.equal(config.grpcPort, 8001);
    assert.equal(config.grpcAddress, '0.0.0.0');
    assert.equal(config.strictReadiness, true);
    assert.equal(config.exitTimeoutSecs, 30);
    assert.equal(config.modelControlMode, 'none');
    assert.equal(config.logVerbose, 0);
  });

  test('defaults of our own: server name v2serve, the bundled repository, 2 GiB − 1 messages, monitoring off', () => {
    const config = parseConfig([]);
    assert.equal(config.id, 'v2serve');
    assert.equal(config.modelRepository, DEFAULT_MODEL_REPOSITORY);
    assert.match(config.modelRepository, /models\/$/);
    assert.equal(config.grpcMaxMessageBytes, 2 ** 31 - 1);
    assert.equal(config.monitoring, undefined);
  });

  test('values are read in both --flag=value and --flag value forms', () => {
    const config = parseConfig(['--grpc-port', '9001', '--id=triton', '--strict-readiness=false', '--model-control-mode=EXPLICIT', '--load-model=a', '--load-model', 'b']);
    assert.equal(config.grpcPort, 9001);
    assert.equal(config.id, 'triton');
    assert.equal(config.strictReadiness, false);
    assert.equal(config.modelControlMode, 'explicit');
    assert.deepEqual(config.loadModels, ['a', 'b']);
  });

  test('--monitoring-deployment names the deployment of the endpoint records; absent, each server is its own', () => {
    assert.equal(parseConfig(['--monitoring-nats=nats://n:4222', '--monitoring-deployment=iris']).monitoring?.deployment, 'iris');
    assert.equal(parseConfig(['--monitoring-nats=nats://n:4222']).monitoring?.deployment, undefined);
  });

  test('config auto-complete is on unless --disable-auto-complete-config', () => {
    assert.equal(parseConfig([]).autoCompleteConfig, true);
    assert.equal(parseConfig(['--disable-auto-complete-config']).autoCompleteConfig, false);
  });

  test("--backend-config: Triton's default-max-batch-size 4, set per backend or for every backend, the backend's own winning", () => {
    assert.equal(parseConfig([]).backendSettings.onnxruntime['default-max-batch-size'], 4);
    assert.equal(parseConfig(['--backend-config=default-max-batch-size=16']).backendSettings.onnxruntime['default-max-batch-size'], 16);
    const both = ['--backend-config=onnxruntime,default-max-batch-size=8', '--backend-config=default-max-batch-size=16'];
    assert.equal(parseConfig(both).backendSettings.onnxruntime['default-max-batch-size'], 8);
    assert.equal(parseConfig([...both].reverse()).backendSettings.onnxruntime['default-max-batch-size'], 8);
  });

  test("--cache-config: Triton's local cache and its size in bytes; none without the flag", () => {
    assert.equal(parseConfig([]).responseCache, undefined);
    assert.deepEqual(parseConfig(['--cache-config=local,size=1048576']).responseCache, { sizeBytes: 1048576 });
    assert.deepEqual(parseConfig(['--cache-config', 'local,size=1']).responseCache, { sizeBytes: 1 });
  });

  for (const [args, message] of [
    [['--cache-config=redis,host=localhost'], /--cache-config 'redis,host=localhost': unknown cache 'redis' \(v2serve has only the 'local' cache\)/],
    [['--cache-config=local,size=0'], /--cache-config local,size must be an integer in 1\.\.9007199254740991, got '0'/],
    [['--cache-config=local,size=1MB'], /--cache-config local,size must be an integer/],
    [['--cache-config=local,size=-5'], /--cache-config local,size must be an integer/],
    [['--cache-config=local,constructor=5'], /--cache-config 'local,constructor=5': no such setting 'constructor' for the 'local' cache \(known: size\)/],
    [['--cache-config=size=100'], /--cache-config 'size=100' must be <cache>,<setting>=<value>/],
    [['--cache-config=local,size='], /--cache-config 'local,size=' must be/],
    [['--cache-config=local,=5'], /--cache-config 'local,=5' must be/],
    [['--cache-config=local'], /--cache-config 'local' must be/],
    [['--cache-config=local,size=10', '--cache-config=local,size=20'], /--cache-config 'local,size=20': local,size is given twice/],
    [['--grpc-port=70000'], /--grpc-port must be an integer in 0\.\.65535, got '70000'/],
    [['--strict-readiness=maybe'], /--strict-readiness must be true or false/],
    [['--log-format=xml'], /--log-format must be one of default, ISO8601/],
    [['--load-model=simple'], /--load-model needs --model-control-mode=explicit/],
    [['--model-control-mode=explicit', '--load-model=*', '--load-model=simple'], /must be the only --load-model/],
    [['--monitoring-sample=3'], /--monitoring-sample needs --monitoring-nats/],
    [['--monitoring-nats=nats://n:4222', '--monitoring-deployment='], /--monitoring-deployment must not be empty/],
    [['--unknown'], /unknown/i],
    [['--backend-config=tensorflow,default-max-batch-size=8'], /--backend-config 'tensorflow,default-max-batch-size=8': unknown backend 'tensorflow' \(known: onnxruntime\)/],
    [['--backend-config=onnxruntime,max-batch=8'], /--backend-config 'onnxruntime,max-batch=8': no such setting 'max-batch' for backend 'onnxruntime' \(known: onnxruntime,default-max-batch-size\)/],
    [['--backend-config=onnxruntime,toString=8'], /--backend-config 'onnxruntime,toString=8': no such setting 'toString'/],
    [['--backend-config=threads=8'], /--backend-config 'threads=8': no such setting 'threads'/],
    [['--backend-config=,default-max-batch-size=3'], /--backend-config ',default-max-batch-size=3' must be <backend>,<setting>=<value>/],
    [['--backend-config=default-max-batch-size='], /--backend-config 'default-max-batch-size=' must be/],
    [['--backend-config=onnxruntime,default-max-batch-size'], /--backend-config 'onnxruntime,default-max-batch-size' must be/],
    [['--backend-config=onnxruntime,default-max-batch-size=-1'], /--backend-config onnxruntime,default-max-batch-size must be an integer in 0\.\.2147483647, got '-1'/],
  ] as const) {
    test(`'${args.join(' ')}' is a usage error naming the flag`, () => {
      assert.throws(() => parseConfig(args), (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.match(err.message, message);
        return true;
      });
    });
  }
});
