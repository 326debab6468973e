// Two Chromium pages and one Firefox page join one room through the real
// UI, all three clicking "Join" at the same moment (so offers collide and
// the perfect negotiation has to work). Each page must decode video from
// both others and receive audio from both, over AES-GCM SRTP. Then one
// leaves by clicking "Leave" and the other two must show exactly two tiles.

import { scenario, waitFor, assert } from './common/harness.mjs';
import {
    openPage, prepareJoin, clickJoin, receiving, firstDecodedFrameAt, tiles,
} from './common/ui.mjs';

const MEDIA_TIMEOUT_MS = 30_000;

scenario('three browsers see and hear each other', { timeoutMs: 150_000 }, async (ctx) => {
    const server = await ctx.server();
    const [chromium, firefox] = await Promise.all([ctx.chromium(), ctx.firefox()]);
    const room = `three-${Date.now().toString(36)}`;

    const people = [
        { name: 'Ada (Chromium)', page: await openPage(chromium, ctx, 'chromium-1') },
        { name: 'Brigitte (Chromium)', page: await openPage(chromium, ctx, 'chromium-2') },
        { name: 'Chidi (Firefox)', page: await openPage(firefox, ctx, 'firefox') },
    ];
    await Promise.all(people.map((p) => prepareJoin(p.page, server.url, room, p.name)));
    ctx.log('all three pre-join pages show a camera preview');

    // Join together; then measure, inside each page, when the first remote
    // frame is decoded.
    const clicks = await Promise.all(people.map((p) => clickJoin(p.page)));
    const firstFrames = await Promise.all(people.map((p) => firstDecodedFrameAt(p.page, MEDIA_TIMEOUT_MS)));
    people.forEach((p, i) => {
        const at = firstFrames[i];
        assert(at !== null, `${p.name} decoded no remote video within ${MEDIA_TIMEOUT_MS} ms`);
        ctx.log(`${p.name}: join click → first decoded remote frame ${at - clicks[i]} ms`);
    });

    for (const p of people) {
        const r = await waitFor(`${p.name} to decode two videos and hear two microphones`,
            () => receiving(p.page),
            { timeoutMs: MEDIA_TIMEOUT_MS, until: (v) => v.videoDecoding >= 2 && v.audioReceiving >= 2 });
        const codecs = [...new Set(r.stats.filter((s) => s.packetsReceived > 0).map((s) => s.codec))].sort();
        ctx.log(`${p.name}: ${r.videoDecoding} remote videos decoding, ${r.audioReceiving} remote audio tracks receiving (${codecs.join(', ')})`);
        assert(codecs.every((c) => c === null || /^(video\/VP8|audio\/opus)$/i.test(c)),
            `${p.name} receives codecs other than VP8 and Opus: ${codecs.join(', ')}`);
        const shown = await tiles(p.page);
        assert(shown.length === 3, `${p.name} shows ${shown.length} tiles, expected 3`);
        const others = people.filter((o) => o !== p).map((o) => o.name).sort();
        const remote = shown.filter((t) => !t.self).map((t) => t.name).sort();
        assert(JSON.stringify(remote) === JSON.stringify(others),
            `${p.name} labels others as ${JSON.stringify(remote)}, expected ${JSON.stringify(others)}`);
    }
    ctx.log(`all media flowing ${Date.now() - Math.min(...clicks)} ms after the first join click`);

    // The SRTP cipher the server chose with each browser: AES-GCM (the
    // AEAD profiles str0m prefers), not AES-CM with HMAC-SHA1. Both
    // browsers report it on their transport statistics.
    for (const p of people) {
        const cipher = await p.page.evaluate(async () => {
            // @ts-ignore the client's read-only test hook
            const report = await window.funkraum.stats();
            /** @type {any[]} */
            const all = [];
            report.forEach((/** @type {any} */ s) => all.push(s));
            return all.find((s) => s.type === 'transport' && s.srtpCipher)?.srtpCipher ?? null;
        });
        ctx.log(`${p.name}: SRTP cipher ${cipher}`);
        assert(typeof cipher === 'string' && /GCM/.test(cipher),
            `${p.name} uses SRTP cipher ${cipher}, expected AES-GCM`);
    }

    // One leaves through the UI.
    const [stays1, leaver, stays2] = people;
    await leaver.page.click('.controls .leave');
    await leaver.page.waitForSelector('.page.left');
    const leftAt = Date.now();
    for (const p of [stays1, stays2]) {
        const shown = await waitFor(`${p.name} to show two tiles`, () => tiles(p.page),
            { timeoutMs: 5_000, intervalMs: 100, until: (t) => t.length === 2 });
        assert(!shown.some((t) => t.name === leaver.name), `${p.name} still shows ${leaver.name}`);
        ctx.log(`${p.name}: two tiles ${Date.now() - leftAt} ms after ${leaver.name} left`);
    }
    // And stays with exactly two (nothing comes back).
    await new Promise((r) => setTimeout(r, 1500));
    for (const p of [stays1, stays2]) {
        const shown = await tiles(p.page);
        assert(shown.length === 2, `${p.name} shows ${shown.length} tiles after the leave, expected 2`);
    }
});
