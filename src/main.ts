// The process: reads the flags, starts the server, and owns what belongs to a process —
// signals, uncaught errors, exit codes. The only code that reads argv.
import { realpathSync } from 'node:fs';
import { endianness } from 'node:os';
import { resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import type { Logger } from 'pino';
import { parseConfig, TLS_FLAGS, UsageError, USAGE, type Config } from './cli/config.js';
import { serverGcFlags } from './cli/gc-flags.js';
import { TlsFileError } from './grpc/index.js';
import { createRootLogger } from './logging/index.js';
import { findPlantedV2serve } from './model-imports/index.js';
import { PACKAGE_VERSION } from './package-root.js';
import { startServer, StartupError, type RunningV2serve } from './server.js';

/**
 * Which model's code an error comes from: the first stack frame in a version directory
 * of the repository (<root>/<model>/<version>/...), as a path or a file: URL.
 */
function modelAttribution(repository: string): (err: unknown) => { model: string; version: string } | undefined {
  const roots = new Set([resolve(repository)]);
  try {
    roots.add(realpathSync(repository));
  } catch {
    // The repository check at start-up reports a missing directory.
  }
  const prefixes = [...roots].flatMap((root) => [`${root}${sep}`, `${pathToFileURL(root).href}/`]);
  return (err) => {
    const stack = err instanceof Error ? (err.stack ?? '') : '';
    for (const prefix of prefixes) {
      for (let at = stack.indexOf(prefix); at >= 0; at = stack.indexOf(prefix, at + 1)) {
        const [model, version] = stack.slice(at + prefix.length).split(/[/\\]/);
        if (model && version && /^\d+$/.test(version)) return { model, version };
      }
    }
    return undefined;
  };
}

/** Errors outside requests: a model's are logged and the server goes on; anything else is a v2serve bug. */
function handleProcessErrors(config: Config, log: Logger): void {
  const modelOf = modelAttribution(config.modelRepository);
  process.on('unhandledRejection', (reason) => {
    const origin = modelOf(reason);
    log.error(
      { err: reason, ...origin },
      origin
        ? `model '${origin.model}' left a promise rejection unhandled; the server goes on`
        : 'unhandled promise rejection; the server goes on',
    );
  });
  // A throw in a model's timer or event callback must not take every other model down.
  process.on('uncaughtException', (err) => {
    const origin = modelOf(err);
    if (origin) {
      log.error({ err, ...origin }, `model '${origin.model}' threw outside a request (uncaught exception); the server goes on`);
      return;
    }
    log.fatal({ err }, 'uncaught exception; exiting');
    process.exit(1);
  });
}

/** Tells once that the repository's own v2serve of another version is not what its models get. */
function warnOfPlantedV2serve(repository: string, log: Logger): void {
  const planted = findPlantedV2serve(repository);
  if (!planted) return;
  log.warn(
    { repository, plantedPath: planted.path, plantedVersion: planted.version, serverVersion: PACKAGE_VERSION },
    `the model repository has its own v2serve ${planted.version} (${planted.path}); its models import this server's v2serve ${PACKAGE_VERSION} instead`,
  );
}

/** SIGTERM/SIGINT stop the server in order; a second signal, or a stop past the exit timeout, exits at once. */
function handleSignals(config: Config, server: RunningV2serve, log: Logger): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, exitTimeoutSecs: config.exitTimeoutSecs }, 'shutting down');
    // The calls get the exit timeout; unloading models and flushing monitoring get one
    // more second. A model that never returns cannot hold the process past that. (The
    // timer is not unref'd: a shutdown stuck on a promise that never settles must not
    // end in a silent exit 0 when the event loop empties.)
    setTimeout(() => {
      log.error({ exitTimeoutSecs: config.exitTimeoutSecs }, 'shutdown did not finish in time (a model still running?); exiting');
      process.exit(1);
    }, config.exitTimeoutSecs * 1000 + 1000);
    await server.stop();
    log.info('stopped');
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, (s) => {
      stop(s).catch((err: unknown) => {
        log.fatal({ err }, 'shutdown failed');
        process.exit(1);
      });
    });
  }
}

function usageError(message: string, withUsage: boolean): never {
  process.stderr.write(`v2serve: ${message}\n${withUsage ? `\n${USAGE}\n` : ''}`);
  process.exit(2);
}

export async function main(argv: readonly string[]): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = parseConfig(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    usageError(err.message, true);
  }
  if (config.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (config.version) {
    process.stdout.write(`${PACKAGE_VERSION}\n`);
    return;
  }
  // Raw tensors are little-endian on the wire and are viewed, not converted.
  if (endianness() !== 'LE') throw new Error('v2serve needs a little-endian machine');
  // Before the models load: V8 reads them at every collection, start-up's included.
  for (const flag of serverGcFlags(process.execArgv)) setFlagsFromString(flag);

  const logger = createRootLogger({ verboseLevel: config.logVerbose, format: config.logFormat });
  handleProcessErrors(config, logger.log);
  warnOfPlantedV2serve(config.modelRepository, logger.log);
  let server: RunningV2serve;
  try {
    server = await startServer(config, logger);
  } catch (err) {
    if (err instanceof StartupError) {
      logger.log.fatal(err.message);
      process.exit(1);
    }
    // An unusable certificate file stops start-up naming its flag.
    if (!(err instanceof TlsFileError)) throw err;
    usageError(`${TLS_FLAGS[err.role]}: ${err.message}`, false);
  }
  handleSignals(config, server, logger.log);
}
