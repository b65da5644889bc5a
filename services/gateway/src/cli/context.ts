import type { Command } from 'commander';
import { ApiClient, DEFAULT_API_URL } from './api-client.js';

/** The global options every command sees. */
export interface GlobalOptions {
  apiUrl: string;
  apiKey?: string;
  json: boolean;
}

/** What a command needs: the API (built on first use) and how to print. */
export class CliContext {
  private client?: ApiClient;

  constructor(readonly options: GlobalOptions) {}

  static of(command: Command): CliContext {
    const o = command.optsWithGlobals<Partial<GlobalOptions>>();
    return new CliContext({
      apiUrl: o.apiUrl ?? process.env.ROADMAP_API_URL ?? DEFAULT_API_URL,
      apiKey: o.apiKey ?? (process.env.ROADMAP_API_KEY || undefined),
      json: o.json === true,
    });
  }

  get api(): ApiClient {
    this.client ??= new ApiClient(this.options.apiUrl, this.options.apiKey);
    return this.client;
  }

  get json(): boolean {
    return this.options.json;
  }

  /** Prints `data` as JSON with --json, else the human text. */
  print(data: unknown, human: () => string): void {
    process.stdout.write(`${this.json ? JSON.stringify(data, null, 2) : human()}\n`);
  }
}
