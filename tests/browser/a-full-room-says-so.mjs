// A room at its participant limit refuses the next person with a clear
// message on the pre-join page; once there is room again, the same page
// joins with one more click.

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin, tiles } from './common/ui.mjs';

scenario('a full room says so', { timeoutMs: 90_000 }, async (ctx) => {
    const server = await ctx.server({ config: '[limits]\nmax_participants_per_room = 1\n' });
    const chromium = await ctx.chromium();
    const room = 'full-room';

    const inside = await openPage(chromium, ctx, 'inside');
    const outside = await openPage(chromium, ctx, 'outside');
    await prepareJoin(inside, server.url, room, 'Inside');
    await prepareJoin(outside, server.url, room, 'Outside');
    await clickJoin(inside);

    await outside.click('form.prejoin-form button[type="submit"]');
    const message = await waitFor('the room-full message', () =>
        outside.$eval('.form-error', (el) => el.textContent ?? ''), { until: (t) => t.length > 0 });
    ctx.log(`refused with: ${message}`);
    assert(/full/i.test(message), `the message does not say the room is full: ${message}`);
    assert(await outside.$('.room') === null, 'the refused page shows a room');
    const enabled = await outside.$eval('form.prejoin-form button[type="submit"]',
        (b) => !(/** @type {HTMLButtonElement} */ (b).disabled));
    assert(enabled, 'the join button stays disabled after the refusal');

    await inside.click('.controls .leave');
    await inside.waitForSelector('.page.left');
    await waitFor('the server to count nobody', async () =>
        (await (await fetch(`${server.url}/healthz`)).json()).participants, { until: (n) => n === 0 });
    await clickJoin(outside);
    const shown = await tiles(outside);
    assert(shown.length === 1 && shown[0].self, 'after the retry the page shows its own tile');
});
