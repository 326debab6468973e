// Two people chat. A nickname and a message that look like HTML show up as
// exactly those characters and run nothing; a message that arrives while
// the chat is closed raises the unread badge; line breaks survive; a text
// the server refuses says why and is given back for editing; someone who
// joins later reads the history. The server's length limit is enforced
// in the field once the server has named it.

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin } from './common/ui.mjs';

const HOSTILE = '<img src=x onerror=alert(1)>';

/**
 * What the chat panel of `page` shows.
 * @param {import('puppeteer-core').Page} page
 */
function chatShown(page) {
    return page.$$eval('.chat-log .chat-message', (items) => items.map((li) => ({
        from: li.querySelector('.chat-from')?.textContent ?? '',
        text: li.querySelector('.chat-text')?.textContent ?? '',
        own: li.classList.contains('own'),
    })));
}

/**
 * The unread badge of the chat control, and its accessible name.
 * @param {import('puppeteer-core').Page} page
 */
function unread(page) {
    return page.$eval('.controls .control-chat', (b) => ({
        badge: b.querySelector('.unread')?.hasAttribute('hidden') ? '' : (b.querySelector('.unread')?.textContent ?? ''),
        label: b.getAttribute('aria-label') ?? '',
    }));
}

/**
 * @param {import('puppeteer-core').Page} page
 */
async function openChat(page) {
    await page.click('.controls .control-chat');
    await page.waitForSelector('.panel-chat:not([hidden]) textarea');
}

/**
 * Sets a trap that the hostile markup would spring if it ever ran, and
 * records every dialog (alert) the page opens.
 * @param {import('puppeteer-core').Page} page
 * @param {string[]} dialogs
 */
async function trap(page, dialogs) {
    page.on('dialog', (d) => {
        dialogs.push(d.message());
        d.dismiss().catch(() => {});
    });
}

scenario('chat between two pages is text only', { timeoutMs: 150_000 }, async (ctx) => {
    const MAX_CHARS = 40;
    const server = await ctx.server({ config: `[rooms]\nchat_max_chars = ${MAX_CHARS}\n` });
    const chromium = await ctx.chromium();
    const room = `chat-${Date.now().toString(36)}`;
    /** @type {string[]} */
    const dialogs = [];

    const hostile = await openPage(chromium, ctx, 'hostile');
    const viewer = await openPage(chromium, ctx, 'viewer');
    await trap(hostile, dialogs);
    await trap(viewer, dialogs);
    await prepareJoin(viewer, server.url, room, 'Viewer');
    await clickJoin(viewer);
    await prepareJoin(hostile, server.url, room, HOSTILE);
    await clickJoin(hostile);
    await waitFor('the viewer to see the hostile tile', () => viewer.$$eval('.tiles .tile', (t) => t.length),
        { until: (n) => n === 2 });

    // The hostile participant writes markup; the viewer's chat is closed.
    await openChat(hostile);
    await hostile.type('.panel-chat textarea', HOSTILE);
    await hostile.keyboard.press('Enter');
    const badge = await waitFor('the viewer\'s unread badge', () => unread(viewer),
        { until: (u) => u.badge === '1' });
    assert(/1/.test(badge.label), `the chat control's name does not say there is an unread message: ${badge.label}`);
    ctx.log(`viewer's chat control: badge "${badge.badge}", name "${badge.label}"`);

    await openChat(viewer);
    const shown = await waitFor('the message in the viewer\'s chat', () => chatShown(viewer),
        { until: (m) => m.length === 1 });
    assert(shown[0].text === HOSTILE, `the message shows as ${JSON.stringify(shown[0].text)}`);
    assert(shown[0].from === HOSTILE, `the sender shows as ${JSON.stringify(shown[0].from)}`);
    const afterOpen = await unread(viewer);
    assert(afterOpen.badge === '', `the badge stays after opening the chat: ${JSON.stringify(afterOpen)}`);

    // The writer sees it too, as its own.
    const own = await waitFor('the message in the writer\'s chat', () => chatShown(hostile),
        { until: (m) => m.length === 1 });
    assert(own[0].own && own[0].text === HOSTILE, `the writer's own message: ${JSON.stringify(own)}`);

    // An answer with a line break (Shift+Enter), sent with the button.
    await viewer.type('.panel-chat textarea', 'Hallo');
    await viewer.keyboard.down('Shift');
    await viewer.keyboard.press('Enter');
    await viewer.keyboard.up('Shift');
    await viewer.type('.panel-chat textarea', 'zweite Zeile & <b>fett</b>');
    await viewer.click('.panel-chat button[type="submit"]');
    const reply = await waitFor('the reply at the writer', () => chatShown(hostile),
        { until: (m) => m.length === 2 });
    assert(reply[1].text === 'Hallo\nzweite Zeile & <b>fett</b>', `the reply shows as ${JSON.stringify(reply[1].text)}`);

    // A text the server refuses (a control character): the reason shows and
    // the text comes back into the field.
    await viewer.evaluate(() => {
        const area = /** @type {HTMLTextAreaElement} */ (document.querySelector('.panel-chat textarea'));
        area.value = 'bell \u0007 rings';
    });
    await viewer.click('.panel-chat button[type="submit"]');
    const refused = await waitFor('the refusal in the chat panel', () => viewer.evaluate(() => ({
        error: document.querySelector('.panel-chat .chat-error')?.textContent ?? '',
        value: /** @type {HTMLTextAreaElement} */ (document.querySelector('.panel-chat textarea')).value,
    })), { until: (r) => r.error !== '' });
    ctx.log(`refused: "${refused.error}"`);
    assert(refused.value.includes('rings'), `the refused text was not given back: ${JSON.stringify(refused.value)}`);
    // A text longer than the server's limit (the client learns the limit
    // from the refusal): the field then holds no more than that.
    await viewer.evaluate(() => {
        const area = /** @type {HTMLTextAreaElement} */ (document.querySelector('.panel-chat textarea'));
        area.value = 'x'.repeat(50);
    });
    await viewer.click('.panel-chat button[type="submit"]');
    const tooLong = await waitFor('the length refusal', () => viewer.evaluate(() => ({
        error: document.querySelector('.panel-chat .chat-error')?.textContent ?? '',
        maxLength: /** @type {HTMLTextAreaElement} */ (document.querySelector('.panel-chat textarea')).maxLength,
    })), { until: (r) => /40/.test(r.error) });
    ctx.log(`too long: "${tooLong.error}", the field now takes at most ${tooLong.maxLength}`);
    assert(tooLong.maxLength === MAX_CHARS, `the field's limit is ${tooLong.maxLength}, not the server's ${MAX_CHARS}`);

    // Someone who comes later reads the history.
    const late = await openPage(chromium, ctx, 'late');
    await trap(late, dialogs);
    await prepareJoin(late, server.url, room, 'Late');
    await clickJoin(late);
    await openChat(late);
    const history = await waitFor('the history at the late joiner', () => chatShown(late),
        { until: (m) => m.length === 2 });
    assert(history[0].text === HOSTILE && history[0].from === HOSTILE, `history: ${JSON.stringify(history)}`);
    assert(history[1].text.startsWith('Hallo\n'), `history: ${JSON.stringify(history)}`);

    // Nothing of the markup ran or became an element, anywhere.
    for (const [name, page] of [['viewer', viewer], ['hostile', hostile], ['late', late]]) {
        const images = await /** @type {import('puppeteer-core').Page} */ (page).$$eval('img, b', (els) => els.length);
        assert(images === 0, `the ${name} page has ${images} <img>/<b> elements`);
    }
    assert(dialogs.length === 0, `a page opened a dialog: ${JSON.stringify(dialogs)}`);
    ctx.log('markup in nickname and message stayed text; history, badge and refusal work');
});
