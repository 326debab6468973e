// Who speaks is highlighted (from the server's `activeSpeaker` with three
// people, also for who joins while someone already speaks; measured in the
// browser when two talk peer to peer), and speaker view shows them large; a
// raised hand shows in the tile and the participant list and is announced;
// the participant list shows who has microphone and camera off.

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin, tiles, mediaMode } from './common/ui.mjs';
import { writeTone } from './common/audio.mjs';

/**
 * Whose tile `page` highlights as speaking (nickname labels).
 * @param {import('puppeteer-core').Page} page
 */
function speaking(page) {
    return page.$$eval('.tile.speaking .tile-name', (els) => els.map((e) => e.textContent ?? ''));
}

/**
 * The participant list of `page`: name, hand, microphone, camera.
 * @param {import('puppeteer-core').Page} page
 */
function listed(page) {
    return page.$$eval('.participant-list .participant', (items) => items.map((li) => ({
        name: li.querySelector('.participant-name')?.textContent ?? '',
        hand: li.querySelector('.state-hand') !== null,
        state: li.querySelector('.participant-state')?.textContent ?? '',
    })));
}

scenario('speakers, hands and views', { timeoutMs: 200_000 }, async (ctx) => {
    const server = await ctx.server();
    // Every microphone of this browser "speaks" a steady tone; whoever keeps
    // the microphone on is the one speaking.
    const tone = ctx.artifact('speaking-tone.wav');
    await writeTone(tone);
    const chromium = await ctx.chromium({ args: [`--use-file-for-fake-audio-capture=${tone}`] });
    const room = `speak-${Date.now().toString(36)}`;

    const people = [
        { name: 'Ada', page: await openPage(chromium, ctx, 'ada') },
        { name: 'Bo', page: await openPage(chromium, ctx, 'bo') },
        { name: 'Cy', page: await openPage(chromium, ctx, 'cy') },
    ];
    for (const p of people) await prepareJoin(p.page, server.url, room, p.name);
    const [ada, bo, cy] = people;
    // Ada is alone first and already the speaker when the others come:
    // they must be told who speaks although it does not change.
    await clickJoin(ada.page);
    await waitFor('Ada to see herself as the speaker', () => speaking(ada.page),
        { timeoutMs: 20_000, intervalMs: 100, until: (s) => s.includes('Ada (you)') });
    for (const p of [bo, cy]) await clickJoin(p.page);
    for (const p of people) await waitFor(`${p.name} to show three tiles`, () => tiles(p.page), { until: (t) => t.length === 3 });

    // Only Ada's microphone stays on: the server names her (the fake
    // microphone beeps), and nobody else.
    for (const p of [bo, cy]) await p.page.click('.controls .control-mic');
    const seen = await waitFor('Cy to highlight Ada as speaking', () => speaking(cy.page),
        { timeoutMs: 20_000, intervalMs: 100, until: (s) => s.includes('Ada') });
    ctx.log(`Cy highlights ${JSON.stringify(seen)}`);
    /** @type {Set<string>} */
    const everyone = new Set();
    for (let i = 0; i < 20; i += 1) {
        for (const n of await speaking(cy.page)) everyone.add(n);
        await new Promise((r) => setTimeout(r, 150));
    }
    assert(!everyone.has('Bo') && !everyone.has('Cy (you)'), `a muted person was highlighted: ${[...everyone]}`);
    const listSpeaking = await cy.page.$$eval('.participant.speaking .participant-name', (e) => e.map((x) => x.textContent));
    ctx.log(`Cy's list marks as speaking: ${JSON.stringify(listSpeaking)}`);

    // Speaker view: the speaker large, the others in a strip.
    await cy.page.click('.view-switch');
    const big = await waitFor('Cy\'s speaker view to show Ada large', () => cy.page.evaluate(() => ({
        featured: document.querySelector('.featured .tile .tile-name')?.textContent ?? '',
        strip: [...document.querySelectorAll('.tiles.filmstrip .tile .tile-name')].map((e) => e.textContent),
        pressedLabel: document.querySelector('.view-switch')?.getAttribute('aria-label') ?? '',
    })), { until: (v) => v.featured === 'Ada' });
    ctx.log(`speaker view: ${big.featured} large, strip ${JSON.stringify(big.strip)}; the switch now says "${big.pressedLabel}"`);
    assert(big.strip.length === 2, `the strip shows ${big.strip.length} tiles`);
    await cy.page.click('.view-switch');
    await waitFor('Cy back in tile view', () => cy.page.$eval('.room', (r) => !r.classList.contains('speaker-view')), { until: Boolean });

    // Bo raises a hand: tile, list and a notice at Ada; lowered again.
    await bo.page.click('.controls .control-hand');
    const pressed = await bo.page.$eval('.controls .control-hand', (b) => b.getAttribute('aria-pressed'));
    assert(pressed === 'true', 'Bo\'s hand button is not pressed');
    const hand = await waitFor('Ada to see Bo\'s hand', () => ada.page.evaluate(() => {
        const tile = [...document.querySelectorAll('.tile')].find((t) => t.querySelector('.tile-name')?.textContent === 'Bo');
        return {
            tile: tile?.querySelector('.badge.hand') !== null && tile !== undefined,
            notice: [...document.querySelectorAll('.notices .room-notice')].map((n) => n.textContent).join(' '),
        };
    }), { until: (h) => h.tile && h.notice.includes('Bo') });
    ctx.log(`Ada is told: "${hand.notice}"`);
    const list = await waitFor('Ada\'s list to show the hand first', () => listed(ada.page),
        { until: (l) => l[1]?.name === 'Bo' && l[1].hand });
    ctx.log(`Ada's list: ${JSON.stringify(list)}`);
    const bo1 = list.find((x) => x.name === 'Bo');
    assert(!!bo1 && /microphone off/.test(bo1.state) && /camera on/.test(bo1.state),
        `the list does not say Bo's microphone is off and camera on: ${JSON.stringify(bo1)}`);
    await bo.page.click('.controls .control-hand');
    await waitFor('Bo\'s hand down at Ada', () => listed(ada.page), { until: (l) => !l.some((x) => x.hand) });

    // Two people talking peer to peer: the browser finds the speaker itself.
    await cy.page.click('.controls .leave');
    await cy.page.waitForSelector('.page.left');
    await waitFor('Bo to talk to Ada peer to peer', () => mediaMode(bo.page),
        { timeoutMs: 30_000, until: (m) => !!m && m.direct });
    const p2p = await waitFor('Bo to highlight Ada as speaking peer to peer', () => speaking(bo.page),
        { timeoutMs: 20_000, intervalMs: 100, until: (s) => s.includes('Ada') });
    ctx.log(`peer to peer, Bo highlights ${JSON.stringify(p2p)}`);
});
