import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorruptFileError, RunLockedError, RunMismatchError } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  acquireRunLock,
  openRunDirectory,
  RUN_FILES,
  readJsonl,
  repairRunDirectory,
  TRAINER_STATE_SCHEMA,
} from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'hicra-run-directory-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A pid that no process has: a child that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  expect(child.status).toBe(0);
  return child.pid!;
}

const lines = (records: readonly object[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');

/** A checkpoint folder as far as the repair reads it: the trainer state's step. */
function fakeCheckpoint(folder: string, step: number): void {
  mkdirSync(folder, { recursive: true });
  writeFileSync(
    join(folder, RUN_FILES.trainerState),
    JSON.stringify({ schema: TRAINER_STATE_SCHEMA, step, dataOrder: [] }),
  );
}

describe('acquireRunLock', () => {
  it('is exclusive: a second lock fails naming the holder, until the first is released', async () => {
    const dir = join(root, 'locked', 'run'); // created on the way
    const lock = acquireRunLock(dir, { command: 'hicra train --out locked' });
    expect(lock.path).toBe(join(dir, RUN_FILES.lock));
    expect(lock.holder).toEqual({
      pid: process.pid,
      host: hostname(),
      command: 'hicra train --out locked',
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(lock.tookOverStaleLock).toBeUndefined();
    expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject(lock.holder);

    for (const second of [() => acquireRunLock(dir), () => openRunDirectory(dir)]) {
      const error = await expectHicraRejection(second);
      expect(RunLockedError.isInstance(error)).toBe(true);
      expect(error.code).toBe('HICRA_RUN_LOCKED');
      expect(error.details).toEqual({ path: lock.path, holder: lock.holder });
      for (const part of [
        `pid ${process.pid}`,
        hostname(),
        '"hicra train --out locked"',
        lock.holder.startedAt,
        `remove ${lock.path}`,
      ])
        expect(error.message).toContain(part);
    }

    lock.release();
    expect(existsSync(lock.path)).toBe(false);
    lock.release(); // idempotent
    const next = acquireRunLock(dir);
    lock.release(); // an old lock's release never removes a newer one
    expect(existsSync(next.path)).toBe(true);
    next.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes over a stale lock of a process on this host that no longer runs', () => {
    const dir = join(root, 'stale');
    mkdirSync(dir);
    const stale = {
      pid: deadPid(),
      host: hostname(),
      command: 'hicra train (killed)',
      startedAt: '2020-01-01T00:00:00.000Z',
    };
    writeFileSync(join(dir, RUN_FILES.lock), JSON.stringify(stale));
    const lock = acquireRunLock(dir);
    expect(lock.tookOverStaleLock).toEqual(stale);
    expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid });
    expect(readdirSync(dir)).toEqual([RUN_FILES.lock]);
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
  });

  it('never takes over a lock from another host, nor an unreadable one', async () => {
    const dir = join(root, 'remote');
    mkdirSync(dir);
    const remote = JSON.stringify({
      pid: deadPid(),
      host: `not-${hostname()}`,
      command: 'hicra train',
      startedAt: '2020-01-01T00:00:00.000Z',
    });
    writeFileSync(join(dir, RUN_FILES.lock), remote);
    const error = await expectHicraRejection(() => acquireRunLock(dir));
    expect(RunLockedError.isInstance(error)).toBe(true);
    expect(error.message).toContain(`on host not-${hostname()}`);
    expect(error.message).toContain('another host');
    expect(readFileSync(join(dir, RUN_FILES.lock), 'utf8')).toBe(remote);

    writeFileSync(join(dir, RUN_FILES.lock), '');
    const unreadable = await expectHicraRejection(() => acquireRunLock(dir));
    expect(RunLockedError.isInstance(unreadable)).toBe(true);
    expect(unreadable.message).toContain('cannot be read');
    expect(unreadable.message).toContain(`remove ${join(dir, RUN_FILES.lock)}`);
  });
});

describe('repairRunDirectory', () => {
  it('recovers an interrupted checkpoint swap, removes leftovers and trims records to its step', async () => {
    const dir = join(root, 'repair-swap');
    fakeCheckpoint(join(dir, '.checkpoint.old-1-a'), 2);
    mkdirSync(join(dir, '.checkpoint.saving-2-b'));
    const metrics = [0, 1, 2, 3].map((step) => ({ kind: 'train', step }));
    writeFileSync(join(dir, RUN_FILES.metrics), `${lines(metrics)}{"kind":"tr`);
    writeFileSync(join(dir, RUN_FILES.rollouts), lines([{ step: 2 }, { step: 3 }, { step: 3 }]));

    const report = await repairRunDirectory(dir);
    expect(report).toEqual({
      checkpointStep: 2,
      recoveredCheckpoint: true,
      removedFolders: [join(dir, '.checkpoint.saving-2-b')],
      discarded: { metrics: 1, rollouts: 2 },
      repairedTornLines: [join(dir, RUN_FILES.metrics)],
    });
    expect(readdirSync(dir).sort()).toEqual([
      'checkpoint',
      'metrics.jsonl',
      'metrics.jsonl.discarded',
      'rollouts.jsonl',
      'rollouts.jsonl.discarded',
    ]);
    expect(readJsonl(join(dir, RUN_FILES.metrics))).toEqual(metrics.slice(0, 3));
    expect(readJsonl(join(dir, `${RUN_FILES.metrics}.discarded`))).toEqual([
      { kind: 'train', step: 3 },
      { tornLine: '{"kind":"tr' },
    ]);
    expect(readJsonl(join(dir, RUN_FILES.rollouts))).toEqual([{ step: 2 }]);
    // Consistent now: a second repair changes nothing.
    expect(await repairRunDirectory(dir)).toEqual({
      ...report,
      recoveredCheckpoint: false,
      removedFolders: [],
      discarded: { metrics: 0, rollouts: 0 },
      repairedTornLines: [],
    });
  });

  it('without a checkpoint, moves every record aside (the run restarts from step 0)', async () => {
    const dir = join(root, 'repair-none');
    mkdirSync(dir);
    const metrics = [
      { kind: 'eval', step: 0 },
      { kind: 'train', step: 1 },
      { kind: 'train', step: 2 },
    ];
    writeFileSync(join(dir, RUN_FILES.metrics), lines(metrics));
    const report = await repairRunDirectory(dir);
    expect(report.checkpointStep).toBeUndefined();
    expect(report.discarded).toEqual({ metrics: 3, rollouts: 0 });
    expect(readFileSync(join(dir, RUN_FILES.metrics), 'utf8')).toBe('');
    expect(readJsonl(join(dir, `${RUN_FILES.metrics}.discarded`))).toEqual(metrics);
  });

  it('refuses a corrupt trainer state before moving any record', async () => {
    const dir = join(root, 'repair-corrupt');
    mkdirSync(join(dir, RUN_FILES.checkpoint), { recursive: true });
    writeFileSync(join(dir, RUN_FILES.checkpoint, RUN_FILES.trainerState), '{"schema":"nope"}');
    const content = lines([{ kind: 'train', step: 1 }]);
    writeFileSync(join(dir, RUN_FILES.metrics), content);
    const error = await expectHicraRejection(() => repairRunDirectory(dir));
    expect(CorruptFileError.isInstance(error)).toBe(true);
    expect(error.message).toContain(RUN_FILES.trainerState);
    expect(readFileSync(join(dir, RUN_FILES.metrics), 'utf8')).toBe(content);
  });
});

describe('openRunDirectory', () => {
  const settings = {
    strategy: 'hicra',
    seed: 0,
    from: 'runs/base',
    config: {
      steps: 40,
      credit: { estimator: { name: 'grpo' }, assigners: [{ name: 'hicra', alpha: 0.2 }] },
    },
  };

  it('writes run.json for a new run, and continues a run with the same settings', async () => {
    const dir = join(root, 'open-new');
    const run = await openRunDirectory(dir, { settings, command: 'test' });
    expect(run.resumed).toBe(false);
    expect(run.runDir).toBe(dir);
    expect(run.lock.holder.command).toBe('test');
    expect(readFileSync(join(dir, RUN_FILES.run), 'utf8')).toBe(
      `${JSON.stringify(settings, null, 2)}\n`,
    );
    run.close();
    run.close();
    expect(existsSync(join(dir, RUN_FILES.lock))).toBe(false);

    const again = await openRunDirectory(dir, { settings: JSON.parse(JSON.stringify(settings)) });
    expect(again.resumed).toBe(true);
    again.close();
  });

  it('refuses other settings, listing each differing key, and changes nothing', async () => {
    const dir = join(root, 'open-mismatch');
    (await openRunDirectory(dir, { settings })).close();
    const runJson = readFileSync(join(dir, RUN_FILES.run));
    // Records of a run that crashed before its first checkpoint: the refusal must not trim them.
    const metrics = lines([{ kind: 'train', step: 1 }]);
    writeFileSync(join(dir, RUN_FILES.metrics), metrics);
    const requested = {
      strategy: 'hicra',
      seed: 1,
      from: 'runs/base',
      estimator: 'rloo',
      config: {
        steps: 80,
        credit: { estimator: { name: 'rloo' }, assigners: [{ name: 'hicra', alpha: 0.5 }] },
      },
    };
    const error = await expectHicraRejection(() =>
      openRunDirectory(dir, { settings: requested, ignore: ['config.steps'] }),
    );
    expect(RunMismatchError.isInstance(error)).toBe(true);
    expect(error.code).toBe('HICRA_RUN_MISMATCH');
    expect(error.details).toEqual({
      runDir: dir,
      differences: [
        { key: 'seed', saved: 0, requested: 1 },
        { key: 'config.credit.estimator.name', saved: 'grpo', requested: 'rloo' },
        { key: 'config.credit.assigners[0].alpha', saved: 0.2, requested: 0.5 },
        { key: 'estimator', saved: undefined, requested: 'rloo' },
      ],
    });
    expect(error.message).toContain('differs from the requested settings in 4 keys');
    expect(error.message).toContain('  seed: saved 0, requested 1\n');
    expect(error.message).toContain(
      '  config.credit.estimator.name: saved "grpo", requested "rloo"',
    );
    expect(error.message).toContain('  estimator: saved (absent), requested "rloo"');
    expect(error.message).not.toContain('config.steps');
    expect(readFileSync(join(dir, RUN_FILES.run))).toEqual(runJson);
    expect(readFileSync(join(dir, RUN_FILES.metrics), 'utf8')).toBe(metrics);
    expect(existsSync(join(dir, RUN_FILES.lock))).toBe(false); // released on the error

    // Without the ignore list, config.steps is a difference too.
    const stepsOnly = { ...settings, config: { ...settings.config, steps: 80 } };
    const steps = await expectHicraRejection(() => openRunDirectory(dir, { settings: stepsOnly }));
    expect((steps.details as { differences: unknown }).differences).toEqual([
      { key: 'config.steps', saved: 40, requested: 80 },
    ]);
    // Ignored keys may differ; run.json keeps the saved values.
    const extended = await openRunDirectory(dir, {
      settings: stepsOnly,
      ignore: ['config.steps'],
    });
    expect(extended.resumed).toBe(true);
    extended.close();
    expect(readFileSync(join(dir, RUN_FILES.run))).toEqual(runJson);
  });

  it('refuses settings for a directory that holds run files but no run.json', async () => {
    const dir = join(root, 'open-unlabelled');
    mkdirSync(dir);
    const metrics = lines([{ kind: 'train', step: 1 }]);
    writeFileSync(join(dir, RUN_FILES.metrics), metrics);
    const error = await expectHicraRejection(() => openRunDirectory(dir, { settings }));
    expect(RunMismatchError.isInstance(error)).toBe(true);
    expect(error.message).toContain('holds run files (metrics.jsonl) but no run.json');
    expect(existsSync(join(dir, RUN_FILES.run))).toBe(false);
    expect(readFileSync(join(dir, RUN_FILES.metrics), 'utf8')).toBe(metrics);
    expect(existsSync(join(dir, RUN_FILES.lock))).toBe(false);
    // Without settings there is nothing to check: it opens (and repairs).
    const run = await openRunDirectory(dir);
    expect(run.resumed).toBe(false);
    expect(run.repair.discarded.metrics).toBe(1);
    run.close();
  });
});
