import { counter, gauge, histogram } from '@roadmap/observability';

/*
 * Messaging metrics, registered once in the process registry (the helpers return the existing metric
 * when a lib is loaded twice). Label values are logical names, never namespaced ones.
 */

/** How a message left the handler. */
export type Outcome = 'ack' | 'retry' | 'dead_letter';

/** Why a message was dead-lettered; the metric label and the first word of the reason header. */
export type DeadLetterCode = 'invalid_message' | 'permanent_error' | 'max_deliver' | 'time_limit';

export const handlerDuration = histogram(
  'roadmap_messaging_handler_duration_seconds',
  'Time a JetStream handler took per message (per batch for batch handlers), by outcome',
  ['consumer', 'subject', 'outcome'],
);

export const queueWait = histogram(
  'roadmap_messaging_queue_wait_seconds',
  'Time from publish to the first delivery of a message to a handler',
  ['consumer'],
);

export const messagesTotal = counter('roadmap_messaging_messages_total', 'Messages handled, by outcome', ['consumer', 'outcome']);

export const deadLettersTotal = counter(
  'roadmap_messaging_dead_letters_total',
  'Messages moved to the dead-letter stream, by reason',
  ['stream', 'reason'],
);

export const publishDuration = histogram(
  'roadmap_messaging_publish_duration_seconds',
  'Time from publish to the JetStream publish ack',
  ['stream'],
);

export const outageRetries = counter(
  'roadmap_messaging_outage_retries_total',
  'Handler runs retried in place because infrastructure was briefly unreachable',
  ['consumer'],
);

export const timeLimitsTotal = counter(
  'roadmap_messaging_time_limits_total',
  'Handler runs that passed their soft time limit (signal aborted) or hard one (given up)',
  ['consumer'],
);

export const consumerPaused = gauge(
  'roadmap_messaging_consumer_paused',
  'Whether an operator paused the consumer (1) in this process: it pulls and starts nothing new',
  ['consumer'],
);

export const consumerConcurrency = gauge('roadmap_messaging_consumer_concurrency', 'Handler slots of the consumer in this process (operator controls applied)', ['consumer']);
