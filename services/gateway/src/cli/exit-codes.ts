/**
 * Exit codes of the CLI, stable for scripts:
 *
 * | code | meaning |
 * |---|---|
 * | 0 | done (for `--follow`: the task completed) |
 * | 1 | the operation failed: the task failed or was cancelled, the action does not fit the task's state (409), a server error |
 * | 2 | usage error: unknown command or option, a bad value (also a 400 from the API) |
 * | 3 | not found: no such task, roadmap, concept or dead letter (404) |
 * | 4 | authentication or permission: no API key, a key that is unknown or revoked (401), not an admin (403) |
 * | 5 | the server is unavailable: cannot connect, timed out, or 502/503/504 |
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  auth: 4,
  unavailable: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the CLI with its exit code and message (printed to stderr). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}

/** The exit code an HTTP error status means. */
export function exitCodeOfStatus(status: number): ExitCode {
  if (status === 400 || status === 413 || status === 415) return ExitCode.usage;
  if (status === 401 || status === 403) return ExitCode.auth;
  if (status === 404) return ExitCode.notFound;
  if (status === 502 || status === 503 || status === 504) return ExitCode.unavailable;
  return ExitCode.failed;
}
