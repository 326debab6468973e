// Privacy invariant 5: the client makes no request to any host but its own
// origin — not for scripts, styles, fonts or images, not for STUN. Every
// request of a whole visit (landing page, privacy page, pre-join, a call
// with media flowing, leaving) is recorded and must go to the server, and
// the browser reports no Content-Security-Policy violation. The client's
// source holds no address of another host to begin with.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { scenario, assert, waitFor } from './common/harness.mjs';
import { REPO_ROOT } from './common/server.mjs';
import { openPage, prepareJoin, clickJoin, receiving } from './common/ui.mjs';

/** Every file under web/, recursively. */
async function webFiles(dir = path.join(REPO_ROOT, 'web')) {
    /** @type {string[]} */
    const out = [];
    for (const e of await readdir(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) out.push(...await webFiles(p));
        else out.push(p);
    }
    return out;
}

scenario('the page asks no other host', { timeoutMs: 120_000 }, async (ctx) => {
    // The source: no absolute URL and no STUN/TURN server of anyone else.
    for (const file of await webFiles()) {
        const text = await readFile(file, 'utf8');
        const found = text.match(/\b(?:https?|wss?|stun|turns?):\/{0,2}[A-Za-z0-9[]/g) ?? [];
        // The SVG namespace is a name, not a request.
        const real = found.filter((m) => !m.startsWith('http://www.w3.org'.slice(0, m.length)));
        assert(real.length === 0, `${path.relative(REPO_ROOT, file)} names another host: ${real.join(', ')}`);
    }

    const server = await ctx.server();
    const origin = new URL(server.url).origin;
    const chromium = await ctx.chromium();

    /** @type {string[]} */
    const requests = [];
    /** @type {string[]} */
    const violations = [];
    const watch = (/** @type {import('puppeteer-core').Page} */ page) => {
        page.on('request', (r) => { requests.push(r.url()); });
        page.on('console', (m) => {
            if (/Content[- ]Security[- ]Policy/i.test(m.text())) violations.push(m.text());
        });
    };

    const anna = await openPage(chromium, ctx, 'anna');
    const ben = await openPage(chromium, ctx, 'ben');
    watch(anna);
    watch(ben);

    await anna.goto(`${server.url}/`, { waitUntil: 'networkidle0' });
    await anna.goto(`${server.url}/privacy`, { waitUntil: 'networkidle0' });
    await prepareJoin(anna, server.url, 'quiet-room', 'Anna');
    await prepareJoin(ben, server.url, 'quiet-room', 'Ben');
    await clickJoin(anna);
    await clickJoin(ben);
    await waitFor('media both ways', async () => {
        const [a, b] = await Promise.all([receiving(anna), receiving(ben)]);
        return a.videoDecoding >= 1 && b.videoDecoding >= 1;
    }, { timeoutMs: 30_000 });
    await anna.click('button.leave');
    await new Promise((r) => setTimeout(r, 500));

    assert(requests.length >= 5, `only ${requests.length} requests recorded`);
    const foreign = requests.filter((u) => {
        if (u.startsWith('data:') || u.startsWith('blob:')) return false;
        return new URL(u).origin !== origin;
    });
    assert(foreign.length === 0, `requests to other hosts:\n${foreign.join('\n')}`);
    assert(violations.length === 0, `CSP violations:\n${violations.join('\n')}`);
    ctx.log(`${requests.length} requests, all to ${origin}`);
});
