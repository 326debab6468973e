// A nickname that looks like HTML shows up as exactly those characters, in
// the tile and in the participant list, and nothing of it is executed or
// turned into elements.

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin, tiles } from './common/ui.mjs';

const HOSTILE = '<img src=x onerror=pwn()>';

scenario('nicknames render as text', { timeoutMs: 90_000 }, async (ctx) => {
    const server = await ctx.server();
    const chromium = await ctx.chromium();
    const room = 'markup';

    const viewer = await openPage(chromium, ctx, 'viewer');
    const hostile = await openPage(chromium, ctx, 'hostile');
    await prepareJoin(viewer, server.url, room, 'Viewer');
    await viewer.evaluate(() => {
        // @ts-ignore a trap the nickname would spring if it ran
        window.pwn = () => { window.pwned = true; };
    });
    await clickJoin(viewer);
    await prepareJoin(hostile, server.url, room, HOSTILE);
    await clickJoin(hostile);

    const shown = await waitFor('the second tile', () => tiles(viewer), { until: (t) => t.length === 2 });
    const label = shown.find((t) => !t.self)?.name;
    assert(label === HOSTILE, `the tile shows ${JSON.stringify(label)}, expected the literal nickname`);
    const result = await viewer.evaluate(() => ({
        images: document.querySelectorAll('img').length,
        // @ts-ignore
        pwned: window.pwned === true,
        listed: [...document.querySelectorAll('.participant-name')].map((e) => e.textContent),
    }));
    assert(result.images === 0, `the page has ${result.images} <img> elements`);
    assert(!result.pwned, 'the nickname ran script');
    assert(result.listed.includes(HOSTILE), `the participant list shows ${JSON.stringify(result.listed)}`);
});
