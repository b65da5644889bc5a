import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { CONSOLE_SHOTS, launchChromium } from '../support/chromium.js';
import { Platform } from '../support/platform.js';

const UI_TIMEOUT = 30_000;

/**
 * The console's Schedules page in a real browser (Debian's Chromium through playwright-core): an
 * admin creates a schedule with the form (a bad cron is refused with its code), sees its next runs
 * in its time zone, pauses and resumes it, and reads a firing schedule's runs. Assertions are on
 * what the page shows, checked against the API.
 */
describe('web console: schedules', () => {
  let platform: Platform;
  let browser: Browser;
  let page: Page;
  let key: string;
  const shot = (name: string) => page.screenshot({ path: join(CONSOLE_SHOTS, `${name}.png`), fullPage: true });
  const row = (name: string) => page.locator(`table.schedules tr[data-schedule="${name}"]`);
  const auth = () => ({ authorization: `Bearer ${key}` });

  before(async () => {
    await mkdir(CONSOLE_SHOTS, { recursive: true });
    browser = await launchChromium();
    platform = await Platform.start({ replicas: { 'content-worker': 1, 'webhook-worker': 0 }, serviceEnv: { 'workflow-worker': { SCHEDULES_POLL_MS: '200' } } });
    key = platform.createApiKey('ops-console', 'admin');
    page = await browser.newPage({ baseURL: platform.url, viewport: { width: 1360, height: 900 } });
    page.setDefaultTimeout(UI_TIMEOUT);
    await page.goto('/console/');
    await page.getByLabel('API key or token').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await platform?.stop();
  });

  it('creates a schedule with the form, shows its next runs, pauses and resumes it', async () => {
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Schedules', exact: true }).click();
    await page.getByRole('heading', { name: 'Schedules', exact: true, level: 1 }).waitFor();
    await page.getByText('No schedules yet.').waitFor();
    // The maintenance jobs are listed beside them, read-only.
    await page.getByRole('cell', { name: 'reaper', exact: true }).waitFor();

    const form = page.getByRole('form', { name: 'New schedule' });
    await form.getByLabel('Name').fill('weekday-french');
    await form.getByLabel('Cron').fill('every morning');
    await form.getByLabel('Time zone').fill('Europe/Paris');
    await form.getByLabel('Input (JSON)').fill('{"goal": "Learn French in the mornings"}');
    await form.getByLabel('Catch-up').selectOption('latest');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('alert').getByText(/INVALID_CRON/).waitFor();

    await form.getByLabel('Cron').fill('30 6 * * 1-5');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByText('Schedule weekday-french created').waitFor();
    await row('weekday-french').locator('.badge', { hasText: /^active$/ }).waitFor();
    await row('weekday-french').getByText('Europe/Paris').waitFor();
    assert.equal(await row('weekday-french').locator('.next-runs > div').count(), 3, 'the next runs are shown');
    await shot('40-schedules-created');

    const listed = (await platform.request('GET', '/api/v1/admin/schedules', undefined, auth())).body.items;
    const created = listed.find((s: any) => s.name === 'weekday-french');
    assert.deepEqual(
      [created.cron, created.timezone, created.type, created.input.goal, created.catchup, created.owner],
      ['30 6 * * 1-5', 'Europe/Paris', 'roadmap.generate', 'Learn French in the mornings', 'latest', 'ops-console'],
    );
    // December in Paris is UTC+1: 06:30 there is 05:30 UTC, on weekdays only.
    assert.ok(created.nextRuns.every((t: string) => t.endsWith('T05:30:00.000Z') && ![0, 6].includes(new Date(t).getUTCDay())), created.nextRuns.join());

    await page.getByRole('button', { name: 'Pause weekday-french' }).click();
    await row('weekday-french').locator('.badge', { hasText: /^paused$/ }).waitFor();
    await row('weekday-french').getByText('by ops-console').waitFor();
    await page.getByRole('button', { name: 'Resume weekday-french' }).click();
    await row('weekday-french').locator('.badge', { hasText: /^active$/ }).waitFor();
  });

  it('shows a firing schedule’s runs with their tasks', async () => {
    const fast = await platform.request('POST', '/api/v1/admin/schedules', { name: 'every-second', cron: '* * * * * *', type: 'roadmap.generate', input: { goal: 'Learn by repetition' } }, auth());
    assert.equal(fast.status, 201, fast.text);
    await page.reload();
    await row('every-second').getByRole('link', { name: 'every-second' }).click();
    await page.getByRole('heading', { name: 'Runs of every-second' }).waitFor();
    const runs = page.locator('table.schedule-runs tbody tr');
    await runs.first().locator('.badge', { hasText: /^(started|skipped)$/ }).waitFor();
    await page.locator('table.schedule-runs a').first().waitFor();
    await shot('41-schedule-runs');
    await platform.request('POST', `/api/v1/admin/schedules/${fast.body.id}/pause`, undefined, auth());
  });
});
