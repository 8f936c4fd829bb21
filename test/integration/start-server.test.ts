// The server as a library: startServer in the test's own process, stopped by stop().
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient } from '../../generated/grpc_service.js';
import { parseConfig, startServer } from '../../src/index.js';
import { createRootLogger } from '../../src/logging/index.js';
import { call, LOOPBACK_ANY_PORT } from '../helpers/server.js';
import { expectedSum, int32Output, simpleRequest, waitReady } from './streaming-fixtures.js';

describe('startServer', () => {
  test('startServer - serves the bundled repository on the port it reports; stop() ends it', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const config = parseConfig([...LOOPBACK_ANY_PORT, '--exit-timeout-secs=2']);
    const server = await startServer(config, createRootLogger({ verboseLevel: 0, format: 'default' }, sink));
    assert.ok(server.ports.grpc > 0);
    assert.ok((server.ports.metrics ?? 0) > 0, 'startServer returns the metrics port');
    const client = new GRPCInferenceServiceClient(`127.0.0.1:${server.ports.grpc}`, credentials.createInsecure());
    try {
      await waitReady({ client }, 'simple');
      const response = await call(client, client.modelInfer, simpleRequest('lib', 3));
      assert.deepEqual(int32Output(response, 'OUTPUT0'), expectedSum(3));
      await server.stop();
      await assert.rejects(call(client, client.serverLive, {}, { deadline: Date.now() + 2000 }), (err: ServiceError) => {
        assert.ok([status.UNAVAILABLE, status.DEADLINE_EXCEEDED].includes(err.code), `code ${err.code}`);
        return true;
      });
    } finally {
      client.close();
    }
    assert.ok(lines.some((line) => line.includes('"msg":"listening"')), 'the log went to the given logger');
  });
});
