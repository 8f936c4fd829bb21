// RepositoryPoller against a real directory and a fake repository that records what
// the poller asks of it.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { pino } from 'pino';
import { RepositoryPoller, type PolledRepository } from '../../src/repository/index.js';

class FakeRepository implements PolledRepository {
  readonly calls: string[] = [];
  active = 0;
  maxActive = 0;
  loadMs = 0;

  constructor(readonly directory: string) {}

  modelDirectories(): string[] {
    return readdirSync(this.directory, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  }

  async loadModel(name: string): Promise<void> {
    this.calls.push(`load ${name}`);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    await new Promise((resolve) => setTimeout(resolve, this.loadMs));
    this.active--;
  }

  removeModel(name: string): Promise<void> {
    this.calls.push(`remove ${name}`);
    return Promise.resolve();
  }
}

describe('RepositoryPoller', () => {
  let root: string;
  let repo: FakeRepository;
  let poller: RepositoryPoller | undefined;
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  const log = pino({ level: 'silent' });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'v2serve-poller-'));
    repo = new FakeRepository(root);
    write('kept/config.pbtxt', 'max_batch_size: 0\n');
    write('kept/1/model.ts', 'v1');
    write('edited/config.pbtxt', 'max_batch_size: 0\n');
    write('edited/1/model.ts', 'v1');
    write('doomed/1/model.ts', 'v1');
  });
  afterEach(async () => {
    await poller?.stop();
    poller = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  test('poll - an unchanged repository changes nothing', async () => {
    poller = new RepositoryPoller(repo, 60_000, log);
    poller.start();
    assert.deepEqual(await poller.poll(), { added: [], modified: [], removed: [] });
    assert.deepEqual(repo.calls, []);
  });

  test('poll - loads added directories, reloads changed ones, removes deleted ones', async () => {
    poller = new RepositoryPoller(repo, 60_000, log);
    poller.start();
    write('added/1/model.ts', 'new');
    write('edited/1/model.ts', 'version two');
    rmSync(join(root, 'doomed'), { recursive: true });
    assert.deepEqual(await poller.poll(), { added: ['added'], modified: ['edited'], removed: ['doomed'] });
    assert.deepEqual(repo.calls.sort(), ['load added', 'load edited', 'remove doomed']);
    // Seen once: the next scan finds nothing new.
    assert.deepEqual(await poller.poll(), { added: [], modified: [], removed: [] });
  });

  test('poll - a change of config.pbtxt or a new version directory counts as modified', async () => {
    poller = new RepositoryPoller(repo, 60_000, log);
    poller.start();
    write('kept/config.pbtxt', 'max_batch_size: 4\n');
    assert.deepEqual((await poller.poll()).modified, ['kept']);
    write('kept/2/model.ts', 'v1');
    assert.deepEqual((await poller.poll()).modified, ['kept']);
  });

  test('poll - a rewrite with the same size is seen through the modification time', async () => {
    poller = new RepositoryPoller(repo, 60_000, log);
    poller.start();
    await new Promise((resolve) => setTimeout(resolve, 5));
    write('edited/1/model.ts', 'v2');
    assert.deepEqual((await poller.poll()).modified, ['edited']);
  });

  test('poll - called again during a scan, it returns that scan', async () => {
    poller = new RepositoryPoller(repo, 60_000, log);
    poller.start();
    repo.loadMs = 50;
    write('added/1/model.ts', 'new');
    const first = poller.poll();
    const second = poller.poll();
    assert.equal(first, second);
    await first;
    assert.deepEqual(repo.calls, ['load added']);
  });

  test('timer - scans never overlap, even when loads outlast the interval', async () => {
    repo.loadMs = 40;
    poller = new RepositoryPoller(repo, 5, log);
    poller.start();
    for (let i = 0; i < 10; i++) {
      write('edited/1/model.ts', `version ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    await poller.stop();
    assert.ok(repo.calls.length >= 2, `only ${repo.calls.length} loads`);
    assert.equal(repo.maxActive, 1);
  });

  test('stop - waits for the scan in progress and schedules no more', async () => {
    repo.loadMs = 50;
    poller = new RepositoryPoller(repo, 5, log);
    poller.start();
    write('added/1/model.ts', 'new');
    while (repo.active === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    await poller.stop();
    assert.equal(repo.active, 0);
    const calls = repo.calls.length;
    write('another/1/model.ts', 'new');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(repo.calls.length, calls);
  });
});
