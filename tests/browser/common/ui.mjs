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
 * The inbound RTP streams of the connection that carries the page's media
 * now: the direct one while two people talk peer to peer, else the one to
 * the server.
 * @param {import('puppeteer-core').Page} page
 * @returns {Promise<{kind: string, id: string, framesDecoded: number, packetsReceived: number, codec: string|null}[]>}
 */
export async function inboundStats(page) {
    return page.evaluate(async () => {
        // @ts-ignore the client's test hook
        const hook = window.funkraum;
        const report = hook.mode()?.direct ? await hook.directStats() : await hook.stats();
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
            const hook = window.funkraum;
            const report = hook.mode()?.direct ? await hook.directStats() : await hook.stats();
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

/**
 * The candidate pair a connection of the page uses now: its local and
 * remote candidate (address, port, type).
 * @param {import('puppeteer-core').Page} page
 * @param {'server'|'direct'} which  the connection to the server, or the direct one
 * @returns {Promise<{local: {address: string, port: number, type: string}, remote: {address: string, port: number, type: string}}|null>}
 */
export async function selectedPair(page, which) {
    return page.evaluate(async (w) => {
        // @ts-ignore the client's test hook
        const hook = window.funkraum;
        /** @type {RTCStatsReport|null} */
        const report = w === 'direct' ? await hook.directStats() : await hook.stats();
        if (!report) return null;
        /** @type {any} */
        let pair = null;
        // Chromium names the pair in the transport, Firefox marks it.
        report.forEach((/** @type {any} */ s) => {
            if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId);
        });
        report.forEach((/** @type {any} */ s) => {
            if (!pair && s.type === 'candidate-pair' && s.selected === true) pair = s;
        });
        if (!pair) {
            report.forEach((/** @type {any} */ s) => {
                if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded'
                    && (!pair || (s.bytesReceived ?? 0) > (pair.bytesReceived ?? 0))) pair = s;
            });
        }
        if (!pair) return null;
        const side = (/** @type {any} */ c) => ({
            address: String(c?.address ?? c?.ip ?? ''),
            port: Number(c?.port ?? 0),
            type: String(c?.candidateType ?? ''),
        });
        return { local: side(report.get(pair.localCandidateId)), remote: side(report.get(pair.remoteCandidateId)) };
    }, which);
}

/**
 * Per inbound RTP stream of one connection: packets received and frames
 * decoded so far.
 * @param {import('puppeteer-core').Page} page
 * @param {'server'|'direct'} which
 * @returns {Promise<Record<string, {kind: string, packets: number, frames: number}>>}
 */
export async function inboundCounters(page, which) {
    return page.evaluate(async (w) => {
        // @ts-ignore the client's test hook
        const hook = window.funkraum;
        /** @type {RTCStatsReport|null} */
        const report = w === 'direct' ? await hook.directStats() : await hook.stats();
        /** @type {Record<string, {kind: string, packets: number, bytes: number, frames: number}>} */
        const out = {};
        report?.forEach((/** @type {any} */ s) => {
            if (s.type === 'inbound-rtp') {
                out[s.id] = {
                    kind: s.kind ?? s.mediaType,
                    packets: s.packetsReceived ?? 0,
                    // Payload only: RTP padding (bandwidth probes, which
                    // keep a quiet connection measured) does not count.
                    bytes: s.bytesReceived ?? 0,
                    frames: s.framesDecoded ?? 0,
                };
            }
        });
        return out;
    }, which);
}

/**
 * How many remote video streams of one connection decode new frames, how
 * many packets arrived on it at all and how many payload bytes (media, not
 * padding), over `ms` milliseconds.
 * @param {import('puppeteer-core').Page} page
 * @param {'server'|'direct'} which
 * @param {number} ms
 */
export async function flowOver(page, which, ms) {
    const before = await inboundCounters(page, which);
    await new Promise((r) => setTimeout(r, ms));
    const after = await inboundCounters(page, which);
    let videoGrowing = 0;
    let audioGrowing = 0;
    let packets = 0;
    let payloadBytes = 0;
    for (const [id, now] of Object.entries(after)) {
        const then = before[id] ?? { packets: 0, bytes: 0, frames: 0 };
        packets += now.packets - then.packets;
        payloadBytes += now.bytes - then.bytes;
        if (now.kind === 'video' && now.frames > then.frames) videoGrowing += 1;
        if (now.kind === 'audio' && now.packets > then.packets) audioGrowing += 1;
    }
    return { videoGrowing, audioGrowing, packets, payloadBytes };
}

/**
 * Outbound RTP bytes the page sent on one connection so far.
 * @param {import('puppeteer-core').Page} page
 * @param {'server'|'direct'} which
 */
export async function bytesSent(page, which) {
    return page.evaluate(async (w) => {
        // @ts-ignore the client's test hook
        const hook = window.funkraum;
        /** @type {RTCStatsReport|null} */
        const report = w === 'direct' ? await hook.directStats() : await hook.stats();
        let total = 0;
        report?.forEach((/** @type {any} */ s) => {
            if (s.type === 'outbound-rtp') total += s.bytesSent ?? 0;
        });
        return total;
    }, which);
}

/**
 * Whether the page's media goes browser to browser now.
 * @param {import('puppeteer-core').Page} page
 * @returns {Promise<{mode: string, direct: boolean}|null>}
 */
export async function mediaMode(page) {
    // @ts-ignore the client's test hook
    return page.evaluate(() => window.funkraum.mode());
}

/**
 * The candidates of one connection of the page, as `address:port`: its own
 * (`local`) and those of the other end (`remote`).
 * @param {import('puppeteer-core').Page} page
 * @param {'server'|'direct'} which
 * @returns {Promise<{local: string[], remote: string[]}>}
 */
export async function candidates(page, which) {
    return page.evaluate(async (w) => {
        // @ts-ignore the client's test hook
        const hook = window.funkraum;
        /** @type {RTCStatsReport|null} */
        const report = w === 'direct' ? await hook.directStats() : await hook.stats();
        /** @type {{local: string[], remote: string[]}} */
        const out = { local: [], remote: [] };
        report?.forEach((/** @type {any} */ s) => {
            const at = `${s.address ?? s.ip}:${s.port}`;
            if (s.type === 'local-candidate') out.local.push(at);
            if (s.type === 'remote-candidate') out.remote.push(at);
        });
        return out;
    }, which);
}
