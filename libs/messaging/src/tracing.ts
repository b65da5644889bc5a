/*
 * Trace context across NATS: the publisher injects W3C `traceparent`/`tracestate` headers from a
 * PRODUCER span, the server runs each handler in a CONSUMER span whose parent is the extracted
 * context (a batch links every message's context instead). Attribute names follow the OpenTelemetry
 * messaging semantic conventions. Without the SDK, publishing and handling skip all of it.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, trace, type Attributes, type Context, type Link, type Span, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import type { JsMsg } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/nats-core';
import { failSpan, tracer, tracingActive } from '@roadmap/observability';

/** Attribute keys of the messaging conventions (and the NATS-specific ones, namespaced like other systems'). */
export const MessagingAttributes = {
  system: 'messaging.system',
  destination: 'messaging.destination.name',
  destinationTemplate: 'messaging.destination.template',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  consumerGroup: 'messaging.consumer.group.name',
  messageId: 'messaging.message.id',
  bodySize: 'messaging.message.body.size',
  batchCount: 'messaging.batch.message_count',
  /** No generic convention exists; named like `messaging.gcp_pubsub.message.delivery_attempt`. */
  deliveryCount: 'messaging.nats.message.delivery_count',
  streamSequence: 'messaging.nats.message.stream_sequence',
} as const;

const setter: TextMapSetter<MsgHdrs> = {
  set: (carrier, key, value) => carrier.set(key, value),
};
const getter: TextMapGetter<MsgHdrs | undefined> = {
  // MsgHdrs.get answers '' for a missing key; the propagators expect undefined.
  get: (carrier, key) => carrier?.get(key) || undefined,
  keys: (carrier) => carrier?.keys() ?? [],
};

/** Writes the trace context of `ctx` (default: the active one) into NATS headers. */
export function injectTraceContext(headers: MsgHdrs, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, setter);
}

/**
 * The active trace context as a plain record (`traceparent`, `tracestate`), for a message that is
 * published later by another process (the outbox); undefined when there is none.
 */
export function captureTraceContext(): Record<string, string> | undefined {
  if (!tracingActive()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length ? carrier : undefined;
}

/** Runs `work` inside the trace context `carrier` captured ({@link captureTraceContext}): its publish continues that trace. */
export function withCapturedTraceContext<T>(carrier: Record<string, string> | null | undefined, work: () => T): T {
  if (!carrier) return work();
  return context.with(propagation.extract(ROOT_CONTEXT, carrier), work);
}

/** The trace context a message's headers carry (the root context when they carry none). */
export function extractTraceContext(headers: MsgHdrs | undefined): Context {
  return propagation.extract(ROOT_CONTEXT, headers, getter);
}

/**
 * Runs a publish inside a PRODUCER span (`send <subject>`) and injects that span's context into
 * `headers` first, so the consumer's span becomes its child.
 */
export function tracePublish<T>(subject: string, headers: MsgHdrs, msgId: string | undefined, bodySize: number, send: () => Promise<T>): Promise<T> {
  if (!tracingActive()) return send();
  const attributes: Attributes = {
    [MessagingAttributes.system]: 'nats',
    ...destination(subject),
    [MessagingAttributes.operationType]: 'send',
    [MessagingAttributes.operationName]: 'send',
    [MessagingAttributes.bodySize]: bodySize,
  };
  if (msgId !== undefined) attributes[MessagingAttributes.messageId] = msgId;
  return tracer().startActiveSpan(`send ${subjectTemplate(subject)}`, { kind: SpanKind.PRODUCER, attributes }, (span) => {
    injectTraceContext(headers);
    return runIn(span, send);
  });
}

/** What the consumer span needs of the route a message came from. */
export interface ConsumerRouteInfo {
  readonly durable: string;
  logicalSubject(actual: string): string;
}

/**
 * Runs a handler for one message inside a CONSUMER span (`process <subject>`) whose parent is the
 * context the publisher injected, so the trace continues across the process boundary.
 */
export function traceProcess<T>(route: ConsumerRouteInfo, message: JsMsg, run: () => Promise<T>): Promise<T> {
  if (!tracingActive()) return run();
  const subject = route.logicalSubject(message.subject);
  const attributes: Attributes = {
    ...consumerAttributes(route, subject),
    [MessagingAttributes.messageId]: messageId(message),
    [MessagingAttributes.deliveryCount]: message.info.deliveryCount,
    [MessagingAttributes.streamSequence]: message.info.streamSequence,
    [MessagingAttributes.bodySize]: message.data.length,
  };
  const parent = extractTraceContext(message.headers);
  return tracer().startActiveSpan(`process ${subjectTemplate(subject)}`, { kind: SpanKind.CONSUMER, attributes }, parent, (span) => runIn(span, run));
}

/**
 * Runs a batch handler inside one CONSUMER span that starts a trace of its own and links every
 * message's context (a batch has many parents; the conventions link them).
 */
export function traceProcessBatch<T>(route: ConsumerRouteInfo, messages: readonly JsMsg[], run: () => Promise<T>): Promise<T> {
  if (!tracingActive()) return run();
  const subjects = new Set(messages.map((m) => route.logicalSubject(m.subject)));
  const subject = subjects.size === 1 ? [...subjects][0] : undefined;
  const attributes: Attributes = { ...consumerAttributes(route, subject), [MessagingAttributes.batchCount]: messages.length };
  const links: Link[] = [];
  for (const m of messages) {
    const linked = trace.getSpanContext(extractTraceContext(m.headers));
    if (linked) links.push({ context: linked, attributes: { [MessagingAttributes.messageId]: messageId(m) } });
  }
  const name = subject ? `process ${subjectTemplate(subject)}` : 'process';
  return tracer().startActiveSpan(name, { kind: SpanKind.CONSUMER, attributes, links, root: true }, ROOT_CONTEXT, (span) => runIn(span, run));
}

function consumerAttributes(route: ConsumerRouteInfo, subject: string | undefined): Attributes {
  const attributes: Attributes = {
    [MessagingAttributes.system]: 'nats',
    [MessagingAttributes.operationType]: 'process',
    [MessagingAttributes.operationName]: 'process',
    [MessagingAttributes.consumerGroup]: route.durable,
  };
  return subject === undefined ? attributes : { ...attributes, ...destination(subject) };
}

/** An id token of a subject (`events.task.<uuid>`): span names must not have one value per task. */
const ID_TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The subject with its id tokens as NATS wildcards: `events.task.*`. */
export function subjectTemplate(subject: string): string {
  return subject
    .split('.')
    .map((token) => (ID_TOKEN.test(token) ? '*' : token))
    .join('.');
}

/** `messaging.destination.name`, plus the template when the subject carries an id (the conventions' choice for span names). */
function destination(subject: string): Attributes {
  const template = subjectTemplate(subject);
  return template === subject
    ? { [MessagingAttributes.destination]: subject }
    : { [MessagingAttributes.destination]: subject, [MessagingAttributes.destinationTemplate]: template };
}

/** The publisher's `Nats-Msg-Id`, or the stream and sequence that identify the message otherwise. */
function messageId(message: JsMsg): string {
  return message.headers?.get('Nats-Msg-Id') || `${message.info.stream}:${message.info.streamSequence}`;
}

/** Ends `span` when `run` settles, marking it failed by a rejection. */
async function runIn<T>(span: Span, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}
