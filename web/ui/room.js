// The room: a grid of participant tiles (own tile included), the controls
// (microphone, camera, participant list, leave) and the participant list.

import { h, icon, uid } from './dom.js';
import { copyLink, errorText } from './common.js';
import { layoutGrid } from './grid.js';

/**
 * @typedef {import('../protocol.js').Participant} Participant
 * @typedef {import('../protocol.js').Conference} Conference
 * @typedef {import('../media.js').LocalMedia} LocalMedia
 */

/**
 * One person on screen: their tile and their line in the list.
 * @typedef {object} Entry
 * @property {Participant} participant
 * @property {boolean} self
 * @property {HTMLElement} tile
 * @property {HTMLVideoElement} video
 * @property {HTMLAudioElement|null} audio
 * @property {HTMLElement} label
 * @property {HTMLElement} micBadge
 * @property {HTMLElement} item   the participant list entry
 * @property {{audio: {track: MediaStreamTrack, mid: string}|null, video: {track: MediaStreamTrack, mid: string}|null}} tracks
 */

/**
 * @param {import('../app.js').App} app
 * @param {Conference} conference  already joined
 * @param {LocalMedia} media       the devices, now owned by the room
 * @param {import('../protocol.js').JoinedInfo} joined
 * @returns {() => void} dispose
 */
export function showRoom(app, conference, media, joined) {
    const { t } = app;
    document.title = `${joined.room} – ${t.appName}`;

    /** @type {Map<string, Entry>} */
    const entries = new Map();
    /** Remote tracks that arrived before their participant was announced. */
    /** @type {Map<string, {kind: 'audio'|'video', track: MediaStreamTrack, mid: string}[]>} */
    const early = new Map();

    // --- skeleton --------------------------------------------------------
    const tiles = h('div', { class: 'tiles', role: 'list', 'aria-label': t.participants });
    const count = h('span', { class: 'count' });
    const list = h('ul', { class: 'participant-list' });
    const panelId = uid('participants');
    const panelHeadingId = uid('participants-heading');
    const panel = h('aside', {
        id: panelId,
        class: 'panel',
        'aria-labelledby': panelHeadingId,
    },
    h('div', { class: 'panel-header' },
        h('h2', { id: panelHeadingId, text: t.participants }),
        h('button', {
            type: 'button',
            class: 'button small',
            text: t.closePanel,
            on: { click: () => setPanel(false, true) },
        })),
    list);
    const announcer = h('div', { class: 'visually-hidden', 'aria-live': 'polite' });
    const status = h('p', { class: 'room-status', role: 'status' });
    const soundButton = h('button', {
        type: 'button',
        class: 'button primary sound',
        hidden: true,
        text: t.enableSound,
        on: {
            click: () => {
                soundButton.hidden = true;
                for (const a of tiles.querySelectorAll('audio')) {
                    a.play().catch(() => { soundButton.hidden = false; });
                }
            },
        },
    });
    const copyStatus = h('span', { class: 'hint', role: 'status' });

    const micButton = h('button', { type: 'button', class: 'control' });
    const camButton = h('button', { type: 'button', class: 'control' });
    const panelButton = h('button', {
        type: 'button',
        class: 'control',
        'aria-controls': panelId,
    }, icon('people'), h('span', { class: 'control-text', text: t.participants }));
    const leaveButton = h('button', {
        type: 'button',
        class: 'control leave',
    }, icon('leave'), h('span', { class: 'control-text', text: t.leave }));

    const page = h('div', { class: 'room' },
        h('header', { class: 'room-header' },
            h('h1', { text: t.roomHeading(joined.room) }),
            count,
            h('button', {
                type: 'button',
                class: 'button small link',
                on: { click: () => copyLink(t, copyStatus) },
            }, icon('link'), t.copyLink),
            copyStatus),
        h('div', { class: 'room-body' },
            h('main', { class: 'stage' }, tiles, status, soundButton),
            panel),
        h('footer', { class: 'controls' }, micButton, camButton, panelButton, leaveButton),
        announcer);
    app.root.replaceChildren(page);

    // --- tiles and list ------------------------------------------------
    /**
     * @param {Participant} participant
     * @param {boolean} self
     * @returns {Entry}
     */
    const addEntry = (participant, self) => {
        const video = /** @type {HTMLVideoElement} */ (h('video', {
            class: self ? 'tile-video mirrored' : 'tile-video',
            autoplay: true,
            playsinline: true,
            props: { muted: true },
        }));
        const audio = self ? null : /** @type {HTMLAudioElement} */ (h('audio', { autoplay: true }));
        const label = h('span', { class: 'tile-name' });
        const micBadge = h('span', { class: 'badge' });
        const avatar = h('div', { class: 'avatar', 'aria-hidden': 'true' });
        const tile = h('figure', {
            class: 'tile',
            role: 'listitem',
            'data-participant': participant.id,
        },
        video,
        audio,
        avatar,
        h('figcaption', { class: 'tile-label' }, micBadge, label));
        if (self) tile.classList.add('self');
        const item = h('li', { class: 'participant' });
        /** @type {Entry} */
        const entry = {
            participant,
            self,
            tile,
            video,
            audio,
            label,
            micBadge,
            item,
            tracks: { audio: null, video: null },
        };
        entries.set(participant.id, entry);
        if (self) {
            tiles.prepend(tile);
            list.prepend(item);
        } else {
            tiles.append(tile);
            list.append(item);
        }
        renderEntry(entry);
        for (const pending of early.get(participant.id) ?? []) {
            attach(entry, pending.kind, pending.track, pending.mid);
        }
        early.delete(participant.id);
        relayout();
        return entry;
    };

    /** @param {Entry} entry */
    const renderEntry = (entry) => {
        const p = entry.participant;
        const name = entry.self ? t.you(p.nickname) : p.nickname;
        // textContent only: nicknames are other people's input.
        entry.label.textContent = name;
        const avatar = /** @type {HTMLElement} */ (entry.tile.querySelector('.avatar'));
        avatar.textContent = [...p.nickname][0]?.toUpperCase() ?? '?';
        const hasVideo = p.video && !!entry.tracks.video;
        entry.tile.classList.toggle('video-off', !hasVideo);
        entry.micBadge.replaceChildren();
        if (!p.audio) {
            entry.micBadge.append(icon('mic', true),
                h('span', { class: 'visually-hidden', text: t.micMutedState }));
        }
        entry.item.replaceChildren(
            h('span', { class: 'participant-name', text: name }),
            h('span', { class: 'participant-state' },
                icon('mic', !p.audio),
                h('span', { class: 'visually-hidden', text: p.audio ? t.micUnmutedState : t.micMutedState }),
                icon('camera', !p.video),
                h('span', { class: 'visually-hidden', text: p.video ? t.camOnState : t.camOffState })),
        );
        entry.item.classList.toggle('muted', !p.audio);
    };

    /**
     * @param {Entry} entry
     * @param {'audio'|'video'} kind
     * @param {MediaStreamTrack|null} track
     * @param {string} mid
     */
    const attach = (entry, kind, track, mid) => {
        entry.tracks[kind] = track ? { track, mid } : null;
        if (kind === 'video') {
            entry.video.srcObject = track ? new MediaStream([track]) : null;
        } else if (entry.audio) {
            entry.audio.srcObject = track ? new MediaStream([track]) : null;
            // A browser that blocks autoplay needs one click for sound.
            if (track) entry.audio.play().catch(() => { soundButton.hidden = false; });
        }
        renderEntry(entry);
    };

    /** @param {string} id */
    const removeEntry = (id) => {
        const entry = entries.get(id);
        early.delete(id);
        if (!entry) return;
        entry.video.srcObject = null;
        if (entry.audio) entry.audio.srcObject = null;
        entry.tile.remove();
        entry.item.remove();
        entries.delete(id);
        relayout();
    };

    const relayout = () => {
        count.textContent = t.participantCount(entries.size);
        status.textContent = entries.size === 1 ? t.aloneHint : '';
        layoutGrid(tiles, entries.size);
    };
    const resizeObserver = new ResizeObserver(() => layoutGrid(tiles, entries.size));
    resizeObserver.observe(tiles);

    /** @param {string} text */
    const announce = (text) => {
        announcer.textContent = text;
    };

    // --- own tile and controls ----------------------------------------
    const self = addEntry({
        id: joined.id,
        nickname: joined.nickname,
        audio: conference.audio,
        video: conference.video,
    }, true);
    const showOwnVideo = () => {
        const track = conference.video ? media.videoTrack : null;
        attach(self, 'video', track, '');
    };
    showOwnVideo();

    const renderControls = () => {
        const mic = conference.audio;
        const cam = conference.video;
        micButton.replaceChildren(icon('mic', !mic), h('span', { class: 'control-text', text: t.micLabel }));
        micButton.setAttribute('aria-pressed', String(mic));
        micButton.title = mic ? t.micOn : t.micOff;
        camButton.replaceChildren(icon('camera', !cam), h('span', { class: 'control-text', text: t.camLabel }));
        camButton.setAttribute('aria-pressed', String(cam));
        camButton.title = cam ? t.camOn : t.camOff;
        self.participant = { ...self.participant, audio: mic, video: cam };
        renderEntry(self);
    };
    renderControls();

    let busy = false;
    micButton.addEventListener('click', async () => {
        if (busy) return;
        busy = true;
        try {
            if (conference.audio) {
                await conference.setAudio(false);
            } else {
                const track = media.audioTrack ?? await media.acquire('audio');
                if (track) {
                    track.enabled = true;
                    await conference.setAudio(true, track);
                } else {
                    announce(t.microphoneUnavailable);
                }
            }
        } finally {
            busy = false;
            renderControls();
        }
    });
    camButton.addEventListener('click', async () => {
        if (busy) return;
        busy = true;
        try {
            if (conference.video) {
                await conference.setVideo(false);
                // Off means off: release the camera so its light goes out.
                media.release('video');
            } else {
                const track = await media.acquire('video');
                if (track) await conference.setVideo(true, track);
                else announce(t.cameraUnavailable);
            }
        } finally {
            busy = false;
            showOwnVideo();
            renderControls();
        }
    });

    // The list starts open where there is room for it.
    let panelOpen = window.matchMedia('(min-width: 60em)').matches;
    /**
     * @param {boolean} open
     * @param {boolean} [returnFocus]
     */
    const setPanel = (open, returnFocus = false) => {
        panelOpen = open;
        panel.hidden = !open;
        page.classList.toggle('panel-open', open);
        panelButton.setAttribute('aria-expanded', String(open));
        if (returnFocus) panelButton.focus();
        layoutGrid(tiles, entries.size);
    };
    setPanel(panelOpen);
    panelButton.addEventListener('click', () => setPanel(!panelOpen));
    /** @param {KeyboardEvent} e */
    const onKey = (e) => {
        if (e.key === 'Escape' && panelOpen && panel.contains(document.activeElement)) {
            setPanel(false, true);
        }
    };
    document.addEventListener('keydown', onKey);
    // Closing the tab: say goodbye so the others' tiles go at once.
    const onPageHide = () => conference.leave();
    window.addEventListener('pagehide', onPageHide);

    let overlayShown = false;
    leaveButton.addEventListener('click', () => {
        conference.leave();
    });

    /**
     * A blocking message with one way out: reload.
     * @param {string} heading
     * @param {string} text
     */
    const showFatal = (heading, text) => {
        if (overlayShown) return;
        overlayShown = true;
        const headingId = uid('fatal');
        const reload = h('button', {
            type: 'button',
            class: 'button primary',
            text: t.reload,
            on: { click: () => location.reload() },
        });
        const overlay = h('div', { class: 'overlay' },
            h('div', {
                class: 'card stack dialog',
                role: 'alertdialog',
                'aria-modal': 'true',
                'aria-labelledby': headingId,
            },
            h('h2', { id: headingId, text: heading }),
            h('p', { text }),
            reload));
        page.append(overlay);
        reload.focus();
    };

    // --- conference events ----------------------------------------------
    /** @type {[string, (e: any) => void][]} */
    const listeners = [
        ['participantjoined', (e) => {
            const p = /** @type {Participant} */ (e.detail.participant);
            if (entries.has(p.id)) return;
            addEntry(p, false);
            announce(t.joinedNotice(p.nickname));
        }],
        ['participantleft', (e) => {
            const entry = entries.get(e.detail.id);
            if (entry) announce(t.leftNotice(entry.participant.nickname));
            removeEntry(e.detail.id);
        }],
        ['participantupdated', (e) => {
            const p = /** @type {Participant} */ (e.detail.participant);
            const entry = entries.get(p.id);
            if (!entry || entry.self) return;
            entry.participant = p;
            renderEntry(entry);
        }],
        ['track', (e) => {
            /** @type {{participant: string, kind: 'audio'|'video', track: MediaStreamTrack, mid: string}} */
            const { participant, kind, track, mid } = e.detail;
            const entry = entries.get(participant);
            if (entry) {
                attach(entry, kind, track, mid);
            } else {
                const list = early.get(participant) ?? [];
                list.push({ kind, track, mid });
                early.set(participant, list);
            }
            // A track that ends (its m-line stopped) leaves the tile.
            track.addEventListener('ended', () => {
                const now = entries.get(participant);
                if (now && now.tracks[kind]?.track === track) attach(now, kind, null, mid);
            });
        }],
        ['trackremoved', (e) => {
            /** @type {{participant: string, kind: 'audio'|'video', mid: string}} */
            const { participant, kind, mid } = e.detail;
            const entry = entries.get(participant);
            if (entry && entry.tracks[kind]?.mid === mid) {
                attach(entry, kind, null, mid);
            }
        }],
        ['mediaconnection', (e) => {
            const state = e.detail.state;
            page.classList.toggle('media-connecting', state === 'new' || state === 'connecting');
        }],
        ['error', (e) => {
            const error = e.detail;
            if (error.fatal) showFatal(t.errorHeading, errorText(t, error));
            else announce(errorText(t, error));
        }],
        ['closed', (e) => {
            media.stop();
            if (e.detail.expected) {
                app.left(joined.room);
            } else {
                showFatal(t.lostHeading, t.lostText);
            }
        }],
    ];
    for (const [type, fn] of listeners) conference.addEventListener(type, fn);

    for (const p of joined.participants) addEntry(p, false);
    relayout();

    return () => {
        for (const [type, fn] of listeners) conference.removeEventListener(type, fn);
        document.removeEventListener('keydown', onKey);
        window.removeEventListener('pagehide', onPageHide);
        resizeObserver.disconnect();
        conference.leave();
        media.stop();
        for (const id of [...entries.keys()]) removeEntry(id);
        page.remove();
    };
}
