// A person signs in to a Miyagi that asks who they are (auth mode `api_key`), in headless
// Chromium: the UI asks for a key, says so when it is wrong, and with the right one shows their
// profiles and follows their live events. The server side starts it (crates/cli/tests/web.rs).
//
//   MIYAGI_URL=http://127.0.0.1:8080 MIYAGI_KEY=… MIYAGI_PROFILE_NAME=… node signin.mjs

import { chromium } from 'playwright-core';
import { mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const BASE = (process.env.MIYAGI_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const KEY = process.env.MIYAGI_KEY;
const NAME = process.env.MIYAGI_PROFILE_NAME;
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');

const steps = [];
async function step(name, fn) {
  console.log(`▶ ${name}`);
  await fn();
  steps.push(name);
  console.log(`✔ ${name}`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function main() {
  check(KEY && NAME, 'MIYAGI_KEY and MIYAGI_PROFILE_NAME must be set');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.setDefaultTimeout(20_000);
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(String(err?.stack || err)));
  try {
    await step('the UI asks who you are', async () => {
      await page.goto(`${BASE}/#/profile`);
      await page.waitForSelector('[data-testid="signin"]');
      check(await page.isHidden('[data-testid="sign-out"]'), 'a sign-out button shows before signing in');
    });

    await step('a wrong key is refused, and said so', async () => {
      await page.fill('[data-testid="signin-secret"]', 'not-the-key');
      await page.click('[data-testid="signin-submit"]');
      await page.waitForSelector('[data-testid="signin-error"]:not([hidden])');
      const said = await page.innerText('[data-testid="signin-error"]');
      check(said.includes('refused'), `the error says: ${said}`);
    });

    await step('the right key shows your profiles and your live events', async () => {
      await page.fill('[data-testid="signin-secret"]', KEY);
      await page.click('[data-testid="signin-submit"]');
      await page.waitForSelector(`text=${NAME}`);
      await page.waitForSelector('[data-testid="connection"][data-status="live"]');
      check(await page.isVisible('[data-testid="sign-out"]'), 'no sign-out button after signing in');
      await mkdir(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, 'signed-in.png'), fullPage: true });
    });

    await step('signing out asks again', async () => {
      await page.click('[data-testid="sign-out"]');
      await page.waitForSelector('[data-testid="signin"]');
    });

    check(pageErrors.length === 0, `uncaught errors in the page:\n${pageErrors.join('\n')}`);
    console.log(`${steps.length} passed, 0 failed`);
    return 0;
  } catch (err) {
    console.error(`SIGN-IN TEST FAILED: ${err?.stack || err}`);
    await mkdir(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'signin-failure.png'), fullPage: true }).catch(() => {});
    console.log(`${steps.length} passed, 1 failed`);
    return 1;
  } finally {
    await browser.close().catch(() => {});
  }
}

process.exitCode = await main();
