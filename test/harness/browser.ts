import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { seedCatalog, setClock } from './fixtures';
import { startTestGateway, type TestGateway } from './gateway';

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

/** What a page-test file starts with: a test gateway (its clock at `at`, if given; the catalog seeded) and Chromium. */
export async function pageTestbed(at?: Date | string): Promise<{ gw: TestGateway; browser: Browser }> {
  const [gw, browser] = await Promise.all([startTestGateway(), launchChromium()]);
  if (at !== undefined) await setClock(gw, at);
  await seedCatalog(gw);
  return { gw, browser };
}

/** Closes what `pageTestbed` opened, whatever of it did open. */
export async function closeTestbed(bed: { gw?: TestGateway | undefined; browser?: Browser | undefined }): Promise<void> {
  await bed.browser?.close();
  await bed.gw?.close();
}
