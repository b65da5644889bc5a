/*
 * @roadmap/messaging: the NATS JetStream layer. One connection per process (Messaging), idempotent
 * provisioning of contracts' streams and consumers, a publisher that waits for the stream's ack, and
 * a NestJS transport (JetStreamServer + @JetStreamHandler) that turns durable pull consumers into
 * handler calls with ack / retry / dead-letter semantics.
 */
export { Messaging, type MessagingOptions, type NatsAuthOptions } from './messaging.js';
export { Namespace } from './namespace.js';
export { retryWhileElecting, isNoResponders, ELECTION_BUDGET_MS } from './elections.js';
export {
  provision,
  deprovision,
  assertProvisioned,
  streamConfig,
  consumerConfig,
  type ProvisionAction,
  type ProvisionEntry,
  type ProvisionOptions,
  type ProvisionReport,
  type StreamLimits,
} from './provision.js';
export {
  kvBuckets,
  kvStreamName,
  rateBucketAgeMs,
  cacheBucketAgeMs,
  LLM_BUCKET_NAMES,
  API_RATE_BUCKET,
  API_RATE_BUCKET_AGE_MS,
  OWNERS_BUCKET_AGE_MS,
  CACHE_MAX_VALUE_BYTES,
  type KvBucketDeclaration,
  type KvBucketSettings,
} from './kv-buckets.js';
export { MemoryKvStore, NatsKvStore, openBucket, kvToken, type KvStore, type KvValue, type KvNatsHandle, type BucketOptions } from './kv-store.js';
export {
  JetStreamPublisher,
  PUBLISH_MANY_IN_FLIGHT,
  toPublishError,
  type PublishItem,
  type PublishOptions,
  type PublishResult,
} from './publisher.js';
export { JetStreamContext, JetStreamBatchContext } from './context.js';
export {
  JetStreamHandler,
  JetStreamBatchHandler,
  JETSTREAM_TRANSPORT,
  type JetStreamHandlerOptions,
  type PayloadOf,
  type JetStreamBatchHandlerOptions,
  type JetStreamHandlerMethod,
  type JetStreamBatchHandlerMethod,
} from './decorators.js';
export { JetStreamServer } from './server.js';
export { TimeLimitExceeded, type JetStreamServerOptions, type TimeLimits, type RouteSnapshot } from './server-options.js';
export { MessagingModule } from './module.js';
export {
  ConsumerControl,
  CONTROL_BUCKET,
  effectiveConcurrency,
  openControlBucket,
  type ConcurrencyControl,
  type ControlStamp,
  type ControlState,
} from './control.js';
export { JetStreamHandlerExplorer } from './explorer.js';
export { retryDelayMs, RETRY_BASE_MS, RETRY_CAP_MS, RETRY_AFTER_MAX_MS, type RetryDelayOptions } from './backoff.js';
export type { DeadLetterCode, Outcome } from './metrics.js';
export { injectTraceContext, extractTraceContext, captureTraceContext, withCapturedTraceContext, MessagingAttributes } from './tracing.js';
