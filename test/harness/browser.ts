import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

/** Where page tests leave their screenshots, and the files they hand a page. */
export const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

const CHROMIUM = process.env.FLEXGATE_CHROMIUM ?? '/usr/bin/chromium';

/** Debian's Chromium, headless, as every page test drives it (no browser download works on these machines). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`No Chromium at ${CHROMIUM}: apt-get install chromium (as .ci/run does), or set FLEXGATE_CHROMIUM.`);
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
