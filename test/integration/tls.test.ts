// TLS and mutual TLS on the gRPC port, certificate rotation, and start-up errors for bad files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentials, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient } from '../../generated/grpc_service.js';
import { certDir, type CertDir, type KeyPair } from '../helpers/certs.js';
import { call, PROJECT_ROOT, startCli } from '../helpers/server.js';

const CLI = join(PROJECT_ROOT, 'bin', 'v2serve.js');

function client(address: string, creds: ChannelCredentials): GRPCInferenceServiceClient {
  return new GRPCInferenceServiceClient(address, creds);
}

function live(c: GRPCInferenceServiceClient): Promise<boolean> {
  return call(c, c.serverLive, {}, { deadline: Date.now() + 5000 }).then((r) => r.live);
}

async function refused(c: GRPCInferenceServiceClient): Promise<void> {
  await assert.rejects(live(c), (err: ServiceError) => {
    assert.equal(err.code, status.UNAVAILABLE, err.message);
    return true;
  });
}

function trusting(certs: CertDir, ca: KeyPair, identity?: KeyPair): ChannelCredentials {
  return identity
    ? credentials.createSsl(certs.read(ca.cert), certs.read(identity.key), certs.read(identity.cert))
    : credentials.createSsl(certs.read(ca.cert));
}

describe('tls', () => {
  let certs: CertDir;
  let ca: KeyPair;
  let otherCa: KeyPair;
  let server: KeyPair;
  before(() => {
    certs = certDir();
    ca = certs.ca('test-ca');
    otherCa = certs.ca('other-ca');
    server = certs.leaf('server', ca, 'server');
  });
  after(() => certs.remove());

  test('tls - a client trusting the CA is answered; a plaintext client and one trusting another CA are refused', async () => {
    const cli = await startCli(['--grpc-use-ssl=true', `--grpc-server-cert=${server.cert}`, `--grpc-server-key=${server.key}`]);
    const clients = [
      client(cli.address, trusting(certs, ca)),
      client(cli.address, credentials.createInsecure()),
      client(cli.address, trusting(certs, otherCa)),
    ];
    try {
      assert.equal((await cli.waitForLog((l) => l['msg'] === 'listening'))['tls'], 'server');
      assert.equal(await live(clients[0]!), true);
      await refused(clients[1]!);
      await refused(clients[2]!);
    } finally {
      for (const c of clients) c.close();
      await cli.stop();
    }
  });

  test('tls - mutual: no client certificate or one from another CA is refused, a good one works', async () => {
    const good = certs.leaf('client-good', ca, 'client');
    const stranger = certs.leaf('client-stranger', otherCa, 'client');
    const cli = await startCli([
      '--grpc-use-ssl-mutual=true',
      `--grpc-server-cert=${server.cert}`,
      `--grpc-server-key=${server.key}`,
      `--grpc-root-cert=${ca.cert}`,
    ]);
    const clients = [
      client(cli.address, trusting(certs, ca, good)),
      client(cli.address, trusting(certs, ca)),
      client(cli.address, trusting(certs, ca, stranger)),
    ];
    try {
      assert.equal(await live(clients[0]!), true);
      await refused(clients[1]!);
      await refused(clients[2]!);
      // The good client's connection was not disturbed by the refused ones.
      assert.equal(await live(clients[0]!), true);
    } finally {
      for (const c of clients) c.close();
      await cli.stop();
    }
  });

  test('tls - rotated files: new connections get the new certificate, an open connection keeps working', async () => {
    const rotated = certDir();
    const live1 = { cert: join(rotated.dir, 'tls.crt'), key: join(rotated.dir, 'tls.key') };
    copyFileSync(server.cert, live1.cert);
    copyFileSync(server.key, live1.key);
    const cli = await startCli(['--grpc-use-ssl=true', `--grpc-server-cert=${live1.cert}`, `--grpc-server-key=${live1.key}`]);
    const before = client(cli.address, trusting(certs, ca));
    const clients = [before];
    try {
      assert.equal(await live(before), true);
      // The new certificate comes from another CA, so only a connection made after the
      // rotation can succeed with a client trusting that CA, and `before` would fail
      // if it had to reconnect. Written as cert-manager does: new files renamed into place.
      const next = certs.leaf('server-next', otherCa, 'server');
      writeFileSync(`${live1.cert}.tmp`, certs.read(next.cert));
      writeFileSync(`${live1.key}.tmp`, certs.read(next.key));
      renameSync(`${live1.key}.tmp`, live1.key);
      renameSync(`${live1.cert}.tmp`, live1.cert);
      await cli.waitForLog((l) => String(l['msg']).startsWith('TLS certificate reloaded'), 10_000);

      const afterNew = client(cli.address, trusting(certs, otherCa));
      const afterOld = client(cli.address, trusting(certs, ca));
      clients.push(afterNew, afterOld);
      assert.equal(await live(afterNew), true);
      await refused(afterOld);
      assert.equal(await live(before), true, 'the connection opened before the rotation still works');
    } finally {
      for (const c of clients) c.close();
      await cli.stop();
      rotated.remove();
    }
  });

  test('tls - a half-written rotation (certificate without its key) keeps the old certificate', async () => {
    const rotated = certDir();
    const files = { cert: join(rotated.dir, 'tls.crt'), key: join(rotated.dir, 'tls.key') };
    copyFileSync(server.cert, files.cert);
    copyFileSync(server.key, files.key);
    const cli = await startCli(['--grpc-use-ssl=true', `--grpc-server-cert=${files.cert}`, `--grpc-server-key=${files.key}`]);
    const clients: GRPCInferenceServiceClient[] = [];
    try {
      const next = certs.leaf('server-half', otherCa, 'server');
      copyFileSync(next.cert, files.cert);
      await cli.waitForLog((l) => l['msg'] === 'TLS files changed but cannot be used yet; keeping the current certificate', 10_000);
      const fresh = client(cli.address, trusting(certs, ca));
      clients.push(fresh);
      assert.equal(await live(fresh), true);
    } finally {
      for (const c of clients) c.close();
      await cli.stop();
      rotated.remove();
    }
  });

  describe('start-up', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [CLI, '--grpc-port=0', ...args], { encoding: 'utf8', timeout: 20_000 });

    test('tls - a missing certificate file stops start-up with exit 2 naming the flag and the path', () => {
      const result = run(['--grpc-use-ssl=true', '--grpc-server-cert=/nonexistent/cert.pem', `--grpc-server-key=${server.key}`]);
      assert.equal(result.status, 2);
      assert.match(result.stderr, /--grpc-server-cert: cannot read '\/nonexistent\/cert\.pem' \(ENOENT\)/);
    });

    test('tls - a key that is not PEM stops start-up with exit 2 naming the flag and the path', () => {
      const bad = join(certs.dir, 'not-a-key.pem');
      writeFileSync(bad, 'hello\n');
      const result = run(['--grpc-use-ssl=true', `--grpc-server-cert=${server.cert}`, `--grpc-server-key=${bad}`]);
      assert.equal(result.status, 2);
      assert.match(result.stderr, /--grpc-server-key: .*not-a-key\.pem/);
    });

    test('tls - mutual TLS without --grpc-root-cert, or certificate flags without TLS, exit 2', () => {
      const mutual = run(['--grpc-use-ssl-mutual=true', `--grpc-server-cert=${server.cert}`, `--grpc-server-key=${server.key}`]);
      assert.equal(mutual.status, 2);
      assert.match(mutual.stderr, /--grpc-use-ssl-mutual needs --grpc-root-cert/);
      const stray = run([`--grpc-server-cert=${server.cert}`]);
      assert.equal(stray.status, 2);
      assert.match(stray.stderr, /--grpc-server-cert needs --grpc-use-ssl/);
    });
  });
});
