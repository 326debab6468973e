// After the room: the person left (rejoin or go to the start page), or a
// moderator removed them (say so plainly; the way back is the start page).

import { h } from './dom.js';
import { languageSwitch, privacyLink } from './common.js';

/**
 * @param {import('../app.js').App} app
 * @param {string} room
 * @param {'left'|'removed'} why
 * @returns {import('../app.js').Page}
 */
export function showLeft(app, room, why) {
    const { t } = app;
    const removed = why === 'removed';
    const rejoinPath = `/${encodeURIComponent(room)}${app.moderatorSecret ? location.hash : ''}`;
    const page = h('main', { class: removed ? 'page left removed' : 'page left' },
        h('div', { class: 'card stack' },
            h('h1', { text: removed ? t.removedHeading : t.leftHeading }),
            removed ? h('p', { text: t.removedText }) : null,
            h('div', { class: 'row' },
                removed ? null : h('button', {
                    type: 'button',
                    class: 'button primary',
                    text: t.rejoin,
                    on: { click: () => app.navigate(rejoinPath) },
                }),
                h('button', {
                    type: 'button',
                    class: removed ? 'button primary' : 'button',
                    text: t.toStart,
                    on: { click: () => app.navigate('/') },
                }))),
        h('footer', { class: 'row page-footer' },
            languageSwitch(app),
            privacyLink(app)));
    app.root.replaceChildren(page);
    document.title = t.appName;
    return {
        dispose: () => page.remove(),
        redraw() {
            page.remove();
            return showLeft(app, room, why);
        },
    };
}
