// Bits the pages share.

import { h } from './dom.js';

/**
 * Copies a text (a link) and says whether it worked.
 * @param {import('../i18n/index.js').Strings} t
 * @param {string} text
 * @param {HTMLElement} status where to say it (a live region)
 */
export async function copyText(t, text, status) {
    try {
        await navigator.clipboard.writeText(text);
        status.textContent = t.linkCopied;
    } catch {
        status.textContent = t.linkNotCopied;
    }
}

/**
 * The link for guests: the room, never the moderator secret.
 * @param {string} room
 */
export function guestLink(room) {
    return `${location.origin}/${encodeURIComponent(room)}`;
}

/**
 * The link for co-moderators: the room with the secret in the fragment,
 * which browsers never send to the server.
 * @param {string} room
 * @param {string} secret
 */
export function moderatorLink(room, secret) {
    return `${guestLink(room)}#mod=${encodeURIComponent(secret)}`;
}

/**
 * The sentence for a refusal: our own text for known codes, the server's
 * English text for codes this client does not know yet.
 * @param {import('../i18n/index.js').Strings} t
 * @param {Partial<import('../protocol.js').ServerError>|undefined} error
 * @returns {string}
 */
export function errorText(t, error) {
    const code = error?.code ?? 'client-connection';
    const known = /** @type {Record<string, string>} */ (t.errors)[code];
    if (known) return known;
    return t.unknownError(error?.message ?? code);
}

/**
 * The language switch: one button per language, each named in its own
 * language; the current one is pressed.
 * @param {import('../app.js').App} app
 * @returns {HTMLElement}
 */
export function languageSwitch(app) {
    const { t } = app;
    return h('div', { class: 'language-switch', role: 'group', 'aria-label': t.languageLabel },
        ...app.languages.map(({ code, name }) => h('button', {
            type: 'button',
            class: 'lang-option',
            lang: code,
            'aria-pressed': String(code === t.lang),
            'data-lang': code,
            text: name,
            on: {
                click: () => {
                    if (code !== app.t.lang) app.setLanguage(code);
                },
            },
        })));
}

/**
 * The link to the privacy page, in the language the client shows.
 * @param {import('../app.js').App} app
 * @param {boolean} [newTab] from the room: the call must go on
 * @returns {HTMLElement}
 */
export function privacyLink(app, newTab = false) {
    const { t } = app;
    const href = `/privacy?lang=${encodeURIComponent(t.lang)}`;
    if (!newTab) return h('a', { class: 'privacy-link', href, text: t.privacyLink });
    return h('a', {
        class: 'privacy-link',
        href,
        target: '_blank',
        rel: 'noopener noreferrer',
    }, t.privacyLink, h('span', { class: 'visually-hidden', text: t.opensInNewTab }));
}
