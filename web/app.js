// The client's entry point: language, routing between the pages, and the
// test/debug hook. `/` is the landing page, `/<room>` the pre-join page of
// that room; the room itself replaces the pre-join page without a new URL.
// A moderator secret lives in the URL fragment (`#mod=…`), which browsers
// never send to a server.

import { LANGUAGES, chooseLanguage, loadStrings } from './i18n/index.js';
import { showLanding } from './ui/landing.js';
import { showPrejoin } from './ui/prejoin.js';
import { showRoom, newRoomUi } from './ui/room.js';
import { showLeft } from './ui/left.js';

/**
 * @typedef {import('./i18n/index.js').Strings} Strings
 * @typedef {import('./protocol.js').Conference} Conference
 * @typedef {import('./media.js').LocalMedia} LocalMedia
 */

/**
 * A page on screen. `redraw` draws it again (in a new language) keeping
 * what the person did there; without it the page is shown anew.
 * @typedef {object} Page
 * @property {(keep?: boolean) => void} dispose
 * @property {() => Page} [redraw]
 */

/**
 * What every page gets: the strings, where to draw, how to move on.
 * @typedef {object} App
 * @property {Strings} t
 * @property {{code: string, name: string}[]} languages  to offer in the switch
 * @property {(code: string) => Promise<void>} setLanguage  switch (memory only)
 * @property {HTMLElement} root
 * @property {(path: string) => void} navigate  go to a URL of this client
 * @property {(conference: Conference, media: LocalMedia) => void} enterRoom
 * @property {(room: string, why: 'left'|'removed') => void} left  the room is over for us
 * @property {{nickname: string, audio: boolean, video: boolean}} remembered
 *   what the person chose on the pre-join page, for a rejoin (memory only)
 * @property {string} moderatorSecret  from `#mod=…`, or ''
 * @property {import('./ui/room.js').RoomUi} roomUi  the room page's own state
 */

const root = /** @type {HTMLElement} */ (document.getElementById('app'));

/** @type {Page | null} */
let current = null;
/** @type {Conference | null} the call in progress, for the test hook */
let conference = null;

/**
 * The moderator secret of the current URL's fragment.
 * @returns {string}
 */
function secretFromFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    return params.get('mod') ?? '';
}

/**
 * @param {Page} page
 * @param {boolean} [focusHeading]
 */
function setPage(page, focusHeading = true) {
    current = page;
    if (!focusHeading) return;
    // Move focus to the new page's heading, so keyboard and screen reader
    // users start at the top of what changed.
    const heading = root.querySelector('h1');
    if (heading instanceof HTMLElement) {
        heading.tabIndex = -1;
        heading.focus({ preventScroll: true });
    }
}

function leavePage() {
    current?.dispose();
    current = null;
}

/** @type {App} */
const app = {
    t: await loadStrings(chooseLanguage(navigator.languages ?? [])),
    languages: LANGUAGES.map(({ code, name }) => ({ code, name })),
    async setLanguage(code) {
        app.t = await loadStrings(code);
        document.documentElement.lang = app.t.lang;
        const focusedLang = document.activeElement instanceof HTMLElement
            ? document.activeElement.dataset.lang : undefined;
        if (current?.redraw) {
            current = current.redraw();
        } else {
            route();
        }
        // Keep the focus on the switch the person used.
        if (focusedLang) {
            const again = root.querySelector(`.language-switch [data-lang="${focusedLang}"]`);
            if (again instanceof HTMLElement) again.focus();
        }
    },
    root,
    navigate(path) {
        if (path !== location.pathname + location.hash) history.pushState(null, '', path);
        route();
    },
    enterRoom(conf, media) {
        current?.dispose(true);
        conference = conf;
        app.roomUi = newRoomUi();
        setPage(showRoom(app, conf, media));
    },
    left(room, why) {
        current?.dispose(true);
        conference = null;
        setPage(showLeft(app, room, why));
    },
    remembered: { nickname: '', audio: true, video: true },
    moderatorSecret: '',
    roomUi: newRoomUi(),
};
document.documentElement.lang = app.t.lang;

function route() {
    leavePage();
    conference = null;
    app.moderatorSecret = secretFromFragment();
    const segments = location.pathname.split('/').filter(Boolean);
    if (segments.length === 0) {
        document.title = app.t.appName;
        setPage(showLanding(app));
        return;
    }
    let room;
    try {
        room = decodeURIComponent(segments[0]);
    } catch {
        room = segments[0];
    }
    setPage(showPrejoin(app, room));
}

window.addEventListener('popstate', route);

/** @returns {Conference|null} */
function currentConference() {
    return conference && !conference.closed ? conference : null;
}

// Test/debug hook, read-only: the browser tests read the media statistics
// through it (docs: tests/browser/). It exposes nothing the page's own user
// could not see in the browser's WebRTC internals.
Object.defineProperty(window, 'funkraum', {
    value: Object.freeze({
        /** @returns {Promise<RTCStatsReport|null>} the server connection's */
        stats: () => currentConference()?.stats() ?? Promise.resolve(null),
        /** @returns {Promise<RTCStatsReport|null>} the direct connection's (p2p) */
        directStats: () => currentConference()?.directStats() ?? Promise.resolve(null),
        /** @returns {Record<string, string|null>|null} labels of the tracks being sent */
        sending: () => currentConference()?.sending() ?? null,
        /** @returns {{mode: string, direct: boolean}|null} */
        mode: () => {
            const c = currentConference();
            return c ? { mode: c.mode, direct: c.direct } : null;
        },
    }),
    writable: false,
    configurable: false,
});

route();
