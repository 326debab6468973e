// Accessibility at a glance, on every page and in every state of the room
// a moderator sees (panels, chat, dialog, notices): each control has a name
// a screen reader can say, all text has enough contrast against what is
// behind it (WCAG AA: 4.5:1, 3:1 for large text), and every control reached
// with Tab shows a focus ring.

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin } from './common/ui.mjs';

/**
 * Runs in the page: unnamed controls and text below the contrast minimum.
 * @returns {{unnamed: string[], lowContrast: string[], checked: number}}
 */
function audit() {
    /** @param {string} c */
    const parse = (c) => {
        const m = /rgba?\(([^)]+)\)/.exec(c);
        if (!m) return null;
        const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
        return { r, g, b, a };
    };
    /** @param {{r: number, g: number, b: number}} c */
    const luminance = (c) => {
        const f = (/** @type {number} */ v) => {
            const s = v / 255;
            return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
    };
    /**
     * @param {{r: number, g: number, b: number, a: number}} top
     * @param {{r: number, g: number, b: number}} below
     */
    const over = (top, below) => ({
        r: top.r * top.a + below.r * (1 - top.a),
        g: top.g * top.a + below.g * (1 - top.a),
        b: top.b * top.a + below.b * (1 - top.a),
    });
    /**
     * The colour behind an element: its own and its ancestors' backgrounds,
     * blended from the page's background up.
     * @param {Element} el
     */
    const background = (el) => {
        /** @type {{r: number, g: number, b: number, a: number}[]} */
        const layers = [];
        for (let e = /** @type {Element|null} */ (el); e; e = e.parentElement) {
            const c = parse(getComputedStyle(e).backgroundColor);
            if (c && c.a > 0) layers.push(c);
            if (c && c.a >= 1) break;
        }
        let result = { r: 255, g: 255, b: 255 };
        for (const layer of layers.reverse()) result = over(layer, result);
        return result;
    };
    /** @param {Element} el */
    const visible = (el) => {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) return false;
        if (el.closest('[hidden], .visually-hidden')) return false;
        const s = getComputedStyle(el);
        return s.visibility !== 'hidden' && s.display !== 'none';
    };
    /** @param {Element} el */
    const describe = (el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} "${(el.textContent ?? '').trim().slice(0, 30)}"`;

    /** @type {string[]} */
    const unnamed = [];
    for (const el of document.querySelectorAll('button, a[href], input, select, textarea')) {
        if (!visible(el)) continue;
        const label = el.getAttribute('aria-label') ?? '';
        const labelledBy = (el.getAttribute('aria-labelledby') ?? '').split(' ')
            .map((id) => document.getElementById(id)?.textContent ?? '').join('');
        const text = el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement
            ? [...(el.labels ?? [])].map((l) => l.textContent ?? '').join('')
            : el.textContent ?? '';
        if (!(label + labelledBy + text + (el.getAttribute('title') ?? '')).trim()) unnamed.push(describe(el));
    }

    /** @type {string[]} */
    const lowContrast = [];
    let checked = 0;
    for (const el of document.querySelectorAll('body *')) {
        const ownText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && (n.textContent ?? '').trim());
        const isField = el instanceof HTMLInputElement && el.value;
        if ((!ownText && !isField) || !visible(el)) continue;
        if (el.closest('button:disabled, [aria-disabled="true"]')) continue;
        const style = getComputedStyle(el);
        const fg = parse(style.color);
        if (!fg) continue;
        const bg = background(el);
        const text = over(fg, bg);
        const [l1, l2] = [luminance(text), luminance(bg)].sort((a, b) => b - a);
        const ratio = (l1 + 0.05) / (l2 + 0.05);
        const size = parseFloat(style.fontSize);
        const bold = Number(style.fontWeight) >= 700;
        const large = size >= 24 || (bold && size >= 18.66);
        checked += 1;
        if (ratio < (large ? 3 : 4.5)) lowContrast.push(`${describe(el)} ${ratio.toFixed(2)}:1`);
    }
    return { unnamed, lowContrast, checked };
}

/**
 * @param {import('./common/harness.mjs').Context} ctx
 * @param {import('puppeteer-core').Page} page
 * @param {string} where
 */
async function check(ctx, page, where) {
    const r = await page.evaluate(audit);
    ctx.log(`${where}: ${r.checked} texts checked`);
    assert(r.unnamed.length === 0, `${where}: controls without a name: ${r.unnamed.join('; ')}`);
    assert(r.lowContrast.length === 0, `${where}: text below the contrast minimum: ${r.lowContrast.join('; ')}`);
}

/**
 * Tabs through the page; every control that takes the focus shows a ring.
 * @param {import('puppeteer-core').Page} page
 * @param {string} where
 * @param {number} steps
 */
async function tabRing(page, where, steps) {
    /** @type {string[]} */
    const missing = [];
    const seen = new Set();
    for (let i = 0; i < steps; i += 1) {
        await page.keyboard.press('Tab');
        const f = await page.evaluate(() => {
            const el = document.activeElement;
            if (!el || el === document.body) return null;
            const s = getComputedStyle(el);
            return {
                what: `${el.tagName.toLowerCase()}.${el.className} "${(el.textContent ?? '').trim().slice(0, 20)}"`,
                ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
            };
        });
        if (!f) continue;
        seen.add(f.what);
        if (!f.ring) missing.push(f.what);
    }
    assert(missing.length === 0, `${where}: focus without a visible ring on ${[...new Set(missing)].join('; ')}`);
    return seen.size;
}

scenario('every control is named, readable and focusable', { timeoutMs: 180_000 }, async (ctx) => {
    const server = await ctx.server();
    const chromium = await ctx.chromium();

    const mod = await openPage(chromium, ctx, 'moderator');
    await mod.goto(server.url, { waitUntil: 'load' });
    await mod.waitForSelector('.landing');
    await check(ctx, mod, 'landing page');
    ctx.log(`landing page: ${await tabRing(mod, 'landing page', 8)} controls reached with Tab, all with a ring`);

    await mod.click('.new-meeting');
    await mod.waitForSelector('.prejoin .share-links');
    const room = new URL(mod.url()).pathname.slice(1);
    await (await mod.waitForSelector('input[name="nickname"]'))?.type('Moderatorin');
    await mod.waitForSelector('.preview:not(.video-off)');
    await check(ctx, mod, 'pre-join page of a new meeting');
    await clickJoin(mod);

    const guest = await openPage(chromium, ctx, 'guest');
    await prepareJoin(guest, server.url, room, 'Gast');
    await clickJoin(guest);
    await waitFor('the guest in the moderator\'s list', () => mod.$$eval('.participant-actions', (a) => a.length),
        { until: (n) => n > 0 });
    // A raised hand, a chat message, a notice.
    await guest.click('.controls .control-hand');
    await guest.click('.controls .control-chat');
    await guest.type('.panel-chat textarea', 'Hallo zusammen');
    await guest.keyboard.press('Enter');
    await waitFor('the unread badge', () => mod.$eval('.control-chat .unread', (u) => !u.hasAttribute('hidden')), { until: Boolean });
    await check(ctx, mod, 'room with the participant list, a hand and an unread badge');
    ctx.log(`room: ${await tabRing(mod, 'room', 30)} controls reached with Tab, all with a ring`);

    await mod.click('.controls .control-chat');
    await mod.waitForSelector('.panel-chat:not([hidden])');
    await check(ctx, mod, 'room with the chat');
    await mod.click('.controls .control-settings');
    await mod.waitForSelector('.panel-settings:not([hidden]) select');
    await check(ctx, mod, 'room with the settings');
    await mod.click('.view-switch');
    await check(ctx, mod, 'speaker view');
    await mod.click('.controls .control-people');
    await mod.click('.participant-actions .action-remove');
    await mod.waitForSelector('dialog.confirm-remove[open]');
    await check(ctx, mod, 'the removal question');
    await mod.keyboard.press('Escape');
    await mod.click('.controls .control-mic');
    await mod.click('.controls .control-cam');
    await check(ctx, mod, 'room with microphone and camera off');
    await guest.click('.controls .leave');
    await guest.waitForSelector('.page.left');
    await check(ctx, guest, 'the page after leaving');
});
