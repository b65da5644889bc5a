#!/usr/bin/env node
import 'reflect-metadata';
import { ConfigError } from '@roadmap/contracts';
import { Command, CommanderError } from 'commander';
import { DEFAULT_API_URL } from './api-client.js';
import { apikeyCommand } from './commands/apikey.js';
import { dlqCommand, queuesCommand, workersCommand } from './commands/admin.js';
import { addQueueControl, addWorkerControl, auditCommand, dlqBulkCommand, tasksBulkCommand } from './commands/control.js';
import { ownersCommand } from './commands/owners.js';
import { roadmapsCommand } from './commands/roadmaps.js';
import { schedulesCommand } from './commands/schedules.js';
import { tasksCommand } from './commands/tasks.js';
import { CliError, ExitCode } from './exit-codes.js';

/*
 * The operator CLI: `npm run cli -- <command>`, or `roadmap <command>` (the gateway package's bin).
 * Commands talk to the HTTP API (ROADMAP_API_URL, ROADMAP_API_KEY), except `apikey`, which works
 * on PostgreSQL directly. Tables by default, --json for scripts, exit codes in exit-codes.ts.
 */

const EXIT_CODES_HELP = `
Exit codes:
  0  done (with --follow: the task completed)
  1  the operation failed (task failed or cancelled, 409 conflict, server error)
  2  usage error (unknown command or option, bad value, 400 from the API)
  3  not found (404)
  4  no API key, or a key that is unknown, revoked or not allowed (401/403)
  5  the server is unavailable (cannot connect, timeout, 502/503/504)

Environment: ROADMAP_API_URL (default ${DEFAULT_API_URL}), ROADMAP_API_KEY; apikey: DATABASE_URL, DATABASE_SCHEMA.`;

function buildProgram(): Command {
  const program = new Command('roadmap')
    .description('Operate the roadmap platform: tasks, roadmaps, queues, workers, dead letters, audit, owner policies, schedules, API keys')
    .option('--api-url <url>', `API base URL (env ROADMAP_API_URL, default ${DEFAULT_API_URL})`)
    .option('--api-key <key>', 'API key or JWT (env ROADMAP_API_KEY)')
    .option('--json', 'print JSON (for scripts) instead of tables', false)
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP);
  const commands = [
    tasksCommand().addCommand(tasksBulkCommand()),
    roadmapsCommand(),
    addQueueControl(queuesCommand()),
    addWorkerControl(workersCommand()),
    dlqCommand().addCommand(dlqBulkCommand()),
    auditCommand(),
    ownersCommand(),
    schedulesCommand(),
    apikeyCommand(),
  ];
  for (const command of commands) {
    program.addCommand(command);
  }
  // Settings of the program hold for every command below it (added commands do not inherit them).
  const configure = (command: Command) => {
    command.exitOverride().showHelpAfterError('(add --help for usage)');
    command.commands.forEach(configure);
  };
  program.commands.forEach(configure);
  return program;
}

/** Runs the CLI and returns its exit code; errors are printed to stderr. */
async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return ExitCode.ok;
  } catch (error) {
    // Commander printed its own message (unknown option, missing argument) or the help already.
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    if (error instanceof CliError) {
      process.stderr.write(`roadmap: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`roadmap: ${error.message}\n`);
      return ExitCode.usage;
    }
    process.stderr.write(`roadmap: ${error instanceof Error ? error.message : String(error)}\n`);
    return ExitCode.failed;
  }
}

process.exit(await run(process.argv.slice(2)));
