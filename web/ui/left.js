// After leaving: rejoin the same room or go to the start page.

import { h } from './dom.js';

/**
 * @param {import('../app.js').App} app
 * @param {string} room
 * @returns {() => void} dispose
 */
export function showLeft(app, room) {
    const { t } = app;
    const page = h('main', { class: 'page left' },
        h('div', { class: 'card stack' },
            h('h1', { text: t.leftHeading }),
            h('div', { class: 'row' },
                h('button', {
                    type: 'button',
                    class: 'button primary',
                    text: t.rejoin,
                    on: { click: () => app.navigate(`/${encodeURIComponent(room)}`) },
                }),
                h('button', {
                    type: 'button',
                    class: 'button',
                    text: t.toStart,
                    on: { click: () => app.navigate('/') },
                }))));
    app.root.replaceChildren(page);
    document.title = t.appName;
    return () => page.remove();
}
