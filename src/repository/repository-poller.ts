// Poll mode (--model-control-mode=poll): rescans the repository every
// --repository-poll-secs and brings the loaded models in line with it, as Triton does.
// A model whose files changed is reloaded with ModelRepository's swap, so the old
// versions serve until the new ones are ready and no request is dropped.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { ModelRepository } from './model-repository.js';

/** What one scan did, by model name. */
export interface PollChanges {
  readonly added: string[];
  readonly modified: string[];
  readonly removed: string[];
}

/** The part of the repository the poller drives. */
export type PolledRepository = Pick<ModelRepository, 'directory' | 'modelDirectories' | 'loadModel' | 'removeModel'>;

export class RepositoryPoller {
  /** Per model directory: its fingerprint when it was last (re)loaded. */
  private known = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<PollChanges> | undefined;
  private stopped = false;

  constructor(
    private readonly repository: PolledRepository,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /**
   * Records the repository as it is now and polls every interval. Call it right after
   * the repository's start(): the startup loads read the files after this snapshot, so a
   * change made meanwhile is seen (at worst as one reload too many), never missed.
   */
  start(): void {
    for (const name of this.repository.modelDirectories()) {
      const fingerprint = this.fingerprint(name);
      if (fingerprint !== undefined) this.known.set(name, fingerprint);
    }
    this.log.info({ intervalMs: this.intervalMs, models: this.known.size }, 'polling the model repository');
    this.schedule();
  }

  /** The next scan starts an interval after the previous one finished, so scans never overlap. */
  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll().finally(() => this.schedule());
    }, this.intervalMs);
  }

  /**
   * One scan: loads new model directories, unloads deleted ones, reloads changed ones,
   * and resolves when they are done. While a scan runs, calling it again returns that scan.
   */
  poll(): Promise<PollChanges> {
    this.scanning ??= this.scan().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async scan(): Promise<PollChanges> {
    const changes: PollChanges = { added: [], modified: [], removed: [] };
    let present: string[];
    try {
      present = this.repository.modelDirectories();
    } catch (err) {
      this.log.error({ err: errorMessage(err), repository: this.repository.directory }, 'poll: cannot read the model repository');
      return changes;
    }
    const work: Promise<void>[] = [];
    for (const name of [...this.known.keys()].filter((known) => !present.includes(known))) {
      changes.removed.push(name);
      this.known.delete(name);
      this.log.info({ model: name }, 'poll: model directory removed; unloading the model');
      work.push(
        this.repository.removeModel(name).then(
          () => this.log.info({ model: name }, 'poll: model unloaded'),
          (err: unknown) => this.log.error({ model: name, err: errorMessage(err) }, 'poll: model failed to unload'),
        ),
      );
    }
    for (const name of present) {
      // Taken before the load reads the files: a write during the load shows up next scan.
      const fingerprint = this.fingerprint(name);
      const before = this.known.get(name);
      if (fingerprint === undefined || fingerprint === before) continue;
      this.known.set(name, fingerprint);
      const change = before === undefined ? 'added' : 'modified';
      changes[change].push(name);
      const what = change === 'added' ? 'new model directory; loading the model' : 'model files changed; reloading the model';
      this.log.info({ model: name, change }, `poll: ${what}`);
      work.push(
        this.repository.loadModel(name).then(
          () => this.log.info({ model: name, change }, 'poll: model loaded'),
          // The reason is already logged by the repository; the next change of the files retries.
          (err: unknown) => this.log.warn({ model: name, change, err: errorMessage(err) }, 'poll: model failed to load'),
        ),
      );
    }
    await Promise.all(work);
    return changes;
  }

  /**
   * Every file under the model directory with its size and modification time (as
   * Triton, which compares modification times): config.pbtxt, labels, version
   * directories. Undefined when the directory vanished while being read.
   */
  private fingerprint(name: string): string | undefined {
    const lines: string[] = [];
    const walk = (dir: string, prefix: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        const relative = `${prefix}${entry.name}`;
        if (entry.isDirectory()) {
          walk(path, `${relative}/`);
        } else {
          const stat = statSync(path, { bigint: true });
          lines.push(`${relative}\t${stat.size}\t${stat.mtimeNs}`);
        }
      }
    };
    try {
      walk(join(this.repository.directory, name), '');
    } catch {
      return undefined;
    }
    return lines.sort().join('\n');
  }

  /** Stops polling; resolves when a scan in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.scanning;
  }
}
