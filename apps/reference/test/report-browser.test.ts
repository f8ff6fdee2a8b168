// The report opened in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
// every chart with data draws its lines, the chart without data says so, the rollout viewer
// highlights planning spans and switches runs and steps, nothing is fetched from the network,
// no console error, no injected markup runs. A screenshot is kept in test-artifacts/report.png.
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROLLOUT_SCHEMA_V1 } from '@hicra/spec';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORT_CHARTS, writeReport } from '../src/index.js';
import {
  ABSENT_KEYS,
  temporaryDirectory,
  writeComparison,
  writeSyntheticRun,
} from './report-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-artifacts');
const SCREENSHOT = join(ARTIFACTS, 'report.png');
const STEPS = 24;
const INJECTION =
  '<script>window.__injected = 1</script><img src="x" onerror="window.__injected = 2">';

const root = temporaryDirectory();
let context: BrowserContext;
let page: Page;
const consoleErrors: string[] = [];
const requests: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: run the tests through \`pnpm test\` (scripts/prerequisites.mjs installs it) or \`apt-get install chromium\``,
    );
  }
  const dirs = writeComparison(join(root, 'runs'), STEPS);
  // GRPO seed 0 gets one more rollout at its latest step, with markup in every text field.
  rmSync(dirs[0]!, { recursive: true });
  writeSyntheticRun(join(root, 'runs'), 'grpo-seed0', {
    strategy: 'grpo',
    seed: 0,
    steps: STEPS,
    extraRollouts: [
      {
        schema: ROLLOUT_SCHEMA_V1,
        groupId: '<b>g</b>',
        prompt: INJECTION,
        response: `${INJECTION} Wait, that is all.`,
        reward: 0,
        step: STEPS,
        planningMatches: [
          { start: INJECTION.length + 1, end: INJECTION.length + 5, gram: 'wait', gramId: 1 },
        ],
      },
    ],
  });
  const { path } = await writeReport({
    runDirs: dirs,
    out: join(root, 'report.html'),
    title: 'GRPO vs HICRA (synthetic)',
  });
  context = await chromium.launchPersistentContext(join(root, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  context.on('request', (request) => {
    requests.push(request.url());
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => {
    consoleErrors.push(String(error));
  });
  await page.goto(pathToFileURL(path).href);
  await page.waitForSelector('body[data-charts-rendered]');
}, 120_000);

afterAll(async () => {
  await context?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('the report in headless Chromium', () => {
  const withData = REPORT_CHARTS.filter((c) => !(ABSENT_KEYS as readonly string[]).includes(c.key));

  it('draws every chart that has data, with a line per strategy', async () => {
    expect(await page.getAttribute('body', 'data-charts-rendered')).toBe(String(withData.length));
    for (const definition of withData) {
      const section = page.locator(`#chart-${definition.id}`);
      expect(await section.getAttribute('data-state')).toBe('rendered');
      // Pixels of each strategy's line colour on the chart's canvas (anti-aliasing aside).
      const counts = await section.evaluate((element) => {
        const canvas = element.querySelector('canvas');
        if (!canvas || canvas.width === 0 || canvas.height === 0) return null;
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        const near = (i: number, [r, g, b]: number[]) =>
          data[i + 3]! > 200 &&
          Math.abs(data[i]! - r!) < 40 &&
          Math.abs(data[i + 1]! - g!) < 40 &&
          Math.abs(data[i + 2]! - b!) < 40;
        let grpo = 0;
        let hicra = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (near(i, [0x00, 0x72, 0xb2])) grpo++;
          if (near(i, [0xd5, 0x5e, 0x00])) hicra++;
        }
        return { grpo, hicra };
      });
      expect(counts, definition.id).not.toBeNull();
      expect(counts!.grpo, `${definition.id}: GRPO line`).toBeGreaterThan(50);
      expect(counts!.hicra, `${definition.id}: HICRA line`).toBeGreaterThan(50);
    }
  });

  it('says "no data" for a metric no run has', async () => {
    const section = page.locator('#chart-clip-fraction-lower');
    expect(await section.getAttribute('data-state')).toBe('no-data');
    expect(await section.locator('canvas').count()).toBe(0);
    expect(await section.locator('.no-data').textContent()).toContain('No data');
  });

  it('shows values on hover', async () => {
    const plot = page.locator('#chart-train-accuracy .u-over');
    await plot.scrollIntoViewIfNeeded();
    const box = (await plot.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    await page.locator('#chart-train-accuracy .readout', { hasText: /^step / }).waitFor();
    const readout = await page.locator('#chart-train-accuracy .readout').textContent();
    expect(readout).toMatch(/^step \d+ {3}· {3}grpo [\d.]+ ± [\d.]+ \(n=3\) {3}· {3}hicra [\d.]+/);
  });

  it('highlights planning spans in the rollout viewer', async () => {
    const visible = page.locator('article.rollout:visible');
    expect(await visible.count()).toBe(3);
    for (const article of await visible.all()) {
      expect(await article.getAttribute('data-run')).toBe('0');
      expect(await article.getAttribute('data-step')).toBe(String(STEPS));
      const marks = article.locator('pre.response mark.planning');
      expect(await marks.count()).toBeGreaterThan(0);
      const text = (await marks.allTextContents()).join(' ').toLowerCase();
      expect(text).toMatch(/wait|let me check|alternatively|first|need/);
      const background = await marks
        .first()
        .evaluate((m) => m.ownerDocument.defaultView!.getComputedStyle(m).backgroundColor);
      expect(background).toBe('rgb(255, 224, 138)');
    }
  });

  it('shows markup in the data as text and runs none of it', async () => {
    expect(await page.evaluate(() => (globalThis as { __injected?: number }).__injected)).toBe(
      undefined,
    );
    const injected = page.locator('article.rollout:visible pre.response', {
      hasText: '<script>window.__injected = 1</script>',
    });
    expect(await injected.count()).toBe(1);
    expect(await page.locator('article.rollout img').count()).toBe(0);
  });

  it('switches run and step, and reads advantages on hover', async () => {
    await page.selectOption('#rollout-run', '4');
    const steps = await page.locator('#rollout-step option').allTextContents();
    expect(steps).toEqual([`step ${STEPS - 2}`, `step ${STEPS - 1}`, `step ${STEPS}`]);
    await page.selectOption('#rollout-step', String(STEPS - 1));
    const visible = page.locator('article.rollout:visible');
    expect(await visible.count()).toBe(2);
    for (const article of await visible.all()) {
      expect(await article.getAttribute('data-run')).toBe('4');
      expect(await article.getAttribute('data-step')).toBe(String(STEPS - 1));
    }
    const planningToken = visible.first().locator('.tok:has(mark.planning)').first();
    await planningToken.hover();
    const readout = await visible.first().locator('.token-readout').textContent();
    expect(readout).toMatch(/^token \d+ ".+" · advantage -?\d\.\d{4} · planning$/);
    await page.check('#rollout-shade');
    expect(
      await page.locator('body').evaluate((body) => body.classList.contains('shade-advantages')),
    ).toBe(true);
    // Back to the default view for the screenshot.
    await page.uncheck('#rollout-shade');
    await page.selectOption('#rollout-run', '0');
  });

  it('logs no console error, fetches nothing and leaves a screenshot', async () => {
    expect(consoleErrors).toEqual([]);
    expect(requests.filter((url) => !url.startsWith('file:'))).toEqual([]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.mouse.move(0, 0);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(50_000);
  });
});
