// When two browsers cannot reach each other directly, the client gives up
// on the direct connection after its timeout, says `p2pState failed`, and
// the two talk through the server instead, without a reload.
//
// Both pages ignore the candidates relayed to them (addIceCandidate does
// nothing), so the direct connection has no address to try. The connection
// to the server does not need relayed candidates (the server is ICE-lite
// and puts its own into its SDP), so it is unaffected.

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin, flowOver, mediaMode } from './common/ui.mjs';
import { P2P_CONNECT_TIMEOUT_MS } from '../../web/p2p.js';

scenario('peer to peer that cannot connect falls back to the server', { timeoutMs: 150_000 }, async (ctx) => {
    const server = await ctx.server();
    const chromium = await ctx.chromium();
    const room = `noroute-${Date.now().toString(36)}`;

    /** @type {string[]} */
    const states = [];
    const people = [];
    for (const name of ['Ada', 'Bo']) {
        const page = await openPage(chromium, ctx, name);
        await page.evaluateOnNewDocument(() => {
            RTCPeerConnection.prototype.addIceCandidate = () => Promise.resolve();
        });
        const cdp = await page.createCDPSession();
        await cdp.send('Network.enable');
        cdp.on('Network.webSocketFrameSent', (e) => {
            const m = /"type":"p2pState","state":"(\w+)"/.exec(e.response.payloadData);
            if (m) states.push(`${name}: ${m[1]}`);
        });
        people.push({ name, page });
    }
    for (const p of people) await prepareJoin(p.page, server.url, room, p.name);
    const joinedAt = Date.now();
    for (const p of people) await clickJoin(p.page);

    // They are told to go peer to peer, and try.
    for (const p of people) {
        await waitFor(`${p.name} to be told peer to peer`, () => mediaMode(p.page),
            { timeoutMs: 15_000, until: (m) => !!m && m.mode === 'p2p' });
    }
    // Meanwhile they hear and see each other through the server.
    for (const p of people) {
        const f = await waitFor(`${p.name} to get media through the server while trying`,
            () => flowOver(p.page, 'server', 1000),
            { timeoutMs: 15_000, until: (x) => x.videoGrowing >= 1 });
        ctx.log(`${p.name}: ${f.videoGrowing} video through the server while the direct connection is tried`);
    }

    // After the timeout: failed, back to the server for good.
    for (const p of people) {
        await waitFor(`${p.name} to give up on peer to peer`, () => mediaMode(p.page),
            { timeoutMs: P2P_CONNECT_TIMEOUT_MS + 15_000, until: (m) => !!m && m.mode === 'sfu' && !m.direct });
    }
    ctx.log(`both back on the server ${Date.now() - joinedAt} ms after joining (timeout ${P2P_CONNECT_TIMEOUT_MS} ms); sent: ${states.join(', ')}`);
    assert(states.some((s) => s.endsWith('failed')), `no p2pState failed was sent: ${JSON.stringify(states)}`);
    assert(!states.some((s) => s.endsWith('connected')), `a page claimed a direct connection: ${JSON.stringify(states)}`);
    for (const p of people) {
        const f = await waitFor(`${p.name} to decode the other through the server`,
            () => flowOver(p.page, 'server', 1500),
            { timeoutMs: 15_000, until: (x) => x.videoGrowing >= 1 && x.audioGrowing >= 1 });
        const direct = await p.page.evaluate(() => /** @type {any} */ (window).funkraum.directStats());
        assert(direct === null, `${p.name} keeps a direct connection after failing`);
        ctx.log(`${p.name}: ${f.videoGrowing} video and ${f.audioGrowing} audio through the server after the fallback`);
    }
    // It stays that way (the server does not ask again while they are two).
    await new Promise((r) => setTimeout(r, 3000));
    for (const p of people) {
        const m = await mediaMode(p.page);
        assert(!!m && m.mode === 'sfu', `${p.name} went back to ${JSON.stringify(m)}`);
    }
});
