// The community-uplink defaults from the server's config reach the
// browser: video is captured and sent no larger and no faster than
// `rooms.video_max_height` / `video_max_framerate`, and whoever joins a room
// that already has `rooms.start_muted_after` people starts with microphone
// and camera off (and is told so), and can switch them on.

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin } from './common/ui.mjs';

const MAX_HEIGHT = 180;
const MAX_FPS = 10;

/**
 * The own camera as captured, and as sent to the server.
 * @param {import('puppeteer-core').Page} page
 */
function ownVideo(page) {
    return page.evaluate(async () => {
        const v = /** @type {HTMLVideoElement|null} */ (document.querySelector('.tile.self video'));
        const track = v?.srcObject instanceof MediaStream ? v.srcObject.getVideoTracks()[0] : null;
        // @ts-ignore the client's test hook
        const report = await window.funkraum.stats();
        /** @type {any} */
        let sent = null;
        report?.forEach((/** @type {any} */ s) => {
            if (s.type === 'outbound-rtp' && s.kind === 'video' && (s.framesEncoded ?? 0) > 0) sent = s;
        });
        return {
            live: track?.readyState === 'live',
            height: track?.getSettings().height ?? 0,
            frameRate: track?.getSettings().frameRate ?? 0,
            sentHeight: sent?.frameHeight ?? 0,
            sentFps: sent?.framesPerSecond ?? 0,
            framesSent: sent?.framesSent ?? 0,
        };
    });
}

/**
 * Frames per second the page sends over a few seconds (the instantaneous
 * rate jumps right after the start).
 * @param {import('puppeteer-core').Page} page
 */
async function sentRate(page) {
    const SECONDS = 3;
    const before = (await ownVideo(page)).framesSent;
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    return ((await ownVideo(page)).framesSent - before) / SECONDS;
}

scenario('big rooms start muted and video is capped', { timeoutMs: 150_000 }, async (ctx) => {
    const server = await ctx.server({
        config: [
            '[rooms]',
            'p2p = false',
            'start_muted_after = 1',
            `video_max_height = ${MAX_HEIGHT}`,
            `video_max_framerate = ${MAX_FPS}`,
        ].join('\n'),
    });
    const chromium = await ctx.chromium();
    const room = `uplink-${Date.now().toString(36)}`;

    // The first person joins as chosen, with the caps applied.
    const first = await openPage(chromium, ctx, 'first');
    await prepareJoin(first, server.url, room, 'First');
    await clickJoin(first);
    const capped = await waitFor('the first camera to be sent within the caps', () => ownVideo(first),
        { timeoutMs: 20_000, until: (v) => v.live && v.sentHeight > 0 && v.sentFps > 0 });
    const rate = await sentRate(first);
    ctx.log(`first: captured ${capped.height} px at ${capped.frameRate} fps, sent ${capped.sentHeight} px at ${rate.toFixed(1)} fps`);
    assert(capped.height <= MAX_HEIGHT && capped.frameRate <= MAX_FPS,
        `the camera is captured beyond the caps: ${JSON.stringify(capped)}`);
    assert(capped.sentHeight <= MAX_HEIGHT && rate <= MAX_FPS + 0.5,
        `the camera is sent beyond the caps: ${capped.sentHeight} px at ${rate} fps`);
    const firstState = await first.$$eval('.controls .control-mic, .controls .control-cam', (b) => b.map((x) => x.getAttribute('aria-pressed')));
    assert(firstState.every((p) => p === 'true'), `the first person did not join as chosen: ${firstState}`);

    // The second comes to a room that already has one: starts muted.
    const second = await openPage(chromium, ctx, 'second');
    await prepareJoin(second, server.url, room, 'Second');
    await clickJoin(second);
    const state = await waitFor('the second to start with microphone and camera off', () => second.evaluate(() => ({
        mic: document.querySelector('.controls .control-mic')?.getAttribute('aria-pressed'),
        cam: document.querySelector('.controls .control-cam')?.getAttribute('aria-pressed'),
        notice: [...document.querySelectorAll('.notices .room-notice')].map((n) => n.textContent).join(' '),
    })), { until: (s) => s.mic === 'false' && s.cam === 'false' && s.notice !== '' });
    ctx.log(`second is told: "${state.notice}"`);
    await waitFor('the first to see the second muted and dark', () => first.evaluate(() => {
        const tile = [...document.querySelectorAll('.tile:not(.self)')].find((t) => t.querySelector('.tile-name')?.textContent === 'Second');
        return !!tile && tile.classList.contains('video-off') && tile.querySelector('.badge.muted') !== null;
    }), { until: Boolean });
    const dark = await second.evaluate(() => {
        const v = /** @type {HTMLVideoElement|null} */ (document.querySelector('.tile.self video'));
        return v?.srcObject === null;
    });
    assert(dark, 'the second person\'s camera is still on after joining muted');

    // They switch the camera on themselves: within the caps, and seen.
    await second.click('.controls .control-cam');
    const on = await waitFor('the second camera to be sent', () => ownVideo(second),
        { timeoutMs: 20_000, until: (v) => v.live && v.sentFps > 0 });
    ctx.log(`second, camera switched on: captured ${on.height} px at ${on.frameRate} fps, sent ${on.sentHeight} px`);
    assert(on.height <= MAX_HEIGHT && on.frameRate <= MAX_FPS, `the new camera track ignores the caps: ${JSON.stringify(on)}`);
    await waitFor('the first to see the second\'s camera', () => first.evaluate(() => {
        const tile = [...document.querySelectorAll('.tile:not(.self)')].find((t) => t.querySelector('.tile-name')?.textContent === 'Second');
        const v = /** @type {HTMLVideoElement|null} */ (tile?.querySelector('video') ?? null);
        return !!tile && !tile.classList.contains('video-off') && (v?.videoWidth ?? 0) > 0;
    }), { until: Boolean });
});
