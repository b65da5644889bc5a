import 'reflect-metadata';
import { Catch, UseFilters, type ArgumentsHost, type RpcExceptionFilter } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { PARAM_ARGS_METADATA } from '@nestjs/microservices/constants.js';
import type { ConsumerDeclaration } from '@roadmap/contracts';
import { throwError, type Observable } from 'rxjs';
import type { z } from 'zod';
import type { JetStreamBatchContext, JetStreamContext } from './context.js';

/** Transport id of {@link JetStreamServer}: its handlers are never bound to another Nest transport. */
export const JETSTREAM_TRANSPORT: unique symbol = Symbol.for('@roadmap/messaging:jetstream');

/** Metadata key (on the method) holding the handler's {@link HandlerSpec}. */
export const JETSTREAM_HANDLER_METADATA = '@roadmap/messaging:handler';

/** Key of the handler's declaration in Nest's pattern extras. */
export const JETSTREAM_EXTRAS_KEY = 'jetstream';

export interface SingleHandlerSpec {
  readonly kind: 'single';
  readonly consumer: ConsumerDeclaration;
  /** null: the raw payload (see {@link JetStreamHandlerOptions.schema}). */
  readonly schema: z.ZodType | null;
  /** Whether a message that fails for good is dead-lettered (see {@link JetStreamHandlerOptions.deadLetter}). */
  readonly deadLetter: boolean;
}

export interface BatchHandlerSpec {
  readonly kind: 'batch';
  readonly consumer: ConsumerDeclaration;
  readonly schema: z.ZodType | null;
  readonly deadLetter: boolean;
  readonly maxBatch: number;
  readonly maxWaitMs: number;
}

export type HandlerSpec = SingleHandlerSpec | BatchHandlerSpec;

/** Options of {@link JetStreamHandler}. */
export interface JetStreamHandlerOptions<S extends z.ZodType | null> {
  /** The durable consumer to pull from (one of contracts' CONSUMERS). */
  readonly consumer: ConsumerDeclaration;
  /**
   * Validates every payload (JSON, then the schema); an invalid message is dead-lettered without
   * reaching the handler. `null` takes the message as it is: the handler gets its bytes
   * (`Uint8Array`, no JSON parse, nothing is invalid), for consumers whose messages may be anything,
   * such as the dead-letter stream's (the context still gives headers, subject and sequence).
   */
  readonly schema: S;
  /**
   * Default true. False: a message that fails for good (permanent error, last delivery, hard time
   * limit, invalid payload) is terminated and logged, not published to the dead-letter stream. For
   * the dead-letter consumer itself, where dead-lettering a dead letter would feed it back to itself.
   * Counted as `outcome="terminated"` in roadmap_messaging_messages_total; a stream that keeps
   * messages (limits retention, as DEAD_LETTERS) still holds it.
   */
  readonly deadLetter?: boolean;
}

/** The payload a handler gets for schema `S`: the parsed value, or the raw bytes for `schema: null`. */
export type PayloadOf<S extends z.ZodType | null> = S extends z.ZodType ? z.output<S> : Uint8Array;

/** Options of {@link JetStreamBatchHandler}. */
export interface JetStreamBatchHandlerOptions<S extends z.ZodType | null> extends JetStreamHandlerOptions<S> {
  /** A batch is handed over as soon as it holds this many messages... */
  readonly maxBatch: number;
  /** ...or its oldest message has waited this long. */
  readonly maxWaitMs: number;
}

/** Signature a `@JetStreamHandler` method must have. */
export type JetStreamHandlerMethod<T> = (payload: T, ctx: JetStreamContext) => unknown;
/** Signature a `@JetStreamBatchHandler` method must have: payloads and contexts share their order. */
export type JetStreamBatchHandlerMethod<T> = (items: T[], batch: JetStreamBatchContext) => unknown;

/** A method decorator that checks the decorated method's signature against `M` (generic, since descriptors are invariant). */
export type TypedMethodDecorator<M> = <F extends M>(target: object, key: string | symbol, descriptor: TypedPropertyDescriptor<F>) => void;

/**
 * Hands handler failures to the JetStream server unchanged. Nest's default RPC filter would log the
 * error and replace it with `{ status: 'error' }`, losing `retryable` and `retryAfterMs`, which
 * decide between ack, retry and dead letter; the server logs each failure once itself.
 */
@Catch()
class PassThroughErrors implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}
const passThroughErrors = new PassThroughErrors();

function compose<M>(spec: HandlerSpec): TypedMethodDecorator<M> {
  return (target, key, descriptor) => {
    // Parameter decorators run before method decorators: when the method has none, pass
    // (payload, ctx) so `handle(payload, ctx)` works without `@Payload()` / `@Ctx()`.
    if (Reflect.getMetadata(PARAM_ARGS_METADATA, target.constructor, key) === undefined) {
      Payload()(target, key, 0);
      Ctx()(target, key, 1);
    }
    // The generic overload (pattern, transport, extras) returns a plain MethodDecorator.
    const method = EventPattern(spec.consumer.durable, JETSTREAM_TRANSPORT, { [JETSTREAM_EXTRAS_KEY]: spec }) as unknown as MethodDecorator;
    method(target, key, descriptor);
    UseFilters(passThroughErrors)(target, key, descriptor);
    // Marks the method for MessagingModule's explorer, which binds handlers declared on providers.
    Reflect.defineMetadata(JETSTREAM_HANDLER_METADATA, spec, descriptor.value as object);
  };
}

/**
 * Makes a method of a controller the handler of one durable consumer. Nest discovers it (the class
 * must be listed in a module's `controllers`), the {@link JetStreamServer} pulls the consumer and
 * calls the method once per message with the schema-parsed payload and a {@link JetStreamContext}:
 *
 * ```ts
 * @JetStreamHandler({ consumer: CONSUMERS.contentWorker, schema: ContentGenerateMessageSchema })
 * async handle(payload: ContentGenerateMessage, ctx: JetStreamContext) { ... }
 * ```
 *
 * Resolving acks the message. Throwing a retryable error (or any non-AppError) redelivers it with
 * backoff until the consumer's `maxDeliver`; a non-retryable AppError dead-letters it at once.
 * `schema: null` hands over the raw bytes; `deadLetter: false` terminates instead of dead-lettering.
 */
export function JetStreamHandler<S extends z.ZodType | null>(opts: JetStreamHandlerOptions<S>): TypedMethodDecorator<JetStreamHandlerMethod<PayloadOf<S>>> {
  return compose({ kind: 'single', consumer: opts.consumer, schema: opts.schema, deadLetter: opts.deadLetter ?? true });
}

/**
 * Like {@link JetStreamHandler}, but the method receives batches: `(items: T[], batch:
 * JetStreamBatchContext)` where `items[i]` is the parsed payload of `batch.messages[i]`. A batch is
 * handed over when `maxBatch` messages are buffered or the oldest waited `maxWaitMs`. All its messages
 * are acked when the method resolves; on a retryable failure all are retried with backoff. Invalid
 * messages are dead-lettered one by one and never reach the method.
 */
export function JetStreamBatchHandler<S extends z.ZodType | null>(
  opts: JetStreamBatchHandlerOptions<S>,
): TypedMethodDecorator<JetStreamBatchHandlerMethod<PayloadOf<S>>> {
  if (!(Number.isInteger(opts.maxBatch) && opts.maxBatch >= 1)) throw new RangeError(`maxBatch must be a positive integer, got ${opts.maxBatch}`);
  if (!(opts.maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be >= 0, got ${opts.maxWaitMs}`);
  return compose({
    kind: 'batch',
    consumer: opts.consumer,
    schema: opts.schema,
    deadLetter: opts.deadLetter ?? true,
    maxBatch: opts.maxBatch,
    maxWaitMs: opts.maxWaitMs,
  });
}
