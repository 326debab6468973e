// Driving the real client the way a person does (type, click) and reading
// what a person would notice (tiles, names) plus the media statistics from
// the client's read-only test hook `window.funkraum.stats()`.

import { waitFor } from './harness.mjs';

/**
 * A new page (in its own browser context, like a separate person) that
 * reports console errors into `ctx.pageErrors`.
 * @param {import('puppeteer-core').Browser} browser
 * @param {import('./harness.mjs').Context} ctx
 * @param {string} label
 * @param {{width: number, height: number, isMobile?: boolean, hasTouch?: boolean}} [viewport]
 */
export async function openPage(browser, ctx, label, viewport = { width: 1280, height: 720 }) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.setViewport(viewport);
    page.on('console', (m) => {
        if (m.type() === 'error') ctx.pageErrors.push(`${label}: ${m.text()}`);
    });
    page.on('pageerror', (e) => {
        ctx.pageErrors.push(`${label}: uncaught ${e instanceof Error ? e.message : e}`);
    });
    return page;
}

/**
 * Opens the pre-join page of `room`, types the nickname and waits until the
 * camera preview runs (so the join really publishes camera and microphone).
 * @param {import('puppeteer-core').Page} page
 * @param {string} baseUrl
 * @param {string} room
 * @param {string} nickname
 */
export async function prepareJoin(page, baseUrl, room, nickname) {
    await page.goto(`${baseUrl}/${encodeURIComponent(room)}`, { waitUntil: 'load' });
    const input = await page.waitForSelector('input[name="nickname"]');
    await input?.click();
    await input?.type(nickname);
    await page.waitForSelector('.preview:not(.video-off)', { timeout: 20_000 });
    await waitFor('the camera preview to play', () => page.evaluate(() => {
        const v = document.querySelector('.preview-video');
        return v instanceof HTMLVideoElement && v.readyState >= 2 && v.videoWidth > 0;
    }));
}

/**
 * Clicks "Join" and waits for the room. Returns the time of the click.
 * @param {import('puppeteer-core').Page} page
 */
export async function clickJoin(page) {
    const clickedAt = Date.now();
    await page.click('form.prejoin-form button[type="submit"]');
    await page.waitForSelector('.room .tiles .tile.self', { timeout: 20_000 });
    return clickedAt;
}

/**
 * The inbound RTP streams of the page's media connection.
 * @param {import('puppeteer-core').Page} page
 * @returns {Promise<{kind: string, id: string, framesDecoded: number, packetsReceived: number, codec: string|null}[]>}
 */
export async function inboundStats(page) {
    return page.evaluate(async () => {
        // @ts-ignore the client's test hook
        const report = await window.funkraum.stats();
        /** @type {any[]} */
        const out = [];
        if (!report) return out;
        report.forEach((/** @type {any} */ s) => {
            if (s.type !== 'inbound-rtp') return;
            const codec = s.codecId ? report.get(s.codecId) : undefined;
            out.push({
                kind: s.kind ?? s.mediaType,
                id: String(s.id),
                framesDecoded: s.framesDecoded ?? 0,
                packetsReceived: s.packetsReceived ?? 0,
                codec: codec?.mimeType ?? null,
            });
        });
        return out;
    });
}

/**
 * Summary of what a page receives: remote video tracks decoding frames and
 * remote audio tracks receiving packets.
 * @param {import('puppeteer-core').Page} page
 */
export async function receiving(page) {
    const stats = await inboundStats(page);
    return {
        videoDecoding: stats.filter((s) => s.kind === 'video' && s.framesDecoded > 0).length,
        audioReceiving: stats.filter((s) => s.kind === 'audio' && s.packetsReceived > 0).length,
        stats,
    };
}

/**
 * Waits inside the page (polling every 50 ms, no round trips) until a
 * remote video track has decoded a frame; returns Date.now() of that moment.
 * @param {import('puppeteer-core').Page} page
 * @param {number} timeoutMs
 */
export async function firstDecodedFrameAt(page, timeoutMs) {
    return page.evaluate(async (timeout) => {
        const deadline = Date.now() + timeout;
        while (Date.now() < deadline) {
            // @ts-ignore the client's test hook
            const report = await window.funkraum.stats();
            let found = false;
            report?.forEach((/** @type {any} */ s) => {
                if (s.type === 'inbound-rtp' && (s.kind ?? s.mediaType) === 'video' && s.framesDecoded > 0) {
                    found = true;
                }
            });
            if (found) return Date.now();
            await new Promise((r) => setTimeout(r, 50));
        }
        return null;
    }, timeoutMs);
}

/**
 * The tiles in the room grid: nickname label and whether it is one's own.
 * @param {import('puppeteer-core').Page} page
 * @returns {Promise<{name: string, self: boolean}[]>}
 */
export async function tiles(page) {
    return page.$$eval('.room .tiles .tile', (els) => els.map((el) => ({
        name: el.querySelector('.tile-name')?.textContent ?? '',
        self: el.classList.contains('self'),
    })));
}

/**
 * Whether the page is wider than its viewport (a horizontal scroll bar).
 * @param {import('puppeteer-core').Page} page
 */
export async function horizontalOverflow(page) {
    return page.evaluate(() => {
        const doc = document.documentElement;
        const widest = Math.max(doc.scrollWidth, document.body.scrollWidth);
        /** @type {string[]} */
        const outside = [];
        for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            if (r.width > 0 && (r.right > window.innerWidth + 0.5 || r.left < -0.5)) {
                if (!el.closest('.visually-hidden')) outside.push(`${el.tagName.toLowerCase()}.${el.className}`);
            }
        }
        return { scrollWidth: widest, innerWidth: window.innerWidth, outside: outside.slice(0, 10) };
    });
}
