// A camera published to the server goes in three simulcast layers (rids
// q, h, f: a quarter, a half and the full height, docs/protocol.md
// "Simulcast"), each its own RTP stream carrying frames. Another browser
// (Firefox) decodes that camera, and the size of the picture it gets
// follows the size its page shows the tile at (`videoSizes`): large in
// speaker view, small in a small window.
//
// The client captures 1280×720 (rooms.video_max_height defaults to 720),
// so Chromium's fake camera gives 180, 360 and 720 lines: Chromium sends
// only as many layers as the picture's size allows (three from 960×540),
// which is why the client asks for that much. That the three streams flow
// at all also shows that the server's answer took the simulcast: without
// `a=simulcast` in the answer the browser keeps one encoding.

import { scenario, waitFor, assert } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin, flowOver } from './common/ui.mjs';

const MEDIA_TIMEOUT_MS = 30_000;

/**
 * The page's outbound camera streams to the server, by rid.
 * @param {import('puppeteer-core').Page} page
 * @returns {Promise<Record<string, {packets: number, frames: number, height: number}>>}
 */
function outboundLayers(page) {
    return page.evaluate(async () => {
        // @ts-ignore the client's test hook
        const report = await window.funkraum.stats();
        /** @type {Record<string, {packets: number, frames: number, height: number}>} */
        const out = {};
        report?.forEach((/** @type {any} */ s) => {
            if (s.type !== 'outbound-rtp' || (s.kind ?? s.mediaType) !== 'video') return;
            out[s.rid ?? '(none)'] = {
                packets: s.packetsSent ?? 0,
                frames: s.framesEncoded ?? 0,
                height: s.frameHeight ?? 0,
            };
        });
        return out;
    });
}

/**
 * The picture of `name`'s camera as the page shows it: the video's own
 * height and the tile's height in device pixels.
 * @param {import('puppeteer-core').Page} page
 * @param {string} name
 */
function shownPicture(page, name) {
    return page.evaluate((n) => {
        const tile = [...document.querySelectorAll('.tile:not(.self):not(.screen)')]
            .find((t) => t.querySelector('.tile-name')?.textContent === n);
        const v = /** @type {HTMLVideoElement|null} */ (tile?.querySelector('video') ?? null);
        return {
            videoHeight: v?.videoHeight ?? 0,
            tileHeight: Math.round((tile?.getBoundingClientRect().height ?? 0) * devicePixelRatio),
            off: tile?.classList.contains('video-off') ?? true,
        };
    }, name);
}

scenario('simulcast camera sends three layers', { timeoutMs: 180_000 }, async (ctx) => {
    const server = await ctx.server({ config: '[rooms]\np2p = false' });
    const [chromium, firefox] = await Promise.all([ctx.chromium(), ctx.firefox()]);
    const room = `simulcast-${Date.now().toString(36)}`;

    const publisher = await openPage(chromium, ctx, 'chromium');
    const viewer = await openPage(firefox, ctx, 'firefox');
    await prepareJoin(publisher, server.url, room, 'Ada (Chromium)');
    await prepareJoin(viewer, server.url, room, 'Chidi (Firefox)');
    await clickJoin(publisher);
    await clickJoin(viewer);

    // Three layers, each encoding frames and sending packets, over time.
    const first = await waitFor('the Chromium camera to send three layers', () => outboundLayers(publisher),
        { timeoutMs: MEDIA_TIMEOUT_MS, until: (l) => ['q', 'h', 'f'].every((rid) => (l[rid]?.frames ?? 0) > 0) });
    const later = await waitFor('all three layers to go on', () => outboundLayers(publisher), {
        timeoutMs: MEDIA_TIMEOUT_MS,
        intervalMs: 500,
        until: (l) => ['q', 'h', 'f'].every((rid) => l[rid].frames > first[rid].frames + 10
            && l[rid].packets > first[rid].packets),
    });
    const summary = ['q', 'h', 'f'].map((rid) => `${rid}: ${later[rid].height} lines, ${later[rid].frames} frames, ${later[rid].packets} packets`);
    ctx.log(`Chromium sends ${summary.join('; ')}`);
    assert(Object.keys(later).length === 3, `expected exactly three outbound video streams, got ${Object.keys(later).join(', ')}`);
    assert(later.q.height > 0 && later.q.height < later.h.height && later.h.height < later.f.height,
        `the layers are not a quarter, a half and the whole: ${summary.join('; ')}`);
    assert(later.f.height <= 720, `the full layer is taller than video_max_height: ${later.f.height}`);

    // Firefox decodes the camera, and goes on decoding.
    const flow = await waitFor('Firefox to decode the Chromium camera', () => flowOver(viewer, 'server', 2000),
        { timeoutMs: MEDIA_TIMEOUT_MS, until: (f) => f.videoGrowing >= 1 });
    ctx.log(`Firefox: ${flow.videoGrowing} remote video decoding new frames, ${flow.packets} packets in 2 s`);

    const tile = await shownPicture(viewer, 'Ada (Chromium)');
    ctx.log(`tile view: tile ${tile.tileHeight} px tall, picture ${tile.videoHeight} lines`);

    // The picture follows the tile: speaker view shows the camera large…
    await viewer.click('.view-switch');
    const large = await waitFor('Firefox to get the full layer in speaker view', () => shownPicture(viewer, 'Ada (Chromium)'),
        { timeoutMs: MEDIA_TIMEOUT_MS, intervalMs: 500, until: (p) => !p.off && p.videoHeight >= 540 });
    ctx.log(`speaker view: tile ${large.tileHeight} px tall, picture ${large.videoHeight} lines`);
    // …and a small window small.
    await viewer.click('.view-switch');
    await viewer.setViewport({ width: 480, height: 400 });
    const small = await waitFor('Firefox to get a smaller layer in a small window', () => shownPicture(viewer, 'Ada (Chromium)'),
        { timeoutMs: MEDIA_TIMEOUT_MS, intervalMs: 500, until: (p) => !p.off && p.videoHeight > 0 && p.videoHeight < large.videoHeight });
    ctx.log(`small window: tile ${small.tileHeight} px tall, picture ${small.videoHeight} lines`);
    const still = await flowOver(viewer, 'server', 2000);
    assert(still.videoGrowing >= 1, 'Firefox stopped decoding after the layer switch');
});
