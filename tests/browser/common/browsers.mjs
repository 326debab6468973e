// Headless Chromium (CDP) and Firefox ESR (WebDriver BiDi), both with fake
// camera and microphone, both driven by puppeteer-core. A missing browser
// is a failure, never a skip.

import puppeteer from 'puppeteer-core';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
export const FIREFOX = process.env.FIREFOX_BIN ?? '/usr/bin/firefox-esr';

const LAUNCH_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * @param {string} bin
 * @param {string} what
 */
async function requireBrowser(bin, what) {
    try {
        await access(bin, constants.X_OK);
    } catch {
        throw new Error(`${what} is missing at ${bin}: install the Debian package (make test-deps) — browser tests never skip`);
    }
}

/**
 * @typedef {object} LaunchedBrowser
 * @property {import('puppeteer-core').Browser} browser
 * @property {'chromium'|'firefox'} kind
 * @property {() => Promise<void>} close  closes the browser and removes its profile
 */

/**
 * @param {{args?: string[]}} [options] extra command-line flags (e.g. `--lang=de`)
 * @returns {Promise<LaunchedBrowser>}
 */
export async function launchChromium(options = {}) {
    await requireBrowser(CHROMIUM, 'Chromium');
    const profile = await mkdtemp(path.join(tmpdir(), 'funkraum-chromium-'));
    const browser = await puppeteer.launch({
        browser: 'chrome',
        executablePath: CHROMIUM,
        headless: true,
        timeout: LAUNCH_TIMEOUT_MS,
        protocolTimeout: 60_000,
        userDataDir: profile,
        args: [
            '--no-sandbox',
            '--disable-gpu',
            '--use-fake-device-for-media-stream',
            '--use-fake-ui-for-media-stream',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
            '--autoplay-policy=no-user-gesture-required',
            ...(options.args ?? []),
        ],
    });
    return { browser, kind: 'chromium', close: closer(browser, profile) };
}

/** @returns {Promise<LaunchedBrowser>} */
export async function launchFirefox() {
    await requireBrowser(FIREFOX, 'Firefox ESR');
    const profile = await mkdtemp(path.join(tmpdir(), 'funkraum-firefox-'));
    const browser = await puppeteer.launch({
        browser: 'firefox',
        executablePath: FIREFOX,
        headless: true,
        timeout: LAUNCH_TIMEOUT_MS,
        protocolTimeout: 60_000,
        userDataDir: profile,
        extraPrefsFirefox: {
            'media.navigator.streams.fake': true,
            'media.navigator.permission.disabled': true,
            'media.autoplay.default': 0,
            'media.peerconnection.ice.obfuscate_host_addresses': false,
            // Nothing but the test server: no update checks, no telemetry.
            'app.update.enabled': false,
            'network.captive-portal-service.enabled': false,
            'network.connectivity-service.enabled': false,
            'datareporting.policy.dataSubmissionEnabled': false,
            'toolkit.telemetry.enabled': false,
        },
    });
    return { browser, kind: 'firefox', close: closer(browser, profile) };
}

/**
 * @param {import('puppeteer-core').Browser} browser
 * @param {string} profile
 */
function closer(browser, profile) {
    let closed = false;
    return async () => {
        if (closed) return;
        closed = true;
        const proc = browser.process();
        try {
            await Promise.race([
                browser.close(),
                new Promise((_, reject) => setTimeout(() => reject(new Error('close timed out')), CLOSE_TIMEOUT_MS)),
            ]);
        } catch {
            proc?.kill('SIGKILL');
        }
        await rm(profile, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
    };
}
