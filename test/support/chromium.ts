import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

/** Where the browser tests leave their screenshots (test-results/console at the repository's root). */
export const CONSOLE_SHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test-results', 'console');

/** Debian's Chromium (packages chromium and chromium-driver): what the browser tests drive. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Installs Debian's chromium and chromium-driver when the browser is missing (CI images), as the
 * observability test does for prometheus. Idempotent: a no-op once installed. Only the browser
 * tests call it, never `npm start`.
 */
export function ensureChromium(): string {
  if (!existsSync(CHROMIUM)) {
    const sudo = process.getuid?.() === 0 ? '' : 'sudo -n ';
    spawnSync('sh', ['-c', `${sudo}apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${sudo}apt-get install -y -qq chromium chromium-driver`], {
      stdio: 'ignore',
      timeout: 600_000,
    });
  }
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found and \`apt-get install chromium chromium-driver\` failed`);
  return CHROMIUM;
}

/** Headless Chromium through playwright-core (no downloaded browsers), with the flags a container needs. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: ensureChromium(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}
