// On a portrait phone (390×844) the landing page, the pre-join page and the
// room fit the screen's width: no horizontal scrolling, the controls are on
// screen and reachable. Screenshots are kept for a person to look at.

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin, horizontalOverflow, tiles } from './common/ui.mjs';

const PHONE = { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

/**
 * @param {import('puppeteer-core').Page} page
 * @param {string} where
 */
async function assertFitsWidth(page, where) {
    const o = await horizontalOverflow(page);
    assert(o.scrollWidth <= o.innerWidth && o.outside.length === 0,
        `${where} overflows horizontally: scrollWidth ${o.scrollWidth} > ${o.innerWidth}; outside: ${o.outside.join(', ')}`);
}

scenario('phone portrait: the room fits the screen', { timeoutMs: 120_000 }, async (ctx) => {
    const server = await ctx.server();
    const chromium = await ctx.chromium();
    const room = `phone-${Date.now().toString(36)}`;

    const phone = await openPage(chromium, ctx, 'phone', PHONE);
    await phone.goto(server.url, { waitUntil: 'load' });
    await phone.waitForSelector('.landing');
    await assertFitsWidth(phone, 'the landing page');
    await phone.screenshot({ path: ctx.artifact('phone-landing.png') });
    // A new meeting's pre-join page, with both links to share.
    await phone.click('.landing .new-meeting');
    await phone.waitForSelector('.prejoin .share-links');
    await assertFitsWidth(phone, 'the pre-join page of a new meeting');
    await phone.screenshot({ path: ctx.artifact('phone-new-meeting.png'), fullPage: true });

    await prepareJoin(phone, server.url, room, 'A rather long nickname, 32 chars');
    await assertFitsWidth(phone, 'the pre-join page');
    await phone.screenshot({ path: ctx.artifact('phone-prejoin.png'), fullPage: true });

    // Two more people, so the phone shows a grid of three.
    const desktop = await openPage(chromium, ctx, 'desktop');
    const desktop2 = await openPage(chromium, ctx, 'desktop-2');
    await prepareJoin(desktop, server.url, room, 'Desk');
    await prepareJoin(desktop2, server.url, room, 'Desk two');
    await clickJoin(desktop);
    await clickJoin(desktop2);
    await clickJoin(phone);
    await waitFor('three tiles on the phone', () => tiles(phone), { until: (t) => t.length === 3 });
    await waitFor('the remote videos to play on the phone', () => phone.evaluate(() =>
        [...document.querySelectorAll('.tile:not(.self) video')]
            .filter((v) => v instanceof HTMLVideoElement && v.videoWidth > 0).length), { until: (n) => n === 2 });

    await assertFitsWidth(phone, 'the room');
    const layout = await phone.evaluate(() => {
        const rect = (/** @type {string} */ sel) => {
            const el = document.querySelector(sel);
            if (!el) return null;
            const r = el.getBoundingClientRect();
            return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height };
        };
        return {
            innerHeight: window.innerHeight,
            controls: [...document.querySelectorAll('.controls button')].map((b) => {
                const r = b.getBoundingClientRect();
                return { bottom: r.bottom, right: r.right, width: r.width, height: r.height };
            }),
            tiles: [...document.querySelectorAll('.tiles .tile')].map((t) => t.getBoundingClientRect().width),
            stage: rect('.stage'),
        };
    });
    ctx.log(`phone room: tiles ${layout.tiles.map((w) => Math.round(w)).join('/')} px wide, controls at ${Math.round(layout.controls[0]?.bottom ?? 0)} of ${layout.innerHeight} px`);
    assert(layout.controls.length >= 7, `expected at least 7 controls, got ${layout.controls.length}`);
    for (const c of layout.controls) {
        assert(c.bottom <= layout.innerHeight && c.right <= 390, 'a control is off screen');
        assert(c.width >= 44 && c.height >= 44, `a control is smaller than a 44 px touch target (${c.width}×${c.height})`);
    }
    for (const w of layout.tiles) assert(w > 300, `a tile is only ${w} px wide on a 390 px phone`);
    assert(layout.stage !== null && layout.stage.height > 300,
        `the stage is only ${layout.stage?.height} px high under the controls`);
    await phone.screenshot({ path: ctx.artifact('phone-room.png') });
    ctx.log(`screenshots in ${ctx.artifact('')}`);

    // The participant list, the chat and the settings open over the stage
    // and still fit; so does speaker view.
    for (const [control, panel] of [['people', 'people'], ['chat', 'chat'], ['settings', 'settings']]) {
        await phone.click(`.controls .control-${control}`);
        await phone.waitForSelector(`.panel-${panel}:not([hidden])`);
        await assertFitsWidth(phone, `the room with the ${panel} panel open`);
        await phone.screenshot({ path: ctx.artifact(`phone-room-${panel}.png`) });
        await phone.click(`.panel-${panel} .panel-header button`);
        await phone.waitForSelector(`.panel-${panel}[hidden]`);
    }
    await phone.click('.view-switch');
    await phone.waitForSelector('.room.speaker-view .featured .tile');
    await assertFitsWidth(phone, 'the room in speaker view');
    await phone.screenshot({ path: ctx.artifact('phone-room-speaker-view.png') });
});
