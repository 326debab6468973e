// Camera, microphone and speaker can be chosen on the pre-join page and
// during the call. A new camera or microphone reaches the others without a
// new negotiation (the client sends no further offer), and the chosen
// speaker plays the others' sound.

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin } from './common/ui.mjs';

/**
 * The label of the own camera and microphone tracks that are being sent.
 * @param {import('puppeteer-core').Page} page
 */
function ownDevices(page) {
    return page.evaluate(() => {
        const v = /** @type {HTMLVideoElement|null} */ (document.querySelector('.tile.self video'));
        const video = v?.srcObject instanceof MediaStream ? v.srcObject.getVideoTracks()[0] : null;
        // @ts-ignore the client's test hook
        const sending = window.funkraum.sending();
        return {
            camera: video?.label ?? '',
            cameraLive: video?.readyState === 'live',
            sentCamera: sending?.camera ?? null,
            sentMicrophone: sending?.microphone ?? null,
        };
    });
}

/**
 * Selects the option whose text is `label` in the select called `name`.
 * @param {import('puppeteer-core').Page} page
 * @param {string} scope   CSS scope of the select
 * @param {string} name
 * @param {string} label
 */
async function choose(page, scope, name, label) {
    const value = await waitFor(`"${label}" among the ${name} options`, () => page.$$eval(
        `${scope} select[name="${name}"] option`,
        (opts, l) => opts.find((o) => o.textContent === l)?.getAttribute('value') ?? null, label), { until: Boolean });
    await page.select(`${scope} select[name="${name}"]`, /** @type {string} */ (value));
    return /** @type {string} */ (value);
}

/**
 * Frames the page shows of the other's video, and audio packets received.
 * @param {import('puppeteer-core').Page} page
 */
function received(page) {
    return page.evaluate(async () => {
        const v = /** @type {HTMLVideoElement|null} */ (document.querySelector('.tile:not(.self) video'));
        // @ts-ignore the client's test hook
        const report = await window.funkraum.stats();
        let audio = 0;
        report?.forEach((/** @type {any} */ s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'audio') audio += s.packetsReceived ?? 0;
        });
        return { frames: v?.getVideoPlaybackQuality().totalVideoFrames ?? 0, audio };
    });
}

scenario('choosing devices mid-call needs no renegotiation', { timeoutMs: 150_000 }, async (ctx) => {
    const server = await ctx.server({ config: '[rooms]\np2p = false\n' });
    // Four fake cameras (Chromium gives the second one a depth format no
    // encoder takes; the fourth is plain I420 like the first), three fake
    // microphones and speakers.
    const chromium = await ctx.chromium({ args: ['--use-fake-device-for-media-stream=device-count=4'] });
    const room = `devices-${Date.now().toString(36)}`;

    const viewer = await openPage(chromium, ctx, 'viewer');
    await prepareJoin(viewer, server.url, room, 'Viewer');
    await clickJoin(viewer);

    // The chooser picks the fourth camera before joining.
    const chooser = await openPage(chromium, ctx, 'chooser');
    /** @type {string[]} */
    const offers = [];
    const cdp = await chooser.createCDPSession();
    await cdp.send('Network.enable');
    cdp.on('Network.webSocketFrameSent', (e) => {
        if (/"type":"offer"/.test(e.response.payloadData)) offers.push(e.response.payloadData);
    });
    await prepareJoin(chooser, server.url, room, 'Chooser');
    await choose(chooser, '.prejoin', 'camera', 'fake_device_3');
    await waitFor('the preview from the fourth camera', () => chooser.evaluate(() => {
        const v = /** @type {HTMLVideoElement} */ (document.querySelector('.preview-video'));
        return v.srcObject instanceof MediaStream ? v.srcObject.getVideoTracks()[0].label : '';
    }), { until: (l) => l === 'fake_device_3' });
    await clickJoin(chooser);
    const before = await waitFor('the chooser to send the fourth camera', () => ownDevices(chooser),
        { until: (d) => d.camera === 'fake_device_3' && d.cameraLive && d.sentCamera === 'fake_device_3' });
    ctx.log(`joined with ${before.camera}`);
    await waitFor('the viewer to see the chooser', () => received(viewer), { until: (r) => r.frames > 0 && r.audio > 0 });
    await waitFor('the first negotiation to settle', async () => offers.length, { until: (n) => n >= 1 });
    await new Promise((r) => setTimeout(r, 1000));
    const offersBefore = offers.length;

    // During the call: the other camera and another microphone.
    await chooser.click('.controls .control-settings');
    await chooser.waitForSelector('.panel-settings:not([hidden]) select[name="camera"]');
    await choose(chooser, '.panel-settings', 'camera', 'fake_device_0');
    await waitFor('the chooser to send the first camera', () => ownDevices(chooser),
        { until: (d) => d.camera === 'fake_device_0' && d.cameraLive && d.sentCamera === 'fake_device_0' });
    await choose(chooser, '.panel-settings', 'microphone', 'Fake Audio Input 2');
    const now = await waitFor('the new microphone to be sent', () => ownDevices(chooser),
        { until: (d) => d.sentMicrophone === 'Fake Audio Input 2' });
    ctx.log(`switched to ${now.sentCamera} and ${now.sentMicrophone} during the call`);

    const r0 = await received(viewer);
    const r1 = await waitFor('the viewer to keep receiving after the switch', () => received(viewer),
        { timeoutMs: 15_000, until: (r) => r.frames > r0.frames + 5 && r.audio > r0.audio + 20 });
    ctx.log(`viewer: ${r1.frames - r0.frames} more frames, ${r1.audio - r0.audio} more audio packets after the switch`);
    await new Promise((r) => setTimeout(r, 1000));
    assert(offers.length === offersBefore,
        `switching devices sent ${offers.length - offersBefore} new offer(s): it renegotiated`);

    // The speaker: the viewer sends the chooser's voice to another output.
    await viewer.click('.controls .control-settings');
    const sink = await choose(viewer, '.panel-settings', 'speaker', 'Fake Audio Output 1');
    const sinks = await waitFor('the remote audio on the chosen speaker', () => viewer.$$eval('.tile audio',
        (els) => els.map((a) => /** @type {any} */ (a).sinkId)), { until: (s) => s.length > 0 && s.every((x) => x === sink) });
    ctx.log(`viewer plays ${sinks.length} remote audio element(s) on "Fake Audio Output 1"`);
});
