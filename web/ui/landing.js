// The landing page: type a room name, or start a new meeting (an
// unguessable room name plus a moderator secret in the URL fragment).

import { h, uid } from './dom.js';
import { checkRoomName, randomRoomName, randomSecret } from '../names.js';
import { languageSwitch, privacyLink } from './common.js';

/**
 * @param {import('../app.js').App} app
 * @param {{room?: string, problem?: string}} [preset] a refused name to show again
 * @returns {import('../app.js').Page}
 */
export function showLanding(app, preset = {}) {
    const { t } = app;
    const inputId = uid('room');
    const hintId = uid('room-hint');
    const errorId = uid('room-error');

    const input = /** @type {HTMLInputElement} */ (h('input', {
        id: inputId,
        name: 'room',
        type: 'text',
        autocomplete: 'off',
        autocapitalize: 'none',
        spellcheck: 'false',
        required: true,
        'aria-describedby': `${hintId} ${errorId}`,
        props: { value: preset.room ?? '' },
    }));
    const error = h('p', { id: errorId, class: 'field-error', role: 'alert' });

    /** @param {string} message */
    const showError = (message) => {
        error.textContent = message;
        input.setAttribute('aria-invalid', 'true');
    };
    if (preset.problem) showError(preset.problem);

    const form = h('form', {
        class: 'card stack',
        novalidate: true,
        on: {
            submit: (/** @type {SubmitEvent} */ e) => {
                e.preventDefault();
                const { name, problem } = checkRoomName(input.value);
                if (problem) {
                    showError(t.roomProblem[problem]);
                    input.focus();
                    return;
                }
                app.navigate(`/${encodeURIComponent(name)}`);
            },
        },
    },
    h('h2', { text: t.landingHeading }),
    h('div', { class: 'field' },
        h('label', { for: inputId, text: t.roomNameLabel }),
        input,
        h('p', { id: hintId, class: 'hint', text: t.roomNameHint }),
        error),
    h('button', { type: 'submit', class: 'button primary', text: t.openRoom }));

    const create = h('section', { class: 'card stack' },
        h('p', { class: 'hint', text: t.createRoomHint }),
        h('button', {
            type: 'button',
            class: 'button new-meeting',
            text: t.createRoom,
            on: {
                // The secret stays in the fragment: the creator can reload,
                // and no request line ever carries it.
                click: () => app.navigate(`/${randomRoomName()}#mod=${randomSecret()}`),
            },
        }));

    const page = h('main', { class: 'page landing' },
        h('header', { class: 'brand' },
            h('h1', { text: t.appName }),
            h('p', { class: 'tagline', text: t.tagline })),
        form,
        h('p', { class: 'or', 'aria-hidden': 'true', text: t.or }),
        create,
        h('footer', { class: 'row page-footer' },
            languageSwitch(app),
            privacyLink(app)));

    app.root.replaceChildren(page);
    return {
        dispose: () => page.remove(),
        redraw() {
            const room = input.value;
            page.remove();
            return showLanding(app, { room });
        },
    };
}
