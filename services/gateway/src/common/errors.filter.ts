import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { AppError, type ErrorCode, type FieldIssue } from '@roadmap/contracts';
import type { Logger } from '@roadmap/observability';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * A field at fault as the API returns it: `path` (the name the OpenAPI document gives it) and `field`
 * (the same value, kept for clients written before the document).
 */
export interface FieldIssueBody extends FieldIssue {
  readonly path: string;
}

/** The one JSON shape of every error the API returns. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: readonly FieldIssueBody[];
  requestId?: string;
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'ROUTE_NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/** Fastify's own errors (body parsing, limits) by their code. */
const FASTIFY_ERRORS: Record<string, { status: number; code: ErrorCode; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than the limit' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'Send the body as application/json',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'INVALID_JSON', message: 'The JSON body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON', message: 'The body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'VALIDATION_FAILED', message: 'Content-Length does not match the body' },
};

/**
 * Maps every error to HTTP in one place: the platform's AppErrors keep their status and code,
 * framework errors get a stable code, and anything unexpected is a logged 500 that leaks nothing.
 */
@Catch()
export class ErrorsFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const { status, body, retryAfterMs } = this.toResponse(error);
    body.requestId = request?.id;
    if (status >= 500 && !(error instanceof AppError)) {
      this.logger.error({ err: error, method: request?.method, url: request?.url }, 'unhandled error');
    }
    if (retryAfterMs !== undefined) void reply.header('Retry-After', Math.max(1, Math.ceil(retryAfterMs / 1000)));
    if (status === 401) void reply.header('WWW-Authenticate', 'Bearer realm="roadmap"');
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  }

  private toResponse(error: unknown): { status: number; body: ErrorBody; retryAfterMs?: number } {
    if (error instanceof AppError) {
      return {
        status: error.status,
        body: {
          code: error.code,
          message: error.message,
          ...(error.details.length ? { details: error.details.map((d) => ({ path: d.field, field: d.field, message: d.message })) } : {}),
        },
        retryAfterMs: error.status === 503 || error.status === 429 ? error.retryAfterMs : undefined,
      };
    }
    // Nest's Fastify adapter wraps Fastify's own errors in an HttpException whose cause is the original.
    const fastifyCode = (error as { code?: unknown })?.code ?? ((error as { cause?: { code?: unknown } })?.cause?.code);
    if (typeof fastifyCode === 'string' && FASTIFY_ERRORS[fastifyCode]) {
      const known = FASTIFY_ERRORS[fastifyCode];
      return { status: known.status, body: { code: known.code, message: known.message } };
    }
    if (error instanceof SyntaxError || (error as { type?: string })?.type === 'entity.parse.failed') {
      return { status: 400, body: { code: 'INVALID_JSON', message: 'The body is not valid JSON' } };
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      const code = CODE_BY_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'VALIDATION_FAILED');
      const message = status === 404 ? 'No such route' : error.message;
      return { status, body: { code, message } };
    }
    const status = (error as { statusCode?: unknown })?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return { status, body: { code: CODE_BY_STATUS[status] ?? 'VALIDATION_FAILED', message: (error as Error).message } };
    }
    return { status: 500, body: { code: 'INTERNAL', message: 'Internal error; it has been logged' } };
  }
}

/**
 * Fastify's own answers to a request it cannot route (a path that is not valid percent-encoding:
 * FST_ERR_BAD_URL) never reach the filter above: this handler (the `frameworkErrors` option) gives
 * them the one error shape too.
 */
export function frameworkError(
  error: { code?: string; message: string },
  request: { id: string },
  reply: { status(code: number): { header(name: string, value: string): { send(body: unknown): unknown } } },
): void {
  const body: ErrorBody = {
    code: 'VALIDATION_FAILED',
    message: error.code === 'FST_ERR_BAD_URL' ? 'The URL is not valid: a path segment is not correctly percent-encoded' : error.message,
    requestId: request.id,
  };
  void reply.status(400).header('content-type', 'application/json; charset=utf-8').send(body);
}
