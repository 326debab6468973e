// A screen shared from one page is decoded by the others and shown large,
// at no more than the room's screen frame rate: first between two people
// (peer to peer), then through the server when a third joins. Stopping it
// with the browser's own "stop sharing" control (the track ends) removes it
// everywhere; sharing again and stopping with the button works too.
//
// Headless Chromium 156 answers getDisplayMedia with a fake 800×600 screen
// under the harness's flags (--use-fake-ui-for-media-stream and
// --use-fake-device-for-media-stream); no extra flag is needed.

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin, mediaMode } from './common/ui.mjs';

const SCREEN_FPS = 4;

/**
 * The screen tile of `sharer` as `viewer` shows it: where it is, and how
 * many frames its video has shown.
 * @param {import('puppeteer-core').Page} viewer
 */
function screenTile(viewer) {
    return viewer.evaluate(() => {
        const tile = document.querySelector('.tile.screen:not(.self)');
        if (!tile) return null;
        const v = /** @type {HTMLVideoElement} */ (tile.querySelector('video'));
        return {
            label: tile.querySelector('.tile-name')?.textContent ?? '',
            featured: tile.parentElement?.classList.contains('featured') ?? false,
            speakerView: document.querySelector('.room')?.classList.contains('speaker-view') ?? false,
            width: v.videoWidth,
            height: v.videoHeight,
            frames: v.getVideoPlaybackQuality().totalVideoFrames,
            featuredWidth: tile.getBoundingClientRect().width,
        };
    });
}

/**
 * Waits until `viewer` shows the screen large and its frames advance.
 * @param {import('puppeteer-core').Page} viewer
 * @param {string} who
 */
async function seesScreen(viewer, who) {
    const first = await waitFor(`${who} to show the screen`, () => screenTile(viewer),
        { timeoutMs: 30_000, until: (s) => !!s && s.width > 0 && s.frames > 0 });
    const later = await waitFor(`${who}'s screen frames to advance`, () => screenTile(viewer),
        { timeoutMs: 10_000, until: (s) => !!s && s.frames > (first?.frames ?? 0) });
    assert(!!later && later.featured && later.speakerView,
        `${who} does not show the screen large: ${JSON.stringify(later)}`);
    return later;
}

scenario('screen share reaches the others', { timeoutMs: 240_000 }, async (ctx) => {
    const server = await ctx.server({ config: `[rooms]\nscreen_max_framerate = ${SCREEN_FPS}\n` });
    const chromium = await ctx.chromium();
    const room = `screen-${Date.now().toString(36)}`;

    const sharer = await openPage(chromium, ctx, 'sharer');
    const viewer = await openPage(chromium, ctx, 'viewer');
    await prepareJoin(sharer, server.url, room, 'Sharer');
    await prepareJoin(viewer, server.url, room, 'Viewer');
    await clickJoin(sharer);
    await clickJoin(viewer);
    await waitFor('the two to talk peer to peer', () => mediaMode(viewer),
        { timeoutMs: 30_000, until: (m) => !!m && m.direct });

    // Share (two people: over the direct connection).
    await sharer.click('.controls .control-screen');
    const own = await sharer.waitForSelector('.tile.screen.self video');
    assert(own !== null, 'the sharer does not see its own screen tile');
    const settings = await sharer.evaluate(() => {
        const v = /** @type {HTMLVideoElement} */ (document.querySelector('.tile.screen.self video'));
        const track = /** @type {MediaStream} */ (v.srcObject).getVideoTracks()[0];
        return { ...track.getSettings(), pressed: document.querySelector('.control-screen')?.getAttribute('aria-pressed') };
    });
    ctx.log(`sharing ${settings.width}×${settings.height} at ${settings.frameRate} fps (${settings.displaySurface})`);
    assert((settings.frameRate ?? 99) <= SCREEN_FPS, `the screen is captured at ${settings.frameRate} fps, above the room's ${SCREEN_FPS}`);
    assert(settings.pressed === 'true', 'the share button is not pressed');
    const p2p = await seesScreen(viewer, 'the viewer (peer to peer)');
    ctx.log(`viewer, peer to peer: "${p2p.label}" ${p2p.width}×${p2p.height}, ${Math.round(p2p.featuredWidth)} px wide, ${p2p.frames} frames`);

    // A third person: the screen goes through the server now.
    const third = await openPage(chromium, ctx, 'third');
    await prepareJoin(third, server.url, room, 'Third');
    await clickJoin(third);
    await waitFor('the room to leave peer to peer', () => mediaMode(viewer),
        { timeoutMs: 30_000, until: (m) => !!m && !m.direct && m.mode === 'sfu' });
    for (const [who, page] of /** @type {[string, import('puppeteer-core').Page][]} */ ([['the viewer', viewer], ['the third', third]])) {
        const s = await seesScreen(page, `${who} (through the server)`);
        ctx.log(`${who}, through the server: ${s.width}×${s.height}, ${s.frames} frames`);
    }
    // Frames of the screen decoded over a few seconds, per second.
    const screenFrames = () => third.evaluate(async () => {
        // @ts-ignore the client's test hook
        const report = await window.funkraum.stats();
        let frames = 0;
        report?.forEach((/** @type {any} */ s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'video' && s.frameWidth === 800) frames = s.framesDecoded ?? 0;
        });
        return frames;
    });
    const WINDOW_S = 4;
    const f0 = await screenFrames();
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    const fps = ((await screenFrames()) - f0) / WINDOW_S;
    ctx.log(`the third decodes the screen at ${fps.toFixed(1)} fps`);
    assert(fps > 0, 'the screen does not advance at the third');
    assert(fps <= SCREEN_FPS + 1, `the screen arrives at ${fps} fps, above the cap of ${SCREEN_FPS}`);

    // The browser's own "stop sharing" control ends the track.
    await sharer.evaluate(() => {
        const v = /** @type {HTMLVideoElement} */ (document.querySelector('.tile.screen.self video'));
        const track = /** @type {MediaStream} */ (v.srcObject).getVideoTracks()[0];
        track.stop();
        track.dispatchEvent(new Event('ended'));
    });
    for (const [who, page] of /** @type {[string, import('puppeteer-core').Page][]} */ ([['the viewer', viewer], ['the third', third]])) {
        await waitFor(`${who} to drop the screen`, () => screenTile(page), { timeoutMs: 10_000, until: (s) => s === null });
        const view = await page.$eval('.room', (r) => r.classList.contains('speaker-view'));
        assert(!view, `${who} stays in speaker view after the share ended`);
    }
    const button = await sharer.$eval('.controls .control-screen', (b) => b.getAttribute('aria-pressed'));
    assert(button === 'false', 'the share button stays pressed after the browser ended the share');
    ctx.log('stopping from the browser\'s control removed the screen everywhere');

    // Share again and stop with the button.
    await sharer.click('.controls .control-screen');
    await seesScreen(third, 'the third (second share)');
    await sharer.click('.controls .control-screen');
    await waitFor('the third to drop the second share', () => screenTile(third), { timeoutMs: 10_000, until: (s) => s === null });
    ctx.log('sharing again and stopping with the button works');
});
