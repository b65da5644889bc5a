import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Messaging } from '@roadmap/messaging';
import type { Browser, Page } from 'playwright-core';
import { CONSOLE_SHOTS, launchChromium } from '../support/chromium.js';
import { eventually, Platform, TEST_NATS_URL } from '../support/platform.js';

// Compiled to dist/test/e2e/: screenshots go to <repo>/test-results/console/ for a person to look at.
const UI_TIMEOUT = 60_000;

/**
 * The web console in a real browser (Debian's Chromium through playwright-core): a person signs in
 * with an API key and takes a roadmap through its life, cancels another, and replays a dead letter.
 * Assertions are on what the page shows (text, status badges).
 */
describe('web console', () => {
  let platform: Platform;
  let messaging: Messaging;
  let browser: Browser;
  let page: Page;
  let key: string;
  const shot = (name: string) => page.screenshot({ path: join(CONSOLE_SHOTS, `${name}.png`), fullPage: true });
  const nav = (name: string) => page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name, exact: true });
  const badge = (scope: string, status: string) => page.locator(`${scope} .badge`, { hasText: new RegExp(`^${status}$`) }).first();

  before(async () => {
    await mkdir(CONSOLE_SHOTS, { recursive: true });
    browser = await launchChromium();
    platform = await Platform.start({ env: { OFFLINE_LLM_LATENCY_MS: '40' } });
    messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-console' });
    const created = platform.cli(['apikey', 'create', '--owner', 'ops-console', '--role', 'admin', '--label', 'console e2e']);
    assert.equal(created.status, 0, created.stderr);
    key = created.stdout.trim().split('\n').at(-1)!;
    page = await browser.newPage({ baseURL: platform.url, viewport: { width: 1360, height: 900 } });
    page.setDefaultTimeout(UI_TIMEOUT);
  });
  after(async () => {
    await browser?.close();
    await messaging?.close();
    await platform?.stop();
  });

  it('is served by the gateway as public static files, its client routes included, under a CSP that allows its own scripts; its endpoints validate', async () => {
    const index = await fetch(`${platform.url}/console/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    assert.match(index.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await index.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, html);
    const asset = await fetch(`${platform.url}${script}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    const clientRoute = await fetch(`${platform.url}/console/tasks/0198f0c2-0000-7000-8000-000000000000`);
    assert.equal(clientRoute.status, 200, 'a client route answers the app');
    assert.equal(await clientRoute.text(), html);
    assert.equal((await fetch(`${platform.url}/console/assets/missing-abc.js`)).status, 404, 'a missing asset is not the app');
    assert.equal((await fetch(`${platform.url}/api/v1/tasks`)).status, 401, 'the API it calls still needs a credential');
    // Its own read endpoints validate like the rest of the API: a 400 naming the field, never a 5xx.
    for (const [query, field] of [
      ['/api/v1/console/tasks?q=%00', 'q'],
      ['/api/v1/console/tasks?cursor=bm9wZQ', 'cursor'],
      ['/api/v1/console/tasks?status=sleeping', 'status'],
      ['/api/v1/console/tasks?limit=0', 'limit'],
      ['/api/v1/console/task-stats?minutes=0', 'minutes'],
    ]) {
      const res = await platform.request('GET', query!, undefined, { authorization: `Bearer ${key}` });
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.equal(res.body.code, 'VALIDATION_FAILED');
      assert.ok(res.body.details.some((d: { field: string }) => d.field === field), `${query}: ${res.text}`);
    }
  });

  it('signs in with an API key (a wrong one is refused)', async () => {
    await page.goto('/console/');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await shot('01-login');
    await page.getByLabel('API key or token').fill('rk_not-a-real-key-000000000000000000000000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'unknown or revoked' }).waitFor();
    await page.getByLabel('API key or token').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByText('ops-console').waitFor();
    await page.getByText('role admin').waitFor();
  });

  it('creates a roadmap with review required, revises and approves it, follows its progress and opens its content', async () => {
    await nav('Tasks').click();
    await page.getByRole('button', { name: 'New roadmap' }).click();
    await page.getByLabel('Goal').fill('Become a backend engineer with the console');
    assert.equal(await page.getByLabel(/reviews the framework/).isChecked(), true, 'review is asked for by default');
    await page.getByRole('button', { name: 'Create roadmap' }).click();

    // The task page: the framework is designed, then waits for a person.
    await badge('h1', 'awaiting review').waitFor();
    await page.getByRole('heading', { name: 'Review the framework' }).waitFor();
    await page.getByText(/Revision \d+ \((design|validation)\)/).waitFor();
    await page.getByText('curriculum design').first().waitFor();
    await shot('03-task-awaiting-review');

    await page.getByPlaceholder(/What should change/).fill('Add a module on GraphQL APIs');
    await page.getByRole('button', { name: 'Request revision' }).click();
    await page.getByText(/Revision \d+ \(review: “Add a module on GraphQL APIs”\)/).waitFor();
    await badge('h1', 'awaiting review').waitFor();
    await shot('04-task-revision-diff');

    await page.getByRole('button', { name: 'Approve' }).click();
    await badge('h1', 'completed').waitFor();
    const task = (await platform.query<{ id: string; progress_done: number; progress_total: number; roadmap_id: string }>(
      `SELECT id, progress_done, progress_total, roadmap_id FROM tasks WHERE status = 'completed'`,
    ))[0]!;
    assert.ok(task.progress_total > 0 && task.progress_done === task.progress_total);
    // What the page shows: the full progress bar, every item completed, the live events and the steps.
    await page.locator('.progress-label', { hasText: `${task.progress_total}/${task.progress_total}` }).first().waitFor();
    await page.getByText(/Live events \(\d+\)/).waitFor();
    await page.getByText('task.completed').waitFor();
    const itemBadges = page.locator('table.concepts td .badge');
    await eventually(async () => (await itemBadges.allTextContents()).length === task.progress_total || undefined, 20_000, 'every item on the page');
    assert.deepEqual([...new Set(await itemBadges.allTextContents())], ['completed']);
    await page.locator('.logs tbody tr').first().waitFor();
    // Every LLM call of the task, with the usage they add up to.
    const llm = page.locator('section.card', { has: page.getByRole('heading', { name: 'LLM calls and usage' }) });
    await llm.getByText('curriculum_design').first().waitFor();
    await llm.locator('.usage').getByText('input tokens').waitFor();
    await shot('05-task-completed');

    // A concept's content, as the learner gets it.
    const [concept] = await platform.query<{ id: string; title: string }>(`SELECT id, title FROM concepts WHERE roadmap_id = $1 ORDER BY position LIMIT 1`, [
      task.roadmap_id,
    ]);
    const { body: roadmap } = await platform.request('GET', `/api/v1/roadmaps/${task.roadmap_id}`, undefined, { authorization: `Bearer ${key}` });
    const content = roadmap.stages.flatMap((s: any) => s.concepts).find((c: any) => c.id === concept!.id).content;
    await page.locator('table.concepts').getByRole('link', { name: concept!.title, exact: true }).click();
    await page.locator('#content').getByText(content.tutorial.content.title).first().waitFor();
    await page.locator('#content').getByText(content.quiz.content.questions[0].question).first().waitFor();
    await page.locator('#content').screenshot({ path: join(CONSOLE_SHOTS, '06-concept-content.png') });

    // Regenerating one item: accepted, then the task completes again with one more item event.
    const eventsBefore = Number(/\((\d+)\)/.exec((await page.getByText(/Live events \(\d+\)/).textContent()) ?? '')?.[1]);
    await page.getByRole('button', { name: `Retry quiz of ${concept!.title}` }).click();
    await page.getByRole('status').filter({ hasText: `Regenerating the quiz of “${concept!.title}”` }).waitFor();
    await eventually(async () => {
      const text = (await page.getByText(/Live events \(\d+\)/).textContent()) ?? '';
      return (Number(/\((\d+)\)/.exec(text)?.[1]) > eventsBefore && (await badge('h1', 'completed').isVisible())) || undefined;
    }, 30_000, 'the item regenerated and the task completed again');
  });

  it('lists and searches tasks, and cancels another roadmap from its page', async () => {
    const created = await platform.request(
      'POST',
      '/api/v1/roadmaps',
      { goal: 'Learn Rust to cancel it', review: 'required' },
      { authorization: `Bearer ${key}` },
    );
    assert.equal(created.status, 202, created.text);
    await eventually(async () => {
      const res = await platform.request('GET', `/api/v1/tasks/${created.body.taskId}`, undefined, { authorization: `Bearer ${key}` });
      return res.body?.status === 'awaiting_review' || undefined;
    }, 60_000, 'the second roadmap awaiting review');

    await nav('Tasks').click();
    await page.getByPlaceholder('Search goal or id…').fill('Rust');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const row = page.locator('table.tasks tbody tr');
    await eventually(async () => ((await row.count()) === 1 && (await row.first().textContent())?.includes('Learn Rust to cancel it')) || undefined, 20_000, 'the search result');
    await badge('table.tasks', 'awaiting review').waitFor();
    await shot('07-tasks-search');
    await page.getByPlaceholder('Search goal or id…').fill('');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await eventually(async () => ((await row.count()) === 2) || undefined, 20_000, 'both tasks listed');
    await badge('table.tasks', 'completed').waitFor();
    await shot('08-tasks');

    await page.getByRole('link', { name: 'Learn Rust to cancel it' }).click();
    await badge('h1', 'awaiting review').waitFor();
    await page.getByRole('button', { name: 'Cancel task' }).click();
    await page.getByRole('status').filter({ hasText: 'Task cancelled' }).waitFor();
    await badge('h1', 'cancelled').waitFor();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    await shot('09-task-cancelled');
    const after = await platform.request('GET', `/api/v1/tasks/${created.body.taskId}`, undefined, { authorization: `Bearer ${key}` });
    assert.equal(after.body.status, 'cancelled');
  });

  it('shows a dead letter with its payload, replays it (it dead-letters again), and discards it', async () => {
    await messaging.js.publish(messaging.subject('content.generate.normal.quiz'), 'not json at all');
    await nav('Dead letters').click();
    const rows = page.locator('table.dead-letters tbody tr');
    await eventually(async () => (await rows.count()) === 1 || undefined, 30_000, 'the dead letter listed (the page refreshes every 5 s)');
    await rows.first().getByText(/^invalid_message: /).waitFor();
    await rows.first().click();
    await page.locator('pre.payload', { hasText: 'not json at all' }).waitFor();
    await shot('10-dead-letter');

    await page.getByRole('button', { name: 'Replay' }).click();
    await page.getByRole('status').filter({ hasText: 'Replayed onto its subject (1 replay so far)' }).waitFor();
    await badge('table.dead-letters', 'replayed').waitFor();
    // Still not JSON: the worker dead-letters it again, and the list shows the second one.
    await eventually(async () => (await rows.count()) === 2 || undefined, 30_000, 'the replayed message dead-lettered again');
    await shot('11-dead-letter-replayed');

    // Discarding it: kept for audit, out of the open list, not replayable any more.
    await page.getByRole('button', { name: 'Discard' }).click();
    await page.getByRole('status').filter({ hasText: 'Discarded' }).waitFor();
    await badge('section.card dl', 'discarded').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Replay' }).isDisabled(), true);
    await eventually(async () => (await rows.count()) === 1 || undefined, 20_000, 'the discarded one out of the open list');
    await page.locator('select[name=state]').selectOption('discarded');
    await eventually(async () => ((await rows.count()) === 1 && (await badge('table.dead-letters', 'discarded').count()) === 1) || undefined, 20_000, 'the discarded list');
    await shot('12-dead-letter-discarded');
  });

  it('gives an overview: tasks of the last hour by status, streams, workers and maintenance', async () => {
    await nav('Overview').click();
    const tile = (status: string) => page.locator('.tile', { has: page.locator('.badge', { hasText: new RegExp(`^${status}$`) }) }).locator('.tile-count');
    await eventually(async () => ((await tile('completed').textContent()) === '1' && (await tile('cancelled').textContent()) === '1') || undefined, 20_000, 'the counts');
    assert.equal(await tile('failed').textContent(), '0');
    await page.getByRole('heading', { name: 'Streams' }).waitFor();
    await page.getByRole('heading', { name: 'Workers' }).waitFor();
    // Each admin section shows its table, or says the endpoint is not there: never a blank page.
    for (const [path, heading] of [
      ['/api/v1/admin/queues', 'Streams'],
      ['/api/v1/admin/workers', 'Workers'],
      ['/api/v1/admin/maintenance', 'Maintenance'],
    ] as const) {
      const res = await platform.request('GET', path, undefined, { authorization: `Bearer ${key}` });
      const card = page.locator('section.card', { has: page.getByRole('heading', { name: heading, exact: true }) });
      if (res.status === 404) await card.getByText('is not available on this gateway').waitFor();
      else await card.locator('table').first().waitFor();
    }
    await shot('02-overview');
  });

  it('shows a batch with its children, each with its state and a link to its own page, which names its parent', async () => {
    const created = await platform.request(
      'POST',
      '/api/v1/tasks',
      { type: 'roadmap.batch', input: { goals: ['Learn Go for the console', 'Learn SQL for the console'] } },
      { authorization: `Bearer ${key}` },
    );
    assert.equal(created.status, 202, created.text);
    await page.goto(`/console/tasks/${created.body.taskId}`);
    const children = page.locator('#children');
    await children.getByText('Children (2)').waitFor();
    const rows = children.locator('tbody tr');
    await eventually(async () => ((await rows.count()) === 2) || undefined, 20_000, 'both children listed');
    await badge('h1', 'completed').waitFor();
    await eventually(async () => ((await children.locator('.badge', { hasText: /^completed$/ }).count()) === 2) || undefined, 20_000, 'both children completed');
    await children.getByText('2 completed').waitFor();
    await shot('13-batch-children');
    await rows.first().getByRole('link').click();
    await page.locator('dt', { hasText: /^parent$/ }).waitFor();
    await page.locator('dd a', { hasText: created.body.taskId.slice(0, 8) }).waitFor();
  });
});
