import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { CONSOLE_SHOTS, launchChromium } from '../support/chromium.js';
import { Platform } from '../support/platform.js';

const UI_TIMEOUT = 30_000;

/**
 * The console's admin control pages in a real browser (Debian's Chromium through playwright-core):
 * an admin pauses and resumes a queue, cancels tasks in bulk after a dry run, and sets an owner's policy. The workflow worker
 * runs only the bulk task (its normal and low consumers are paused), so the roadmaps stay queued
 * until the bulk cancel. Assertions are on what the page shows.
 */
describe('web console: admin control', () => {
  let platform: Platform;
  let browser: Browser;
  let page: Page;
  let key: string;
  const shot = (name: string) => page.screenshot({ path: join(CONSOLE_SHOTS, `${name}.png`), fullPage: true });
  const nav = (name: string) => page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name, exact: true });
  const queueRow = (consumer: string) => page.locator('table.queue-control tr', { hasText: consumer });

  before(async () => {
    await mkdir(CONSOLE_SHOTS, { recursive: true });
    browser = await launchChromium();
    platform = await Platform.start({ env: { WORKER_HEARTBEAT_MS: '500' }, replicas: { 'workflow-worker': 0, 'content-worker': 1 } });
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

  it('pauses and resumes the content queue, showing who paused it', async () => {
    await nav('Control').click();
    await page.getByRole('heading', { name: 'Control' }).waitFor();
    await queueRow('content-worker-normal').locator('.badge', { hasText: /^active$/ }).waitFor();
    await page.getByRole('button', { name: 'Pause CONTENT_GENERATION' }).click();
    await page.getByText('CONTENT_GENERATION paused').waitFor();
    for (const consumer of ['content-worker-high', 'content-worker-normal', 'content-worker-low']) {
      await queueRow(consumer).locator('.badge', { hasText: /^paused$/ }).waitFor();
      await queueRow(consumer).getByText('by ops-console').waitFor();
    }
    await queueRow('workflow-worker-normal').locator('.badge', { hasText: /^active$/ }).waitFor();
    await shot('20-control-paused');
    const queues = await platform.request('GET', '/api/v1/admin/queues', undefined, { authorization: `Bearer ${key}` });
    const content = queues.body.streams.find((s: any) => s.stream === 'CONTENT_GENERATION');
    assert.ok(content.consumers.every((c: any) => c.paused === true && c.pausedBy === 'ops-console'));

    await page.getByRole('button', { name: 'Resume CONTENT_GENERATION' }).click();
    await page.getByText('CONTENT_GENERATION resumed').waitFor();
    await queueRow('content-worker-normal').locator('.badge', { hasText: /^active$/ }).waitFor();
    const after = await platform.request('GET', '/api/v1/admin/queues', undefined, { authorization: `Bearer ${key}` });
    assert.ok(after.body.streams.find((s: any) => s.stream === 'CONTENT_GENERATION').consumers.every((c: any) => c.paused === false));
  });

  it('cancels tasks in bulk: the dry run shows the count and a sample, the job shows its progress', async () => {
    // The bulk cancel is an admin.bulk task (high priority): a workflow worker runs it, and no roadmap.
    for (const priority of ['normal', 'low']) {
      assert.equal((await platform.request('POST', '/api/v1/admin/queues/ROADMAP_WORKFLOW/pause', { priority }, { authorization: `Bearer ${key}` })).status, 200);
    }
    await platform.waitReady(await platform.spawn('workflow-worker'));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await platform.request('POST', '/api/v1/roadmaps', { goal: `Carol's goal ${i}` }, {}, { as: 'carol' })).body.taskId);
    await platform.request('POST', '/api/v1/roadmaps', { goal: 'Dave keeps his' }, {}, { as: 'dave' });

    await nav('Bulk actions').click();
    await page.getByRole('heading', { name: 'Bulk actions' }).waitFor();
    await page.getByLabel('Action').selectOption('cancel');
    await page.getByLabel('Status').selectOption('queued');
    await page.getByLabel('Owner').fill('carol');
    await page.getByRole('button', { name: 'Dry run' }).click();
    const dry = page.getByRole('region', { name: 'Dry run' });
    await dry.getByText(/5\s+tasks match/).waitFor();
    assert.equal(await dry.locator('a').count(), 5, 'a sample of the matched tasks');
    await shot('21-bulk-dry-run');
    const [{ n: queued }] = await platform.query(`SELECT count(*)::int AS n FROM tasks WHERE status = 'queued'`);
    assert.equal(queued, 6, 'the dry run changed nothing');

    await page.getByRole('button', { name: 'cancel 5 tasks' }).click();
    await page.locator('.badge', { hasText: /^completed$/ }).waitFor();
    await page.getByText('done 5, skipped 0, failed 0').waitFor();
    await shot('22-bulk-job-done');
    const rows = await platform.query(`SELECT owner, status FROM tasks WHERE type = 'roadmap.generate' ORDER BY owner`);
    assert.deepEqual(rows.map((r) => `${r.owner}:${r.status}`), [...Array(5).fill('carol:cancelled'), 'dave:queued']);
  });

  it('shows every task’s events live in the Live feed, with owner and level', async () => {
    await nav('Live feed').click();
    await page.getByRole('heading', { name: 'Live feed' }).waitFor();
    await page.getByText("Every task's events (live)").waitFor();
    const taskId = (await platform.request('POST', '/api/v1/roadmaps', { goal: 'Erin watches the feed' }, {}, { as: 'erin' })).body.taskId as string;
    await platform.request('POST', `/api/v1/tasks/${taskId}/cancel`, undefined, {}, { as: 'erin' });
    const row = page.locator('table.feed tr', { hasText: 'task.cancelled' }).filter({ hasText: 'erin' });
    await row.waitFor();
    assert.equal(await row.locator('.badge').getAttribute('title'), 'warn', 'a cancel is a warning in the feed');
    await shot('23-live-feed');
  });

  it("sets an owner's dispatch weight and high-priority grant and lists the owner", async () => {
    await nav('Control').click();
    await page.getByRole('heading', { name: 'Owner policies' }).waitFor();
    const form = page.getByRole('form', { name: "Set an owner's policy" });
    await form.getByLabel('Owner').fill('frank');
    await form.getByLabel('Weight').fill('3');
    await form.getByLabel('High priority').selectOption('grant');
    await form.getByRole('button', { name: 'Set policy' }).click();
    await page.getByText('Policy of frank set').waitFor();
    const row = page.locator('table.owner-policies tr[data-owner="frank"]');
    await row.locator('td.num', { hasText: /^3$/ }).waitFor();
    await row.getByText('granted').waitFor();
    await row.getByText('ops-console').waitFor();
    await shot('24-owner-policies');
    // What the page shows is what the API holds.
    const policies = await platform.request('GET', '/api/v1/admin/owners/policies', undefined, { authorization: `Bearer ${key}` });
    assert.deepEqual(
      policies.body.items.filter((p: any) => p.owner === 'frank').map((p: any) => [p.weight, p.priorityHigh, p.updatedBy]),
      [[3, true, 'ops-console']],
    );

    // A weight alone keeps the grant, as PUT does with a field left out.
    await form.getByLabel('Weight').fill('5');
    await form.getByRole('button', { name: 'Set policy' }).click();
    await row.locator('td.num', { hasText: /^5$/ }).waitFor();
    await row.getByText('granted').waitFor();
  });

  it('shows the actions in the audit trail', async () => {
    await nav('Audit').click();
    await page.getByRole('heading', { name: 'Audit' }).waitFor();
    for (const action of ['queue.pause', 'queue.resume', 'tasks.bulk', 'tasks.cancel.finished', 'owner.policy']) await page.locator('table.audit code', { hasText: new RegExp(`^${action.replace('.', '\\.')}$`) }).first().waitFor();
    await page.locator('table.audit td', { hasText: 'ops-console' }).first().waitFor();
  });
});
