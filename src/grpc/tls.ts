// TLS and mutual TLS for the gRPC port, with certificates re-read when their files change.
//
// ServerCredentials.createSsl() fixes the certificate when the port is bound. grpc-js's
// public (experimental) createCertificateProviderServerCredentials() instead takes a
// CertificateProvider and calls Http2SecureServer.setSecureContext() on every update:
// new handshakes use the new certificate, connections already open keep theirs.
import { watch, readFileSync, statSync, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { experimental, type ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface TlsOptions {
  /** PEM certificate chain the server presents. */
  readonly certFile: string;
  /** PEM private key of that certificate. */
  readonly keyFile: string;
  /** PEM CA bundle client certificates must chain to; required when `mutual`. */
  readonly rootCertFile: string | undefined;
  /** Require and verify a client certificate (Triton's --grpc-use-ssl-mutual). */
  readonly mutual: boolean;
  /** Safety-net re-check of the files' stat, for changes file watching misses (default 5000). */
  readonly pollMs?: number;
  /** How long to wait after a change before re-reading, so a cert and key written one after the other are read together (default 200). */
  readonly debounceMs?: number;
}

/** Which of the files a start-up problem is about, so the CLI can name its flag. */
export type TlsFileRole = 'cert' | 'key' | 'root-cert';

/** A certificate file is missing, unreadable, or not usable; thrown at start-up only. */
export class TlsFileError extends Error {
  override readonly name = 'TlsFileError';
  constructor(
    readonly role: TlsFileRole,
    readonly path: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

interface Material {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

function readRole(role: TlsFileRole, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TlsFileError(role, path, `cannot read '${path}': ${errorMessage(err)}`, { cause: err });
  }
}

/** Reads the files and checks that Node's TLS accepts them (PEM, key matching the certificate). */
function readMaterial(options: TlsOptions): Material {
  const cert = readRole('cert', options.certFile);
  const key = readRole('key', options.keyFile);
  const ca = options.rootCertFile === undefined ? undefined : readRole('root-cert', options.rootCertFile);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new TlsFileError(
      'key',
      options.keyFile,
      `certificate '${options.certFile}' and key '${options.keyFile}' are not a usable pair: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  if (ca) {
    try {
      createSecureContext({ ca });
    } catch (err) {
      throw new TlsFileError('root-cert', options.rootCertFile ?? '', `'${options.rootCertFile}' is not a PEM CA certificate: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }
  return { cert, key, ca };
}

function sameMaterial(a: Material, b: Material): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca === b.ca || (a.ca !== undefined && b.ca !== undefined && a.ca.equals(b.ca)));
}

/**
 * Watches the certificate files and publishes their content to grpc-js. A change that
 * does not yet form a usable pair (the certificate written, the key not yet) keeps the
 * previous certificate in service; the next change or poll tries again.
 */
export class CertificateFiles implements CertificateProvider {
  private current: Material;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private watchers: FSWatcher[] = [];
  private poller: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private stamps: string;
  private readonly files: string[];

  /** Reads and checks the files now; throws TlsFileError naming the file at fault. */
  constructor(
    private readonly options: TlsOptions,
    private readonly log: Logger,
  ) {
    this.current = readMaterial(options);
    this.files = [options.certFile, options.keyFile, ...(options.rootCertFile ? [options.rootCertFile] : [])];
    this.stamps = this.stat();
  }

  /** Credentials for Server.bindAsync. */
  credentials(): ServerCredentials {
    // grpc-js names the first parameter caCertificateProvider, but passes it on as the
    // identity provider (server-credentials.ts, 1.14): first identity, then CA.
    return experimental.createCertificateProviderServerCredentials(
      this,
      this.options.mutual ? this : null,
      this.options.mutual,
    );
  }

  /** Re-reads the files; returns whether a new certificate went into service. */
  reload(): boolean {
    this.stamps = this.stat();
    let next: Material;
    try {
      next = readMaterial(this.options);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'TLS files changed but cannot be used yet; keeping the current certificate');
      return false;
    }
    if (sameMaterial(next, this.current)) return false;
    this.current = next;
    this.log.info({ cert: this.options.certFile }, 'TLS certificate reloaded; new connections use it');
    for (const listener of this.identityListeners) listener(this.identityUpdate());
    for (const listener of this.caListeners) listener(this.caUpdate());
    return true;
  }

  /** mtime, size and inode of every file: changes when a file is rewritten or a symlink swapped. */
  private stat(): string {
    return this.files
      .map((file) => {
        try {
          const s = statSync(file);
          return `${s.ino}:${s.size}:${s.mtimeMs}`;
        } catch {
          return 'missing';
        }
      })
      .join('|');
  }

  private scheduleReload(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.reload(), this.options.debounceMs ?? 200);
    this.debounce.unref();
  }

  private identityUpdate(): experimental.IdentityCertificateUpdate {
    return { certificate: this.current.cert, privateKey: this.current.key };
  }

  private caUpdate(): experimental.CaCertificateUpdate | null {
    return this.current.ca ? { caCertificate: this.current.ca } : null;
  }

  private startWatching(): void {
    if (this.poller) return;
    // Directories, not files: an atomic rename or Kubernetes' "..data" symlink swap
    // replaces the file, and a watch on the old inode would never fire again.
    for (const dir of new Set(this.files.map((file) => dirname(file)))) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.scheduleReload());
        watcher.on('error', (err) => this.log.warn({ dir, err: errorMessage(err) }, 'cannot watch TLS directory; polling only'));
        this.watchers.push(watcher);
      } catch (err) {
        this.log.warn({ dir, err: errorMessage(err) }, 'cannot watch TLS directory; polling only');
      }
    }
    this.poller = setInterval(() => {
      if (this.stat() !== this.stamps) this.scheduleReload();
    }, this.options.pollMs ?? 5000);
    this.poller.unref();
  }

  private stopWatchingIfUnused(): void {
    if (this.caListeners.size > 0 || this.identityListeners.size > 0) return;
    this.close();
  }

  /** Stops watching the files. */
  close(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    clearInterval(this.poller);
    clearTimeout(this.debounce);
    this.poller = undefined;
  }

  // grpc-js registers its listener before the watcher that applies the update, so the
  // first update must arrive on a later tick (as grpc-js's own FileWatcherCertificateProvider does).
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    this.startWatching();
    process.nextTick(() => this.caListeners.has(listener) && listener(this.caUpdate()));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
    this.stopWatchingIfUnused();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    this.startWatching();
    process.nextTick(() => this.identityListeners.has(listener) && listener(this.identityUpdate()));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
    this.stopWatchingIfUnused();
  }
}
