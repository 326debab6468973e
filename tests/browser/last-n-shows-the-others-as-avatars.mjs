// `rooms.last_n = 1`: each page receives the camera of one other person
// only, the one who was active last (docs/protocol.md, "Last-N"). The page
// decodes exactly that camera; the other person's camera is on, yet their
// tile shows the avatar with a word on why (visible, as a tooltip and for
// screen readers), never a frozen picture. When the other one speaks, the
// two swap.
//
// Ada's fake microphone only beeps (never speech); Bo's browser plays a
// steady tone, and Bo joins with the microphone off; Cy (Firefox, whose
// fake microphone is a tone too) keeps it off. So at
// first nobody has been active and the server forwards in joining order:
// Cy gets Ada's camera. When Bo switches the microphone on, Bo speaks and
// Cy gets Bo's camera instead.

import { scenario, waitFor, assert } from './common/harness.mjs';
import { writeTone } from './common/audio.mjs';
import { openPage, prepareJoin, clickJoin, tiles } from './common/ui.mjs';

const MEDIA_TIMEOUT_MS = 30_000;

/**
 * How each remote camera tile of the page looks, by nickname: whether it
 * shows video or the avatar, the avatar's visible text and tooltip, what a
 * screen reader reads in the tile's caption, and the id of the track the
 * tile plays.
 * @param {import('puppeteer-core').Page} page
 */
function cameraTiles(page) {
    return page.evaluate(() => {
        /** @type {Record<string, {off: boolean, paused: boolean, avatarShown: boolean, avatarText: string, tooltip: string, caption: string, track: string}>} */
        const out = {};
        for (const tile of document.querySelectorAll('.tile:not(.self):not(.screen)')) {
            const name = tile.querySelector('.tile-name')?.textContent ?? '';
            const avatar = /** @type {HTMLElement|null} */ (tile.querySelector('.avatar'));
            const video = /** @type {HTMLVideoElement|null} */ (tile.querySelector('video'));
            const stream = video?.srcObject instanceof MediaStream ? video.srcObject : null;
            out[name] = {
                off: tile.classList.contains('video-off'),
                paused: tile.classList.contains('video-paused'),
                avatarShown: !!avatar && getComputedStyle(avatar).display !== 'none',
                avatarText: avatar?.innerText ?? '',
                tooltip: avatar?.title ?? '',
                caption: tile.querySelector('figcaption')?.textContent ?? '',
                track: stream?.getVideoTracks()[0]?.id ?? '',
            };
        }
        return out;
    });
}

/**
 * Frames decoded per remote video track (by the track's id) on the page's
 * connection to the server.
 * @param {import('puppeteer-core').Page} page
 * @returns {Promise<Record<string, number>>}
 */
function framesByTrack(page) {
    return page.evaluate(async () => {
        // @ts-ignore the client's test hook
        const report = await window.funkraum.stats();
        /** @type {Record<string, number>} */
        const out = {};
        report?.forEach((/** @type {any} */ s) => {
            if (s.type === 'inbound-rtp' && (s.kind ?? s.mediaType) === 'video') {
                out[String(s.trackIdentifier ?? s.id)] = s.framesDecoded ?? 0;
            }
        });
        return out;
    });
}

/**
 * Which remote video tracks decode new frames over `ms`.
 * @param {import('puppeteer-core').Page} page
 * @param {number} ms
 */
async function decodingTracks(page, ms) {
    const before = await framesByTrack(page);
    await new Promise((r) => setTimeout(r, ms));
    const after = await framesByTrack(page);
    const growing = Object.keys(after).filter((id) => after[id] > (before[id] ?? 0));
    const counts = Object.fromEntries(Object.keys(after).map((id) => [id, after[id] - (before[id] ?? 0)]));
    return { growing, streams: Object.keys(after).length, counts };
}

/**
 * Waits until the page decodes the camera of `shown` (and no other) and
 * shows `hidden` as an avatar; checks the avatar's hint.
 * @param {import('harness').Context|any} ctx
 * @param {import('puppeteer-core').Page} page
 * @param {string} shown
 * @param {string} hidden
 */
async function expectForwarded(ctx, page, shown, hidden) {
    const look = await waitFor(`${hidden} as an avatar and ${shown} with video`, () => cameraTiles(page), {
        timeoutMs: MEDIA_TIMEOUT_MS,
        intervalMs: 250,
        until: (t) => !!t[shown] && !!t[hidden] && !t[shown].off && t[shown].track !== ''
            && t[hidden].off && t[hidden].paused && t[hidden].avatarShown,
    });
    const flow = await waitFor(`only ${shown}'s camera to decode`, () => decodingTracks(page, 3000), {
        timeoutMs: MEDIA_TIMEOUT_MS,
        intervalMs: 0,
        until: (d) => d.growing.length === 1 && d.growing[0] === look[shown].track,
    });
    ctx.log(`${shown}'s camera decodes (${flow.counts[look[shown].track]} frames in 3 s), ${flow.streams} video streams in all, ${hidden}'s ${flow.counts[look[hidden].track] ?? 0}`);
    const avatar = look[hidden];
    ctx.log(`${hidden}'s tile: avatar "${avatar.avatarText.replace(/\s+/g, ' ')}", tooltip "${avatar.tooltip}", caption "${avatar.caption}"`);
    assert(avatar.avatarText.startsWith(hidden[0].toUpperCase()), `the avatar does not show ${hidden}'s initial: ${avatar.avatarText}`);
    assert(avatar.avatarText.includes('Video paused'), `the avatar shows no visible hint: ${avatar.avatarText}`);
    assert(avatar.tooltip.length > 20, `the avatar has no tooltip: "${avatar.tooltip}"`);
    assert(avatar.caption.includes(avatar.tooltip), `a screen reader does not hear why ${hidden} shows no video: "${avatar.caption}"`);
    assert(!look[shown].paused && look[shown].caption === shown, `${shown}'s tile still says paused: ${JSON.stringify(look[shown])}`);
}

scenario('last-n shows the others as avatars', { timeoutMs: 240_000 }, async (ctx) => {
    const server = await ctx.server({ config: '[rooms]\np2p = false\nlast_n = 1' });
    const tone = ctx.artifact('last-n-tone.wav');
    await writeTone(tone);
    const [quiet, loud, firefox] = await Promise.all([
        ctx.chromium(),
        ctx.chromium({ args: [`--use-file-for-fake-audio-capture=${tone}`] }),
        ctx.firefox(),
    ]);
    const room = `last-n-${Date.now().toString(36)}`;

    const ada = await openPage(quiet, ctx, 'ada');
    const bo = await openPage(loud, ctx, 'bo');
    const cy = await openPage(firefox, ctx, 'cy (firefox)');
    await prepareJoin(ada, server.url, room, 'Ada');
    await prepareJoin(bo, server.url, room, 'Bo');
    await bo.click('.toggle-mic');
    await prepareJoin(cy, server.url, room, 'Cy');
    // Firefox's fake microphone is a steady tone: Cy would be the speaker.
    await cy.click('.toggle-mic');
    for (const page of [ada, bo, cy]) await clickJoin(page);
    for (const page of [ada, bo, cy]) {
        await waitFor('three tiles', () => tiles(page), { until: (t) => t.length === 3 });
    }

    // Nobody has spoken: Cy gets the camera of the first to join.
    await expectForwarded(ctx, cy, 'Ada', 'Bo');

    // Bo speaks: now Cy gets Bo's camera and Ada's is the avatar.
    await bo.click('.controls .control-mic');
    await expectForwarded(ctx, cy, 'Bo', 'Ada');
});
