// The client's entry point: language, routing between the pages, and the
// test/debug hook. `/` is the landing page, `/<room>` the pre-join page of
// that room; the room itself replaces the pre-join page without a new URL.

import { loadStrings } from './i18n/index.js';
import { showLanding } from './ui/landing.js';
import { showPrejoin } from './ui/prejoin.js';
import { showRoom } from './ui/room.js';
import { showLeft } from './ui/left.js';

/**
 * @typedef {import('./i18n/index.js').Strings} Strings
 * @typedef {import('./protocol.js').Conference} Conference
 * @typedef {import('./media.js').LocalMedia} LocalMedia
 * @typedef {import('./protocol.js').JoinedInfo} JoinedInfo
 */

/**
 * What every page gets: the strings, where to draw, how to move on.
 * @typedef {object} App
 * @property {Strings} t
 * @property {HTMLElement} root
 * @property {(path: string) => void} navigate  go to a URL of this client
 * @property {(conference: Conference, media: LocalMedia, joined: JoinedInfo) => void} enterRoom
 * @property {(room: string) => void} left       the room is over for us
 * @property {{nickname: string, audio: boolean, video: boolean}} remembered
 *   what the person chose on the pre-join page, for a rejoin (memory only)
 */

const t = await loadStrings();
document.documentElement.lang = t.lang;

const root = /** @type {HTMLElement} */ (document.getElementById('app'));

/** @type {(() => void) | null} tears the current page down */
let disposeCurrent = null;
/** @type {Conference | null} */
let conference = null;

/**
 * @param {() => void} dispose
 */
function setPage(dispose) {
    disposeCurrent?.();
    disposeCurrent = dispose;
    // Move focus to the new page's heading, so keyboard and screen reader
    // users start at the top of what changed.
    const heading = root.querySelector('h1');
    if (heading instanceof HTMLElement) {
        heading.tabIndex = -1;
        heading.focus({ preventScroll: true });
    }
}

/** @type {App} */
const app = {
    t,
    root,
    navigate(path) {
        if (path !== location.pathname) history.pushState(null, '', path);
        route();
    },
    enterRoom(conf, media, joined) {
        conference = conf;
        disposeCurrent?.();
        disposeCurrent = null;
        const dispose = showRoom(app, conf, media, joined);
        setPage(() => {
            dispose();
            conference = null;
        });
    },
    left(room) {
        disposeCurrent?.();
        disposeCurrent = null;
        conference = null;
        setPage(showLeft(app, room));
    },
    remembered: { nickname: '', audio: true, video: true },
};

function route() {
    disposeCurrent?.();
    disposeCurrent = null;
    const segments = location.pathname.split('/').filter(Boolean);
    if (segments.length === 0) {
        document.title = t.appName;
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

// Test/debug hook, read-only: the browser tests read the media statistics
// through it (docs: tests/browser/). It exposes nothing the page's own user
// could not see in the browser's WebRTC internals.
Object.defineProperty(window, 'funkraum', {
    value: Object.freeze({
        /** @returns {Promise<RTCStatsReport|null>} */
        stats: () => (conference ? conference.stats() : Promise.resolve(null)),
    }),
    writable: false,
    configurable: false,
});

route();
