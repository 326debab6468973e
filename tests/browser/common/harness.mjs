// The frame of every scenario: a hard time limit, everything started is
// stopped in `finally` (in reverse order), a one-line verdict, and the
// exit code run-all.mjs reads.

import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer } from './server.mjs';
import { launchChromium, launchFirefox } from './browsers.mjs';

/** Where screenshots go (kept after the run for a person to look at). */
export const ARTIFACTS = process.env.FUNKRAUM_ARTIFACTS
    ?? path.join(tmpdir(), 'funkraum-browser-artifacts');

const CLEANUP_STEP_TIMEOUT_MS = 15_000;

/**
 * @typedef {object} Context
 * @property {(fn: () => Promise<void>|void) => void} defer  run at the end, newest first
 * @property {(options?: {config?: string}) => Promise<import('./server.mjs').RunningServer>} server
 * @property {(options?: {args?: string[]}) => Promise<import('puppeteer-core').Browser>} chromium
 * @property {() => Promise<import('puppeteer-core').Browser>} firefox
 * @property {(...args: any[]) => void} log
 * @property {(name: string) => string} artifact  a path for a file to keep
 * @property {string[]} pageErrors  console errors of all pages (for failures)
 */

/**
 * Runs one scenario and exits the process with its verdict.
 * @param {string} name
 * @param {{timeoutMs: number}} options
 * @param {(ctx: Context) => Promise<void>} body
 */
export async function scenario(name, { timeoutMs }, body) {
    const started = Date.now();
    /** @type {(() => Promise<void>|void)[]} */
    const cleanups = [];
    /** @type {import('./server.mjs').RunningServer[]} */
    const servers = [];
    /** @type {string[]} */
    const pageErrors = [];
    const log = (/** @type {any[]} */ ...args) => {
        const s = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
        console.log(`[${s}s]`, ...args);
    };
    await mkdir(ARTIFACTS, { recursive: true });

    /** @type {Context} */
    const ctx = {
        defer: (fn) => { cleanups.push(fn); },
        async server(options) {
            const s = await startServer(options);
            servers.push(s);
            cleanups.push(() => s.stop());
            log(`server at ${s.url}`);
            return s;
        },
        async chromium(options) {
            const b = await launchChromium(options);
            cleanups.push(b.close);
            log(`chromium ${await b.browser.version()}`);
            return b.browser;
        },
        async firefox() {
            const b = await launchFirefox();
            cleanups.push(b.close);
            log(`firefox ${await b.browser.version()}`);
            return b.browser;
        },
        log,
        artifact: (file) => path.join(ARTIFACTS, file),
        pageErrors,
    };

    const runCleanups = async () => {
        while (cleanups.length > 0) {
            const fn = /** @type {() => Promise<void>|void} */ (cleanups.pop());
            try {
                await Promise.race([
                    Promise.resolve().then(fn),
                    new Promise((_, reject) => setTimeout(
                        () => reject(new Error('cleanup step timed out')), CLEANUP_STEP_TIMEOUT_MS).unref()),
                ]);
            } catch (err) {
                console.error(`cleanup: ${err instanceof Error ? err.message : err}`);
            }
        }
    };

    /** @type {unknown} */
    let failure = null;
    const hardLimit = new Promise((_, reject) => {
        setTimeout(() => reject(new Error(`scenario timed out after ${timeoutMs} ms`)), timeoutMs).unref();
    });
    try {
        await Promise.race([body(ctx), hardLimit]);
    } catch (err) {
        failure = err;
    } finally {
        if (failure) {
            for (const s of servers) {
                const tail = s.log().split('\n').slice(-40).join('\n');
                console.error(`--- server log (last lines) ---\n${tail}`);
            }
            if (pageErrors.length) {
                console.error(`--- page console errors ---\n${pageErrors.slice(-40).join('\n')}`);
            }
        }
        await runCleanups();
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (failure) {
        console.error(`FAIL ${name} (${seconds} s): ${failure instanceof Error ? failure.stack : failure}`);
        process.exit(1);
    }
    if (pageErrors.length) {
        console.log(`note: the pages logged ${pageErrors.length} console error(s):\n${pageErrors.slice(-20).join('\n')}`);
    }
    console.log(`PASS ${name} (${seconds} s)`);
    process.exit(0);
}

/**
 * Polls `check` until it returns a truthy value, or fails naming `what`.
 * @template T
 * @param {string} what
 * @param {() => Promise<T>} check
 * @param {{timeoutMs?: number, intervalMs?: number, until?: (value: T) => boolean}} [options]
 *   `until` decides whether a value is good enough (default: truthy)
 * @returns {Promise<T>}
 */
export async function waitFor(what, check, { timeoutMs = 20_000, intervalMs = 200, until = Boolean } = {}) {
    const deadline = Date.now() + timeoutMs;
    /** @type {unknown} */
    let last;
    for (;;) {
        try {
            const value = await check();
            last = value;
            if (until(value)) return value;
        } catch (err) {
            last = err;
        }
        if (Date.now() > deadline) {
            const detail = last instanceof Error ? last.message : JSON.stringify(last);
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
        }
        await new Promise((r) => setTimeout(r, intervalMs));
    }
}

/**
 * @param {boolean} condition
 * @param {string} message
 * @returns {asserts condition}
 */
export function assert(condition, message) {
    if (!condition) throw new Error(`assertion failed: ${message}`);
}
