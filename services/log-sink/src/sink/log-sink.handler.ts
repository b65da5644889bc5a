import { Inject, Injectable } from '@nestjs/common';
import { CONSUMERS, LogBatchSchema, type LogBatch } from '@roadmap/contracts';
import { JetStreamBatchHandler } from '@roadmap/messaging';
import { counter, histogram } from '@roadmap/observability';
import { LogRepository } from './log.repository.js';

const batchSize = histogram('roadmap_log_sink_batch_size', 'Entries per written batch', [], [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000]);
const flushDuration = histogram('roadmap_log_sink_flush_duration_seconds', 'Time to write one batch', []);
const rowsWritten = counter('roadmap_log_sink_rows_written_total', 'Execution-log rows inserted (duplicates skipped)', []);

/** Batches of execution-log entries from the LOGS stream into PostgreSQL, acked after commit. */
@Injectable()
export class LogSinkHandler {
  constructor(@Inject(LogRepository) private readonly repository: LogRepository) {}

  @JetStreamBatchHandler({
    consumer: CONSUMERS.logSink,
    schema: LogBatchSchema,
    // Defaults (in messages, each holding a producer's batch of entries); LOG_SINK_BATCH_SIZE and
    // LOG_SINK_FLUSH_MS override them through the server options.
    maxBatch: 100,
    maxWaitMs: 100,
  })
  async write(batches: LogBatch[]): Promise<void> {
    const started = performance.now();
    const inserted = await this.repository.insertBatches(batches);
    flushDuration.observe((performance.now() - started) / 1000);
    let entries = 0;
    for (const b of batches) entries += b.entries.length;
    batchSize.observe(entries);
    rowsWritten.inc(inserted);
  }
}
