import { Inject, Injectable } from '@nestjs/common';
import { AppError, CALLBACK_EVENTS } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { DataSource, type EntityManager } from 'typeorm';
import { assertWebhookUrlAllowed } from './url-check.js';
import { WEBHOOKS_OPTIONS, type WebhooksOptions } from './webhooks.service.js';

/** One accepted task's callback, written with the task. */
export interface NewTaskCallback {
  taskId: string;
  owner: string;
  url: string;
}

/**
 * `callbackUrl` on POST /roadmaps and POST /tasks. A callback is a webhook of one task (a `webhooks`
 * row with `task_id`, its id the task's), so the webhook worker fans its events out and delivers them
 * like a registered endpoint's. It has no secret of its own: deliveries are signed with the owner's
 * default secret, the one of their oldest registered webhook, read when each is sent.
 */
@Injectable()
export class TaskCallbacks {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(WEBHOOKS_OPTIONS) private readonly options: WebhooksOptions,
  ) {}

  /**
   * Refuses a callback before anything is written: a URL webhooks may not reach (400
   * WEBHOOK_URL_FORBIDDEN), or an owner without a registered webhook, whose secret would sign it
   * (422 WEBHOOK_SECRET_MISSING).
   */
  async check(owner: string, url: string): Promise<void> {
    await assertWebhookUrlAllowed(url, this.options.allowPrivate, 'callbackUrl');
    const { rows } = await sql(this.dataSource, `SELECT 1 FROM webhooks WHERE owner = $1 AND task_id IS NULL LIMIT 1`, [owner]);
    if (rows.length === 0) {
      throw new AppError(
        'WEBHOOK_SECRET_MISSING',
        'A callbackUrl is signed with your default webhook secret, and you have none: register a webhook (POST /api/v1/webhooks) first',
        { status: 422, details: [{ field: 'callbackUrl', message: 'no webhook registered: no secret to sign with' }] },
      );
    }
  }

  /** Writes the callbacks of accepted tasks in the admission's transaction (one statement). */
  static async insert(em: EntityManager, callbacks: readonly NewTaskCallback[]): Promise<void> {
    if (callbacks.length === 0) return;
    await sql(
      em,
      `INSERT INTO webhooks (id, task_id, owner, url, events, description)
       SELECT x.task_id, x.task_id, x.owner, x.url, $4::text[], 'callbackUrl of task ' || x.task_id
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(task_id, owner, url)`,
      [callbacks.map((c) => c.taskId), callbacks.map((c) => c.owner), callbacks.map((c) => c.url), CALLBACK_EVENTS],
    );
  }
}
