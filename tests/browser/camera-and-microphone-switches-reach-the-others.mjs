// Switching microphone and camera shows at the others: a muted microphone
// gets a badge, a camera switched off gives way to the initial. Someone who
// joined with both off and switches the camera on later is seen by the
// others (the track is added without a new negotiation).

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin, receiving } from './common/ui.mjs';

/**
 * How `viewer` shows the tile of `name`.
 * @param {import('puppeteer-core').Page} viewer
 * @param {string} name
 */
function tileOf(viewer, name) {
    return viewer.evaluate((n) => {
        const tile = [...document.querySelectorAll('.tiles .tile')]
            .find((t) => t.querySelector('.tile-name')?.textContent === n);
        if (!tile) return null;
        const video = /** @type {HTMLVideoElement|null} */ (tile.querySelector('video'));
        return {
            micOff: tile.querySelector('.badge svg') !== null,
            videoOff: tile.classList.contains('video-off'),
            frames: video?.getVideoPlaybackQuality?.().totalVideoFrames ?? 0,
        };
    }, name);
}

scenario('camera and microphone switches reach the others', { timeoutMs: 120_000 }, async (ctx) => {
    const server = await ctx.server();
    const chromium = await ctx.chromium();
    const room = 'switches';

    const ada = await openPage(chromium, ctx, 'ada');
    const bo = await openPage(chromium, ctx, 'bo');
    await prepareJoin(ada, server.url, room, 'Ada');
    await clickJoin(ada);
    // Bo switches both off on the pre-join page.
    await prepareJoin(bo, server.url, room, 'Bo');
    const [micToggle, camToggle] = await bo.$$('.toggles .toggle');
    await micToggle.click();
    await camToggle.click();
    await bo.waitForSelector('.preview.video-off');
    await clickJoin(bo);

    let bo1 = await waitFor('Ada to see Bo muted and without camera', () => tileOf(ada, 'Bo'),
        { until: (t) => !!t && t.micOff && t.videoOff });
    ctx.log(`Ada sees Bo: ${JSON.stringify(bo1)}`);
    await waitFor('Bo to decode Ada', () => receiving(bo), { until: (r) => r.videoDecoding >= 1 });

    // Ada mutes and switches her camera off.
    await ada.click('.controls .control:nth-child(1)');
    await ada.click('.controls .control:nth-child(2)');
    await waitFor('Bo to see Ada muted and without camera', () => tileOf(bo, 'Ada'),
        { until: (t) => !!t && t.micOff && t.videoOff });
    const own = await ada.evaluate(() => {
        const v = /** @type {HTMLVideoElement} */ (document.querySelector('.tile.self video'));
        return { srcObject: v.srcObject !== null, pressed: document.querySelector('.controls .control:nth-child(2)')?.getAttribute('aria-pressed') };
    });
    assert(!own.srcObject && own.pressed === 'false', `Ada's own camera is not off: ${JSON.stringify(own)}`);

    // Bo switches the camera on in the room: Ada sees Bo's video.
    await bo.click('.controls .control:nth-child(2)');
    bo1 = await waitFor('Ada to see Bo\'s camera', () => tileOf(ada, 'Bo'),
        { until: (t) => !!t && !t.videoOff && t.frames > 0 });
    ctx.log(`Ada sees Bo after the camera went on: ${JSON.stringify(bo1)}`);

    // Ada switches both back on.
    await ada.click('.controls .control:nth-child(1)');
    await ada.click('.controls .control:nth-child(2)');
    const ada1 = await waitFor('Bo to see Ada again', () => tileOf(bo, 'Ada'),
        { until: (t) => !!t && !t.micOff && !t.videoOff && t.frames > 0 });
    ctx.log(`Bo sees Ada again: ${JSON.stringify(ada1)}`);
});
