// When the server goes away in the middle of a meeting, the page says so
// in a dialog that has the focus and offers to reload; camera and
// microphone are released.

import { scenario, assert } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin } from './common/ui.mjs';

scenario('losing the server offers a reload', { timeoutMs: 90_000 }, async (ctx) => {
    const server = await ctx.server();
    const chromium = await ctx.chromium();
    const page = await openPage(chromium, ctx, 'page');
    await prepareJoin(page, server.url, 'lost', 'Lost');
    await clickJoin(page);

    await server.stop();
    const dialog = await page.waitForSelector('[role="alertdialog"]', { timeout: 10_000 });
    const state = await page.evaluate(() => {
        const d = document.querySelector('[role="alertdialog"]');
        const labelledBy = d?.getAttribute('aria-labelledby');
        return {
            heading: labelledBy ? document.getElementById(labelledBy)?.textContent : null,
            focused: document.activeElement?.textContent,
            ownVideo: /** @type {HTMLVideoElement} */ (document.querySelector('.tile.self video')).srcObject,
        };
    });
    ctx.log(`dialog: ${JSON.stringify(state.heading)}, focus on ${JSON.stringify(state.focused)}`);
    assert(!!dialog && !!state.heading, 'the dialog has a heading');
    assert(state.focused === 'Reload', 'the Reload button has the focus');
    const tracksLive = await page.evaluate(() => {
        const v = /** @type {HTMLVideoElement} */ (document.querySelector('.tile.self video'));
        const s = v.srcObject;
        return s instanceof MediaStream ? s.getTracks().filter((t) => t.readyState === 'live').length : 0;
    });
    assert(tracksLive === 0, `${tracksLive} camera/microphone tracks still live`);
});
