// A browser that prefers German shows the client in German (every string of
// en.js has a German counterpart); the visible switch changes the language
// on every page, also in the middle of a call without disturbing it; the
// privacy link follows the choice (and opens in a new tab from the room);
// nothing is stored for it. A browser that prefers English gets English.

import { scenario, assert, waitFor } from './common/harness.mjs';
import { openPage, prepareJoin, clickJoin, tiles } from './common/ui.mjs';

/**
 * Same keys, same kinds of value, at every depth.
 * @param {any} en
 * @param {any} de
 * @param {string} path
 * @returns {string[]} what differs
 */
function compareStrings(en, de, path = '') {
    /** @type {string[]} */
    const problems = [];
    for (const key of new Set([...Object.keys(en), ...Object.keys(de)])) {
        const where = `${path}${key}`;
        if (!(key in de)) problems.push(`${where} missing in German`);
        else if (!(key in en)) problems.push(`${where} only in German`);
        else if (typeof en[key] !== typeof de[key]) problems.push(`${where}: ${typeof en[key]} vs ${typeof de[key]}`);
        else if (typeof en[key] === 'object') problems.push(...compareStrings(en[key], de[key], `${where}.`));
        else if (typeof en[key] === 'function') {
            const out = de[key]('X', 'Y');
            if (typeof out !== 'string' || out.length === 0) problems.push(`${where}() gives no text in German`);
        } else if (typeof de[key] === 'string' && de[key].trim() === '') problems.push(`${where} is empty in German`);
    }
    return problems;
}

/**
 * What language the page shows.
 * @param {import('puppeteer-core').Page} page
 */
function shown(page) {
    return page.evaluate(() => ({
        lang: document.documentElement.lang,
        privacy: document.querySelector('a.privacy-link')?.getAttribute('href') ?? '',
        pressed: document.querySelector('.language-switch [aria-pressed="true"]')?.getAttribute('data-lang') ?? '',
        text: document.body.innerText,
    }));
}

scenario('a German browser gets German and the switch changes it', { timeoutMs: 180_000 }, async (ctx) => {
    // Every English string has a German one.
    const en = (await import('../../web/i18n/en.js')).default;
    const de = (await import('../../web/i18n/de.js')).default;
    const problems = compareStrings(en, de);
    assert(problems.length === 0, `de.js does not match en.js:\n${problems.join('\n')}`);
    const same = Object.keys(en).filter((k) => typeof en[k] === 'string' && en[k] === /** @type {any} */ (de)[k]);
    ctx.log(`de.js has every key of en.js; identical in both: ${same.join(', ')}`);
    assert(same.length <= 4, `too many strings are not translated: ${same.join(', ')}`);

    const server = await ctx.server();
    const german = await ctx.chromium({ args: ['--lang=de-DE', '--accept-lang=de-DE,de'] });
    const english = await ctx.chromium();
    const room = `sprache-${Date.now().toString(36)}`;

    // Landing page in German, privacy link in German.
    const page = await openPage(german, ctx, 'german');
    await page.goto(server.url, { waitUntil: 'load' });
    await page.waitForSelector('.landing');
    let s = await shown(page);
    assert(s.lang === 'de' && s.text.includes('Einen Raum betreten') && s.text.includes('Neues Treffen'),
        `the landing page is not German: lang=${s.lang}\n${s.text}`);
    assert(s.privacy === '/privacy?lang=de' && s.pressed === 'de', `privacy link ${s.privacy}, switch ${s.pressed}`);
    const privacy = await page.evaluate(async (href) => {
        const r = await fetch(href);
        const text = await r.text();
        return { lang: /<html lang="(\w+)"/.exec(text)?.[1] ?? '', status: r.status };
    }, s.privacy);
    assert(privacy.status === 200 && privacy.lang === 'de', `the privacy page from the German link: ${JSON.stringify(privacy)}`);

    // The switch, by keyboard: English.
    await page.focus('.language-switch [data-lang="en"]');
    await page.keyboard.press('Enter');
    s = await waitFor('the landing page in English', () => shown(page), { until: (x) => x.lang === 'en' });
    assert(s.text.includes('Join a room') && !s.text.includes('Einen Raum betreten'), `still German:\n${s.text}`);
    assert(s.privacy === '/privacy?lang=en' && s.pressed === 'en', `privacy link ${s.privacy}, switch ${s.pressed}`);
    const focus = await page.evaluate(() => document.activeElement?.getAttribute('data-lang'));
    assert(focus === 'en', `the focus left the switch (on ${focus})`);

    // The choice holds on the next page; switch back there, keeping what was typed.
    await page.type('input[name="room"]', room);
    await page.keyboard.press('Enter');
    await page.waitForSelector('.prejoin input[name="nickname"]');
    s = await shown(page);
    assert(s.lang === 'en' && s.text.includes('Your name'), `the pre-join page forgot the choice:\n${s.text}`);
    await page.type('input[name="nickname"]', 'Grete');
    await page.waitForSelector('.preview:not(.video-off)');
    await page.click('.language-switch [data-lang="de"]');
    s = await waitFor('the pre-join page in German', () => shown(page), { until: (x) => x.lang === 'de' });
    assert(s.text.includes('Dein Name') && s.text.includes('Betreten'), `the pre-join page is not German:\n${s.text}`);
    const kept = await page.evaluate(() => ({
        nickname: /** @type {HTMLInputElement} */ (document.querySelector('input[name="nickname"]')).value,
        preview: !document.querySelector('.preview')?.classList.contains('video-off'),
    }));
    assert(kept.nickname === 'Grete' && kept.preview, `the switch lost the pre-join state: ${JSON.stringify(kept)}`);
    await clickJoin(page);
    s = await shown(page);
    assert(s.text.includes('Verlassen') && s.text.includes('Teilnehmende'), `the room is not German:\n${s.text}`);

    // Someone with an English browser joins; the German one switches mid-call.
    const other = await openPage(english, ctx, 'english');
    await prepareJoin(other, server.url, room, 'Eric');
    const otherText = await shown(other);
    assert(otherText.lang === 'en' && otherText.text.includes('Your name'), 'an English browser does not get English');
    await clickJoin(other);
    await waitFor('both in the call', () => tiles(page), { until: (t) => t.length === 2 });
    await waitFor('Eric\'s video to play for Grete', () => page.evaluate(() =>
        /** @type {HTMLVideoElement|null} */ (document.querySelector('.tile:not(.self) video'))?.videoWidth ?? 0), { until: (w) => w > 0 });

    let navigations = 0;
    page.on('framenavigated', () => { navigations += 1; });
    // A message half written survives the switch.
    await page.click('.controls .control-chat');
    await page.type('.panel-chat textarea', 'Moment, ich');
    await page.click('.room .language-switch [data-lang="en"]');
    s = await waitFor('the room in English', () => shown(page), { until: (x) => x.lang === 'en' });
    assert(s.text.includes('Leave') && s.text.includes('Grete (you)'), `the room did not switch:\n${s.text}`);
    const draft = await page.$eval('.panel-chat:not([hidden]) textarea', (a) => /** @type {HTMLTextAreaElement} */ (a).value);
    assert(draft === 'Moment, ich', `the chat panel or its draft was lost in the switch: ${JSON.stringify(draft)}`);
    const link = await page.$eval('.room a.privacy-link', (a) => ({ href: a.getAttribute('href'), target: a.getAttribute('target'), rel: a.getAttribute('rel') }));
    assert(link.href === '/privacy?lang=en' && link.target === '_blank' && /noopener/.test(link.rel ?? ''),
        `the room's privacy link: ${JSON.stringify(link)}`);
    // The call went on: still two, video still playing, nobody left.
    const frames = () => page.evaluate(() =>
        /** @type {HTMLVideoElement|null} */ (document.querySelector('.tile:not(.self) video'))?.getVideoPlaybackQuality().totalVideoFrames ?? 0);
    const f0 = await frames();
    await waitFor('Eric\'s video to go on after the switch', frames, { until: (f) => f > f0 });
    const seenByOther = await tiles(other);
    assert(seenByOther.length === 2, `the other side sees ${seenByOther.length} tiles after the switch`);
    assert(navigations === 0, 'the switch reloaded the page');

    // Nothing was stored for the choice.
    const stored = await page.evaluate(() => ({ cookies: document.cookie, local: localStorage.length, session: sessionStorage.length }));
    assert(stored.cookies === '' && stored.local === 0 && stored.session === 0, `something was stored: ${JSON.stringify(stored)}`);
    ctx.log('German from the browser, English by the switch on three pages, the call undisturbed, nothing stored');
});
