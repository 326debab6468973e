// Moderation without accounts. "New meeting" gives its creator a moderator
// secret in the URL fragment (never in a request) and two links to share.
// The creator mutes another participant, locks the room with a password (a
// newcomer is asked for it, a wrong one is refused, the right one admitted),
// makes someone a co-moderator and removes a participant, who sees a clear
// page. A non-moderator's moderation message is refused by the server.
// The creator reloads and is moderator again.

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin, tiles } from './common/ui.mjs';

/**
 * Records what goes on the wire for every request of a page: the request
 * line's URL (puppeteer's `request.url()` would add the fragment, which is
 * never sent) with the headers, WebSocket handshakes included.
 * @param {import('puppeteer-core').Page} page
 * @param {string[]} into
 */
async function recordRequests(page, into) {
    const cdp = await page.createCDPSession();
    await cdp.send('Network.enable');
    cdp.on('Network.requestWillBeSent', (e) => {
        into.push(`${e.request.url} ${JSON.stringify(e.request.headers)}`);
    });
    cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => {
        into.push(`websocket ${JSON.stringify(e.request.headers)}`);
    });
}

/**
 * The participant list as `page` shows it.
 * @param {import('puppeteer-core').Page} page
 */
function listed(page) {
    return page.$$eval('.participant-list .participant', (items) => items.map((li) => ({
        id: li.getAttribute('data-participant') ?? '',
        name: li.querySelector('.participant-name')?.textContent ?? '',
        moderator: li.querySelector('.moderator-badge') !== null,
        actions: [...li.querySelectorAll('.participant-actions button')].map((b) => b.className),
    })));
}

/**
 * Clicks a button in a participant's row. The list is re-rendered whenever
 * someone joins or leaves (here: the intruder above, the late joiner), and
 * a click that finds its row replaced meanwhile fails with "Node is
 * detached from document"; the new row has the same button, so click again.
 * @param {import('puppeteer-core').Page} page
 * @param {string} selector
 */
async function clickInList(page, selector) {
    for (let attempt = 1; ; attempt += 1) {
        try {
            await page.click(selector);
            return;
        } catch (e) {
            if (attempt >= 5 || !String(e).includes('detached')) throw e;
            await new Promise((r) => setTimeout(r, 100));
        }
    }
}

/**
 * The notices on the stage of `page`.
 * @param {import('puppeteer-core').Page} page
 */
function notices(page) {
    return page.$$eval('.notices .room-notice', (n) => n.map((e) => e.textContent ?? ''));
}

/**
 * The id of the participant called `name` in `page`'s list.
 * @param {import('puppeteer-core').Page} page
 * @param {string} name
 */
async function idOf(page, name) {
    const list = await waitFor(`${name} in the list`, () => listed(page),
        { until: (l) => l.some((p) => p.name === name) });
    return /** @type {{id: string}} */ (list.find((p) => p.name === name)).id;
}

/**
 * Clicks Join and waits for the error line of the pre-join form.
 * @param {import('puppeteer-core').Page} page
 */
async function joinExpectingRefusal(page) {
    await page.click('form.prejoin-form button[type="submit"]');
    return waitFor('the refusal on the pre-join page', () => page.evaluate(() => ({
        error: document.querySelector('.prejoin-form .form-error')?.textContent ?? '',
        passwordShown: !document.querySelector('.password-field')?.hasAttribute('hidden'),
        joinEnabled: !(/** @type {HTMLButtonElement} */ (document.querySelector('.prejoin-form button[type="submit"]')).disabled),
    })), { until: (r) => r.error !== '' && r.joinEnabled });
}

scenario('moderators mute, remove and lock', { timeoutMs: 240_000 }, async (ctx) => {
    const server = await ctx.server();
    const chromium = await ctx.chromium();
    /** @type {string[]} */
    const requests = [];

    // --- the creator --------------------------------------------------
    const creator = await openPage(chromium, ctx, 'creator');
    await recordRequests(creator, requests);
    await creator.goto(server.url, { waitUntil: 'load' });
    // The client draws (and may redraw) the landing page after `load`:
    // a click can miss the button or hit a replaced one, so click until
    // the pre-join page is there.
    await waitFor('the creator to open a new meeting', async () => {
        if (await creator.$('.prejoin .share-links')) return true;
        await creator.click('.landing .new-meeting');
        return creator.$('.prejoin .share-links');
    });
    const url = new URL(creator.url());
    const room = url.pathname.slice(1);
    const secret = new URLSearchParams(url.hash.slice(1)).get('mod') ?? '';
    assert(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/.test(room), `the new room name ${room} is not the random kind`);
    assert(secret.length >= 22, `the moderator secret is short: ${secret.length} characters`);
    const links = await creator.evaluate(() => ({
        guest: /** @type {HTMLInputElement} */ (document.querySelector('.share-guest input')).value,
        moderator: /** @type {HTMLInputElement} */ (document.querySelector('.share-moderator input')).value,
    }));
    assert(links.guest === `${server.url}/${room}`, `the guest link is ${links.guest}`);
    assert(links.moderator === `${server.url}/${room}#mod=${secret}`, `the moderator link is ${links.moderator}`);
    ctx.log(`new meeting ${room}; guest link without fragment, moderator link with #mod=<${secret.length} chars>`);

    const nick = await creator.waitForSelector('input[name="nickname"]');
    await nick?.type('Mod');
    await creator.waitForSelector('.preview:not(.video-off)');
    await clickJoin(creator);
    const ownLine = await waitFor('the creator listed as moderator', () => listed(creator),
        { until: (l) => l[0]?.moderator === true });
    ctx.log(`creator's list: ${JSON.stringify(ownLine)}`);

    // --- a guest ------------------------------------------------------
    const guest = await openPage(chromium, ctx, 'guest');
    await recordRequests(guest, requests);
    await prepareJoin(guest, server.url, room, 'Guest');
    await clickJoin(guest);
    const guestId = await idOf(creator, 'Guest');
    const modId = await idOf(guest, 'Mod');
    const guestView = await waitFor('the guest\'s list', () => listed(guest), { until: (l) => l.length === 2 });
    assert(guestView.every((p) => p.actions.length === 0), `the guest sees moderation controls: ${JSON.stringify(guestView)}`);
    assert(guestView.find((p) => p.id === modId)?.moderator === true, 'the guest does not see the moderator badge');

    // A non-moderator's moderation messages are refused by the server.
    const refusals = await guest.evaluate(async (r, target) => {
        const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws`);
        /** @type {any[]} */
        const got = [];
        await new Promise((resolve, reject) => {
            ws.onerror = reject;
            ws.onopen = () => ws.send(JSON.stringify({ type: 'join', version: 1, room: r, nickname: 'Mallory', audio: false, video: false }));
            ws.onmessage = (e) => {
                const m = JSON.parse(e.data);
                if (m.type === 'joined') {
                    ws.send(JSON.stringify({ type: 'muteParticipant', id: target }));
                    ws.send(JSON.stringify({ type: 'removeParticipant', id: target }));
                    ws.send(JSON.stringify({ type: 'lockRoom', password: 'mine' }));
                    ws.send(JSON.stringify({ type: 'grantModerator', id: target }));
                }
                if (m.type === 'error') got.push(m.code);
                if (got.length === 4) resolve(null);
            };
            setTimeout(() => resolve(null), 10_000);
        });
        ws.send(JSON.stringify({ type: 'leave' }));
        ws.close();
        return got;
    }, room, modId);
    ctx.log(`a non-moderator's four moderation messages got: ${refusals.join(', ')}`);
    assert(refusals.length === 4 && refusals.every((c) => c === 'not-moderator'),
        `expected four not-moderator errors, got ${JSON.stringify(refusals)}`);
    const stillFine = await creator.evaluate(() => ({
        mic: document.querySelector('.controls .control-mic')?.getAttribute('aria-pressed'),
        locked: !document.querySelector('.lock-badge')?.hasAttribute('hidden'),
    }));
    assert(stillFine.mic === 'true' && !stillFine.locked, `the refused messages had an effect: ${JSON.stringify(stillFine)}`);

    // --- mute -----------------------------------------------------------
    await clickInList(creator, `.participant[data-participant="${guestId}"] .action-mute`);
    await waitFor('the guest\'s microphone to be off', () => guest.$eval('.controls .control-mic',
        (b) => b.getAttribute('aria-pressed')), { until: (v) => v === 'false' });
    const guestNotices = await waitFor('the guest to be told', () => notices(guest),
        { until: (n) => n.some((x) => x.includes('Mod')) });
    ctx.log(`the guest reads: ${JSON.stringify(guestNotices)}`);
    await waitFor('the creator to see the guest muted', () => creator.$eval(
        `.tile[data-participant="${guestId}"]`, (t) => t.querySelector('.badge.muted') !== null), { until: Boolean });

    // --- lock -----------------------------------------------------------
    await creator.type('.lock-form input', 'geheim');
    await creator.click('.lock-form .action-lock');
    await waitFor('the guest to see the room locked', () => guest.$eval('.lock-badge',
        (b) => !b.hasAttribute('hidden')), { until: Boolean });

    const late = await openPage(chromium, ctx, 'late');
    await recordRequests(late, requests);
    await prepareJoin(late, server.url, room, 'Late');
    const locked = await joinExpectingRefusal(late);
    assert(locked.passwordShown, 'the pre-join page does not ask for the password');
    ctx.log(`locked room: "${locked.error}"`);
    await late.type('input[name="password"]', 'falsch');
    const wrong = await joinExpectingRefusal(late);
    assert(wrong.error !== locked.error, `a wrong password says the same as none: ${wrong.error}`);
    ctx.log(`wrong password: "${wrong.error}"`);
    await late.click('input[name="password"]', { clickCount: 3 });
    await late.type('input[name="password"]', 'geheim');
    await clickJoin(late);
    const lateId = await idOf(creator, 'Late');
    ctx.log('the right password admits');

    // --- co-moderator ---------------------------------------------------
    await clickInList(creator, `.participant[data-participant="${lateId}"] .action-grant`);
    const lateView = await waitFor('the new co-moderator to get the controls', () => listed(late),
        { until: (l) => l.some((p) => p.id === guestId && p.actions.length > 0) });
    assert(lateView[0].moderator, `the co-moderator's own line has no badge: ${JSON.stringify(lateView[0])}`);
    await waitFor('everyone to see the co-moderator', () => listed(guest),
        { until: (l) => l.some((p) => p.id === lateId && p.moderator) });

    // --- remove ---------------------------------------------------------
    await clickInList(creator, `.participant[data-participant="${guestId}"] .action-remove`);
    await creator.waitForSelector('dialog.confirm-remove[open]');
    await creator.click('dialog.confirm-remove .confirm');
    await guest.waitForSelector('.page.left.removed', { timeout: 10_000 });
    const removedPage = await guest.$eval('.page.left.removed h1', (e) => e.textContent);
    ctx.log(`the removed guest reads: "${removedPage}"`);
    await waitFor('the guest gone from the creator\'s tiles', () => tiles(creator),
        { until: (t) => t.length === 2 && !t.some((x) => x.name === 'Guest') });
    const camera = await guest.evaluate(() => document.querySelectorAll('video').length);
    assert(camera === 0, 'the removed page still shows video');

    // --- the creator reloads and is moderator again ----------------------
    await creator.reload({ waitUntil: 'load' });
    await creator.waitForSelector('.prejoin .share-links');
    const again = await creator.waitForSelector('input[name="nickname"]');
    await again?.click({ clickCount: 3 });
    await again?.type('Mod again');
    await creator.waitForSelector('.preview:not(.video-off)');
    await clickJoin(creator);
    await waitFor('the creator to be moderator after the reload', () => listed(creator),
        { until: (l) => l[0]?.moderator === true && l.some((p) => p.actions.length > 0) });

    // The secret never went over the wire in a request line.
    const leaked = requests.filter((u) => u.includes(secret));
    assert(leaked.length === 0, `requests carried the secret: ${leaked.join(', ')}`);
    assert(requests.length > 0, 'no requests recorded');
    ctx.log(`${requests.length} requests, none with the secret`);
});
