// Someone without a mouse can do everything: type a room name and press
// Enter, type a nickname and press Enter to join, reach the controls with
// Tab (seeing where the focus is), mute with Space, leave with Enter.

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage } from './common/ui.mjs';

/**
 * The focused element and whether it shows a focus ring.
 * @param {import('puppeteer-core').Page} page
 */
function focused(page) {
    return page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        const style = getComputedStyle(el);
        return {
            tag: el.tagName.toLowerCase(),
            text: (el.textContent ?? '').trim(),
            classes: el.className,
            ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
        };
    });
}

/**
 * Presses Tab until the focus is on an element matching `want`.
 * @param {import('puppeteer-core').Page} page
 * @param {(f: {tag: string, text: string, classes: string, ring: boolean}) => boolean} want
 * @param {string} what
 */
async function tabTo(page, want, what) {
    for (let i = 0; i < 20; i += 1) {
        await page.keyboard.press('Tab');
        const f = await focused(page);
        if (f && want(f)) {
            assert(f.ring, `${what} has focus but shows no focus ring`);
            return f;
        }
    }
    throw new Error(`Tab never reached ${what}`);
}

scenario('keyboard alone joins, mutes and leaves', { timeoutMs: 90_000 }, async (ctx) => {
    const server = await ctx.server();
    const chromium = await ctx.chromium();
    const page = await openPage(chromium, ctx, 'keyboard');

    await page.goto(server.url, { waitUntil: 'load' });
    await page.waitForSelector('.landing');
    await tabTo(page, (f) => f.tag === 'input', 'the room name field');
    await page.keyboard.type('Tastatur');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.prejoin');
    assert(new URL(page.url()).pathname === '/tastatur', `the room URL is ${page.url()}`);

    await page.waitForSelector('.preview:not(.video-off)');
    await tabTo(page, (f) => f.tag === 'input', 'the nickname field');
    await page.keyboard.type('Keys');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.room .tile.self');

    await tabTo(page, (f) => f.text === 'Microphone', 'the microphone button');
    await page.keyboard.press('Space');
    await waitFor('the microphone to be off', () => page.$eval('.controls .control:nth-child(1)',
        (b) => b.getAttribute('aria-pressed')), { until: (v) => v === 'false' });

    await tabTo(page, (f) => f.text === 'Leave', 'the leave button');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.page.left');
    ctx.log('joined, muted and left with the keyboard alone');
});
