// Two people alone in a room (one in Chromium, one in Firefox) talk
// browser to browser: the candidate pair
// their direct connection uses joins the two browsers (not the server's
// media address), they decode each other's video from it, and the server
// forwards nothing for the room. A third person moves everyone to the
// server without a reload, all three decode video; when the third leaves,
// the two go back to peer to peer.

import { scenario, assert, waitFor } from './common/harness.mjs';
import {
    openPage, prepareJoin, clickJoin, tiles, selectedPair, flowOver, bytesSent, mediaMode, candidates,
} from './common/ui.mjs';

const SWITCH_TIMEOUT_MS = 30_000;
const WINDOW_MS = 2_500;

/**
 * @param {{address: string, port: number}} c
 */
const where = (c) => `${c.address}:${c.port}`;

/**
 * Both pages' direct connections are up and joined to each other.
 * @param {import('./common/harness.mjs').Context} ctx
 * @param {{name: string, page: import('puppeteer-core').Page}[]} two
 */
async function assertDirect(ctx, two) {
    const [a, b] = two;
    for (const p of two) {
        await waitFor(`${p.name} to send media peer to peer`, () => mediaMode(p.page),
            { timeoutMs: SWITCH_TIMEOUT_MS, until: (m) => !!m && m.mode === 'p2p' && m.direct });
    }
    const aDirect = await waitFor('a selected direct pair at A', () => selectedPair(a.page, 'direct'));
    const bDirect = await waitFor('a selected direct pair at B', () => selectedPair(b.page, 'direct'));
    const aServer = await waitFor('a selected server pair at A', () => selectedPair(a.page, 'server'));
    ctx.log(`${a.name} direct: ${where(aDirect.local)} (${aDirect.local.type}) → ${where(aDirect.remote)} (${aDirect.remote.type}); server media at ${where(aServer.remote)}`);
    ctx.log(`${b.name} direct: ${where(bDirect.local)} (${bDirect.local.type}) → ${where(bDirect.remote)} (${bDirect.remote.type})`);
    // Each end's remote candidate is one of the other browser's own
    // candidates (ICE may leave the two ends on different pairs, e.g. one
    // on IPv6 and one on IPv4; both are direct), and none of the server's.
    const own = { a: await candidates(a.page, 'direct'), b: await candidates(b.page, 'direct') };
    const server = [...(await candidates(a.page, 'server')).remote, ...(await candidates(b.page, 'server')).remote];
    /**
     * Whether `pair` goes to one of the other end's own candidates. A
     * peer-reflexive remote (learned from the other end's check before its
     * candidate came by signaling) is shown by Chromium without its
     * address; then its port must be that of the other end's selected
     * local candidate, itself one of the other end's own.
     * @param {{remote: {address: string, port: number, type: string}}} pair
     * @param {string[]} otherOwn
     * @param {{local: {address: string, port: number}}} otherPair
     */
    const goesTo = (pair, otherOwn, otherPair) => otherOwn.includes(where(pair.remote))
        || (pair.remote.type === 'prflx' && !pair.remote.address
            && pair.remote.port === otherPair.local.port && otherOwn.includes(where(otherPair.local)));
    assert(goesTo(aDirect, own.b.local, bDirect),
        `${a.name}'s direct pair goes to ${where(aDirect.remote)}, not one of ${b.name}'s candidates ${own.b.local.join(', ')}`);
    assert(goesTo(bDirect, own.a.local, aDirect),
        `${b.name}'s direct pair goes to ${where(bDirect.remote)}, not one of ${a.name}'s candidates ${own.a.local.join(', ')}`);
    for (const [who, pair] of [[a.name, aDirect], [b.name, bDirect]]) {
        const remote = where(/** @type {{remote: {address: string, port: number}}} */ (pair).remote);
        assert(!server.includes(remote), `${who}'s direct pair goes to the server's media address ${remote}`);
    }
    for (const pair of [aDirect, bDirect]) {
        assert(pair.local.type !== 'relay' && pair.remote.type !== 'relay', `a direct pair is relayed: ${JSON.stringify(pair)}`);
    }

    for (const p of two) {
        const badge = await p.page.$eval('.direct-badge', (b) => !b.hasAttribute('hidden'));
        assert(badge, `${p.name}'s room does not say the connection is direct`);
    }

    // Media flows on the direct connection, and the server forwards none:
    // nothing arrives on either server connection, nothing goes to it.
    for (const p of two) {
        const direct = await waitFor(`${p.name} to decode the peer directly`,
            () => flowOver(p.page, 'direct', 1500),
            { timeoutMs: SWITCH_TIMEOUT_MS, until: (f) => f.videoGrowing >= 1 && f.audioGrowing >= 1 });
        ctx.log(`${p.name}: direct connection brings ${direct.videoGrowing} video and ${direct.audioGrowing} audio stream(s)`);
    }
    const sentBefore = await Promise.all(two.map((p) => bytesSent(p.page, 'server')));
    const viaServer = await Promise.all(two.map((p) => flowOver(p.page, 'server', WINDOW_MS)));
    const sentAfter = await Promise.all(two.map((p) => bytesSent(p.page, 'server')));
    two.forEach((p, i) => {
        const v = viaServer[i];
        ctx.log(`${p.name}: over ${WINDOW_MS} ms the server connection brought ${v.packets} RTP packets with ${v.payloadBytes} payload bytes and took ${sentAfter[i] - sentBefore[i]} bytes`);
        // The server may still probe the idle connection's bandwidth with
        // padding-only packets (str0m keeps ~50 kbit/s once it has an
        // estimate); media is what it must not forward.
        assert(v.payloadBytes === 0 && v.videoGrowing === 0,
            `the server forwarded media to ${p.name} in p2p mode: ${v.payloadBytes} payload bytes in ${v.packets} packets`);
        assert(sentAfter[i] === sentBefore[i], `${p.name} still sends media to the server in p2p mode`);
    });
}

scenario('two people talk peer to peer', { timeoutMs: 240_000 }, async (ctx) => {
    const server = await ctx.server();
    const [chromium, firefox] = await Promise.all([ctx.chromium(), ctx.firefox()]);
    const room = `p2p-${Date.now().toString(36)}`;

    const ada = { name: 'Ada', page: await openPage(chromium, ctx, 'ada') };
    const bo = { name: 'Bo', page: await openPage(firefox, ctx, 'bo') };
    const cy = { name: 'Cy', page: await openPage(chromium, ctx, 'cy') };
    await prepareJoin(ada.page, server.url, room, ada.name);
    await prepareJoin(bo.page, server.url, room, bo.name);
    await clickJoin(ada.page);
    await clickJoin(bo.page);
    const started = Date.now();
    await assertDirect(ctx, [ada, bo]);
    ctx.log(`peer to peer checked ${Date.now() - started} ms after the second join`);

    // A third person: everyone to the server, no reload.
    const navigations = { count: 0 };
    for (const p of [ada, bo]) p.page.on('framenavigated', () => { navigations.count += 1; });
    await prepareJoin(cy.page, server.url, room, cy.name);
    const thirdAt = await clickJoin(cy.page);
    for (const p of [ada, bo, cy]) {
        await waitFor(`${p.name} to be back on the server`, () => mediaMode(p.page),
            { timeoutMs: SWITCH_TIMEOUT_MS, until: (m) => !!m && m.mode === 'sfu' && !m.direct });
    }
    for (const p of [ada, bo, cy]) {
        const flow = await waitFor(`${p.name} to decode both others through the server`,
            () => flowOver(p.page, 'server', 1500),
            { timeoutMs: SWITCH_TIMEOUT_MS, until: (f) => f.videoGrowing >= 2 && f.audioGrowing >= 2 });
        const shown = await tiles(p.page);
        assert(shown.length === 3, `${p.name} shows ${shown.length} tiles`);
        ctx.log(`${p.name}: ${flow.videoGrowing} videos decoding through the server, ${Date.now() - thirdAt} ms after the third join`);
    }
    const direct = await ada.page.evaluate(async () => /** @type {any} */ (window).funkraum.directStats());
    assert(direct === null, 'Ada still has a direct connection with three in the room');
    const badge = await ada.page.$eval('.direct-badge', (b) => !b.hasAttribute('hidden'));
    assert(!badge, 'Ada\'s room still says the connection is direct');

    // The third leaves: the two go back to peer to peer.
    await cy.page.click('.controls .leave');
    await cy.page.waitForSelector('.page.left');
    const leftAt = Date.now();
    await assertDirect(ctx, [ada, bo]);
    ctx.log(`back to peer to peer ${Date.now() - leftAt} ms after the third left`);
    assert(navigations.count === 0, `the pages reloaded or navigated ${navigations.count} time(s)`);
    for (const p of [ada, bo]) {
        const shown = await tiles(p.page);
        assert(shown.length === 2, `${p.name} shows ${shown.length} tiles after the third left`);
    }
});
