// Participants behind a firewall that lets nothing but the relay through:
// a Chromium page forced to relay-only ICE (the `#relay` switch of the room
// address) joins a room with a normal page. Both decode the other's video,
// and the relay-only page's media really goes through the built-in TURN
// server (its selected candidate pair is a relayed one).

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, clickJoin, receiving } from './common/ui.mjs';

/**
 * Opens `room#relay` (or the plain room), types the nickname and waits for
 * the camera preview, like ui.prepareJoin but with the fragment.
 * @param {import('puppeteer-core').Page} page
 * @param {string} url
 * @param {string} nickname
 */
async function prepare(page, url, nickname) {
    await page.goto(url, { waitUntil: 'load' });
    const input = await page.waitForSelector('input[name="nickname"]');
    await input?.click();
    await input?.type(nickname);
    await page.waitForSelector('.preview:not(.video-off)', { timeout: 20_000 });
}

scenario('relay-only page talks through TURN', { timeoutMs: 120_000 }, async (ctx) => {
    // Peer-to-peer off: the two must meet through the server, one of them
    // reaching it only through the relay.
    const server = await ctx.server({ config: '[rooms]\np2p = false\n' });
    const chromium = await ctx.chromium();
    const relayed = await openPage(chromium, ctx, 'relayed');
    const direct = await openPage(chromium, ctx, 'direct');
    await prepare(relayed, `${server.url}/turn-check#relay`, 'Hinter Firewall');
    await prepare(direct, `${server.url}/turn-check`, 'Offen');
    await clickJoin(relayed);
    await clickJoin(direct);

    await waitFor('video decoded on both pages', async () => {
        const [a, b] = await Promise.all([receiving(relayed), receiving(direct)]);
        return a.videoDecoding >= 1 && b.videoDecoding >= 1;
    }, { timeoutMs: 40_000 });

    const pair = await relayed.evaluate(async () => {
        // @ts-ignore the client's read-only test hook
        const report = await window.funkraum.stats();
        /** @type {Map<string, any>} */
        const byId = new Map();
        report.forEach((/** @type {any} */ s) => byId.set(s.id, s));
        const transport = [...byId.values()].find((s) => s.type === 'transport');
        const selected = transport && byId.get(transport.selectedCandidatePairId);
        const local = selected && byId.get(selected.localCandidateId);
        return { local: local?.candidateType, protocol: local?.relayProtocol };
    });
    ctx.log(`relay-only page's selected local candidate: ${JSON.stringify(pair)}`);
    assert(pair.local === 'relay', `the relay-only page's media does not go through TURN: ${JSON.stringify(pair)}`);
});
