// Test certificates made with the openssl CLI into a temporary directory: CAs, server
// certificates for 127.0.0.1/localhost, client certificates. EC P-256 keys: fast to make.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface CertDir {
  readonly dir: string;
  /** A self-signed CA. */
  ca(name: string): KeyPair;
  /** A certificate signed by `ca`; server certificates name 127.0.0.1 and localhost. */
  leaf(name: string, ca: KeyPair, usage: 'server' | 'client'): KeyPair;
  read(path: string): Buffer;
  remove(): void;
}

// A config of our own, so that the system openssl.cnf's defaults do not matter.
const CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
`;

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args[0]} failed (is openssl on PATH? apt-get install openssl): ${stderr}`, { cause: err });
  }
}

export function certDir(): CertDir {
  const dir = mkdtempSync(join(tmpdir(), 'v2serve-certs-'));
  const config = join(dir, 'openssl.cnf');
  writeFileSync(config, CONFIG);
  let serial = 1;
  const newKey = (path: string) => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  return {
    dir,
    ca(name) {
      const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
      newKey(pair.key);
      openssl(['req', '-config', config, '-new', '-x509', '-key', pair.key, '-out', pair.cert, '-days', '2', '-subj', `/CN=${name}`, '-extensions', 'ca']);
      return pair;
    },
    leaf(name, ca, usage) {
      const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
      const csr = join(dir, `${name}.csr`);
      newKey(pair.key);
      openssl(['req', '-config', config, '-new', '-key', pair.key, '-out', csr, '-subj', `/CN=${name}`]);
      openssl([
        'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', String(serial++),
        '-days', '2', '-out', pair.cert, '-extfile', config, '-extensions', usage,
      ]);
      return pair;
    },
    read: (path) => readFileSync(path),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
