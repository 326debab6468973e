// The room: participant tiles (own tile included) in tile view or speaker
// view, screen shares shown large, the controls (microphone, camera,
// screen, hand, chat, participants, settings, leave) and three side panels
// (participants with moderation, chat, settings).
//
// Everything drawn here comes from the Conference's state, so the page can
// be drawn again at any time (a language switch does that) without touching
// the call. What only the UI knows (view, open panel, unread count) lives in
// `app.roomUi`.

import { h, icon, uid } from './dom.js';
import { copyText, errorText, guestLink, moderatorLink, languageSwitch, privacyLink } from './common.js';
import { layoutGrid } from './grid.js';
import { canShareScreen, captureScreen } from '../media.js';
import { showDevicePicker } from './devices.js';

/**
 * @typedef {import('../protocol.js').Participant} Participant
 * @typedef {import('../protocol.js').Conference} Conference
 * @typedef {import('../protocol.js').ChatMessage} ChatMessage
 * @typedef {import('../protocol.js').Source} Source
 * @typedef {import('../media.js').LocalMedia} LocalMedia
 */

/**
 * What the room page remembers while it is drawn again (memory only).
 * @typedef {object} RoomUi
 * @property {'tile'|'speaker'} view
 * @property {boolean} autoSpeaker  speaker view came from a screen share, not a choice
 * @property {'people'|'chat'|'settings'|null} panel
 * @property {number} unread        chat messages not seen yet
 * @property {string|null} lastSpeaker  the last remote participant who spoke
 * @property {boolean} startMutedNoticeShown
 * @property {string} chatDraft     a message being written, kept across a redraw
 */

/** @returns {RoomUi} */
export function newRoomUi() {
    return {
        view: 'tile',
        autoSpeaker: false,
        panel: window.matchMedia('(min-width: 60em)').matches ? 'people' : null,
        unread: 0,
        lastSpeaker: null,
        startMutedNoticeShown: false,
        chatDraft: '',
    };
}

/**
 * One tile: a person's camera, or a screen share.
 * @typedef {object} Tile
 * @property {string} key          participant id, or `<id>/screen`
 * @property {string} participant
 * @property {boolean} screen
 * @property {boolean} self
 * @property {number} order        stable order: own first, then joining order
 * @property {HTMLElement} el
 * @property {HTMLVideoElement} video
 * @property {HTMLAudioElement|null} audio
 * @property {HTMLElement} label
 * @property {HTMLElement} badges
 * @property {HTMLElement|null} avatar
 * @property {HTMLElement|null} hint   says why a camera that is on shows no video
 * @property {MediaStreamTrack|null} videoTrack
 * @property {MediaStreamTrack|null} audioTrack
 */

const NOTICE_MS = 6000;
/** Layout changes settle this long before the tile sizes go to the server. */
const SIZES_DEBOUNCE_MS = 300;

/**
 * @param {import('../app.js').App} app
 * @param {Conference} conference  already joined
 * @param {LocalMedia} media       the devices, now owned by the room
 * @returns {import('../app.js').Page}
 */
export function showRoom(app, conference, media) {
    const { t } = app;
    const ui = app.roomUi;
    document.title = `${conference.room} – ${t.appName}`;
    let disposed = false;

    /** @type {Map<string, Tile>} */
    const tileMap = new Map();
    let orderCounter = 0;
    /** @type {Map<string, number>} joining order of participants */
    const joinOrder = new Map();

    // --- skeleton --------------------------------------------------------
    const featured = h('div', { class: 'featured', hidden: true });
    const tiles = h('div', { class: 'tiles', role: 'list', 'aria-label': t.participants });
    const count = h('span', { class: 'count' });
    const lockBadge = h('span', { class: 'lock-badge', hidden: true }, icon('lock'), t.roomLockedBadge);
    // Peer to peer shows: the two browsers see each other's IP address.
    const directBadge = h('span', { class: 'direct-badge', hidden: true, title: t.directExplained },
        t.directBadge, h('span', { class: 'visually-hidden', text: `: ${t.directExplained}` }));
    const announcer = h('div', { class: 'visually-hidden', 'aria-live': 'polite' });
    const status = h('p', { class: 'room-status', role: 'status' });
    const notices = h('div', { class: 'notices', role: 'status', 'aria-live': 'polite' });
    const soundButton = h('button', {
        type: 'button',
        class: 'button primary sound',
        hidden: true,
        text: t.enableSound,
        on: {
            click: () => {
                soundButton.hidden = true;
                for (const a of page.querySelectorAll('audio')) {
                    /** @type {HTMLAudioElement} */ (a).play().catch(() => { soundButton.hidden = false; });
                }
            },
        },
    });
    const copyStatus = h('span', { class: 'hint', role: 'status' });
    const viewButton = h('button', { type: 'button', class: 'button small view-switch' });

    const headerLinks = h('div', { class: 'row header-links' },
        h('button', {
            type: 'button',
            class: 'button small link copy-guest',
            on: { click: () => copyText(t, guestLink(conference.room), copyStatus) },
        }, icon('link'), t.copyLink),
        app.moderatorSecret ? h('button', {
            type: 'button',
            class: 'button small link copy-moderator',
            on: { click: () => copyText(t, moderatorLink(conference.room, app.moderatorSecret), copyStatus) },
        }, icon('key'), t.copyModeratorLink) : null,
        copyStatus,
        viewButton,
        languageSwitch(app),
        // A new tab, so the call goes on.
        privacyLink(app, true));

    // --- panels ----------------------------------------------------------
    /**
     * @param {'people'|'chat'|'settings'} name
     * @param {string} title
     * @param {...(Node|null)} body
     */
    const makePanel = (name, title, ...body) => {
        const headingId = uid(`${name}-heading`);
        const panel = h('aside', {
            id: uid(`${name}-panel`),
            class: `panel panel-${name}`,
            'aria-labelledby': headingId,
            hidden: true,
        },
        h('div', { class: 'panel-header' },
            h('h2', { id: headingId, text: title }),
            h('button', {
                type: 'button',
                class: 'button small',
                text: t.closePanel,
                on: { click: () => setPanel(null, true) },
            })),
        ...body);
        return panel;
    };

    // Participants (with moderation)
    const lockArea = h('div', { class: 'lock-area stack-tight' });
    const list = h('ul', { class: 'participant-list' });
    const peoplePanel = makePanel('people', t.participants, lockArea, list);

    // Chat
    const chatLog = h('ol', { class: 'chat-log', role: 'log', 'aria-label': t.chatHistory });
    const chatInputId = uid('chat-input');
    const chatCounterId = uid('chat-counter');
    const chatInput = /** @type {HTMLTextAreaElement} */ (h('textarea', {
        id: chatInputId,
        name: 'chat',
        rows: '2',
        'aria-describedby': chatCounterId,
        props: { maxLength: conference.settings.chatMaxChars, value: ui.chatDraft },
    }));
    ui.chatDraft = '';
    const chatCounter = h('p', { id: chatCounterId, class: 'hint chat-counter' });
    const chatError = h('p', { class: 'form-error chat-error', role: 'alert' });
    const chatForm = h('form', { class: 'chat-form stack-tight', novalidate: true },
        h('label', { for: chatInputId, text: t.chatMessageLabel }),
        chatInput,
        h('div', { class: 'row chat-row' },
            chatCounter,
            h('button', { type: 'submit', class: 'button primary small', text: t.chatSend })),
        chatError);
    const chatPanel = makePanel('chat', t.chat, chatLog, chatForm);

    // Settings: devices
    const devicesArea = h('div', { class: 'stack' });
    const settingsPanel = makePanel('settings', t.settings, devicesArea);

    // --- controls --------------------------------------------------------
    const micButton = h('button', { type: 'button', class: 'control control-mic' });
    const camButton = h('button', { type: 'button', class: 'control control-cam' });
    const screenButton = canShareScreen()
        ? h('button', { type: 'button', class: 'control control-screen' }) : null;
    const handButton = h('button', { type: 'button', class: 'control control-hand' });
    const unreadBadge = h('span', { class: 'unread', hidden: true });
    const chatButton = h('button', {
        type: 'button',
        class: 'control control-chat',
        'aria-controls': chatPanel.id,
    }, icon('chat'), h('span', { class: 'control-text', text: t.chat }), unreadBadge);
    const peopleButton = h('button', {
        type: 'button',
        class: 'control control-people',
        'aria-controls': peoplePanel.id,
    }, icon('people'), h('span', { class: 'control-text', text: t.participants }));
    const settingsButton = h('button', {
        type: 'button',
        class: 'control control-settings',
        'aria-controls': settingsPanel.id,
    }, icon('gear'), h('span', { class: 'control-text', text: t.settings }));
    const leaveButton = h('button', {
        type: 'button',
        class: 'control leave',
    }, icon('leave'), h('span', { class: 'control-text', text: t.leave }));

    const page = h('div', { class: 'room' },
        h('header', { class: 'room-header' },
            h('h1', { text: t.roomHeading(conference.room) }),
            count,
            lockBadge,
            directBadge,
            headerLinks),
        h('div', { class: 'room-body' },
            h('main', { class: 'stage' }, featured, tiles, status, soundButton, notices),
            peoplePanel,
            chatPanel,
            settingsPanel),
        h('footer', { class: 'controls', 'aria-label': t.controls },
            micButton, camButton, screenButton, handButton, chatButton, peopleButton, settingsButton, leaveButton),
        announcer);
    app.root.replaceChildren(page);

    /** @param {string} text */
    const announce = (text) => {
        announcer.textContent = text;
    };

    /**
     * A short message on the stage that goes away by itself.
     * @param {string} text
     */
    const notify = (text) => {
        const note = h('p', { class: 'notice room-notice', text });
        notices.append(note);
        setTimeout(() => note.remove(), NOTICE_MS);
    };

    // --- the sizes the others' cameras are shown at ------------------------
    /** @type {ReturnType<typeof setTimeout>|null} */
    let sizesTimer = null;
    /**
     * Tells the server, once the layout has settled, how tall each remote
     * camera is shown in device pixels (0: not shown), so that it sends the
     * simulcast layer that fits.
     */
    const scheduleSizes = () => {
        if (sizesTimer !== null || disposed) return;
        sizesTimer = setTimeout(() => {
            sizesTimer = null;
            if (disposed) return;
            const dpr = window.devicePixelRatio || 1;
            /** @type {Record<string, number>} */
            const sizes = {};
            for (const id of conference.participants.keys()) {
                const tile = tileMap.get(id);
                const shown = tile && tile.el.isConnected ? tile.el.getBoundingClientRect().height : 0;
                sizes[id] = Math.round(shown * dpr);
            }
            conference.setVideoSizes(sizes);
        }, SIZES_DEBOUNCE_MS);
    };
    const sizeObserver = new ResizeObserver(scheduleSizes);
    // Zooming changes devicePixelRatio and fires `resize`.
    window.addEventListener('resize', scheduleSizes);

    // --- tiles -------------------------------------------------------------
    /**
     * @param {string} participant
     * @param {boolean} screen
     * @returns {Tile}
     */
    const addTile = (participant, screen) => {
        const self = participant === conference.id;
        const key = screen ? `${participant}/screen` : participant;
        const existing = tileMap.get(key);
        if (existing) return existing;
        if (!joinOrder.has(participant)) joinOrder.set(participant, self ? -1 : (orderCounter += 1));
        const video = /** @type {HTMLVideoElement} */ (h('video', {
            class: self && !screen ? 'tile-video mirrored' : 'tile-video',
            autoplay: true,
            playsinline: true,
            props: { muted: true },
        }));
        const audio = self || screen ? null : /** @type {HTMLAudioElement} */ (h('audio', { autoplay: true }));
        if (audio && media.speakerId) setSink(audio, media.speakerId);
        const label = h('span', { class: 'tile-name' });
        const badges = h('span', { class: 'badges' });
        const avatar = screen ? null : h('div', { class: 'avatar', 'aria-hidden': 'true' });
        const hint = screen || self ? null : h('span', { class: 'visually-hidden tile-hint' });
        const el = h('figure', {
            class: screen ? 'tile screen' : 'tile',
            role: 'listitem',
            'data-participant': participant,
            'data-source': screen ? 'screen' : 'camera',
        },
        video,
        audio,
        avatar,
        h('figcaption', { class: 'tile-label' }, badges, label, hint));
        if (self) el.classList.add('self');
        /** @type {Tile} */
        const tile = {
            key,
            participant,
            screen,
            self,
            order: (joinOrder.get(participant) ?? 0) * 2 + (screen ? 1 : 0),
            el,
            video,
            audio,
            label,
            badges,
            avatar,
            hint,
            videoTrack: null,
            audioTrack: null,
        };
        tileMap.set(key, tile);
        renderTile(tile);
        if (!self && !screen) sizeObserver.observe(el);
        scheduleSizes();
        return tile;
    };

    /**
     * @param {string} id
     * @returns {Participant|null}
     */
    const participantOf = (id) => {
        if (id === conference.id) {
            return {
                id,
                nickname: conference.nickname,
                audio: conference.audio,
                video: conference.video,
                hand: conference.hand,
                moderator: conference.moderator,
            };
        }
        return conference.participants.get(id) ?? null;
    };

    /** @param {Tile} tile */
    const renderTile = (tile) => {
        const p = participantOf(tile.participant);
        if (!p) return;
        // textContent only: nicknames are other people's input.
        if (tile.screen) {
            tile.label.textContent = tile.self ? t.yourScreen : t.screenOf(p.nickname);
        } else {
            tile.label.textContent = tile.self ? t.you(p.nickname) : p.nickname;
        }
        // A camera that is on but not forwarded to us (last-N) shows the
        // avatar with a word on why, not its last frame frozen.
        const paused = !tile.screen && !tile.self && p.video && !conference.receivesVideo(tile.participant);
        if (tile.avatar) {
            const initial = [...p.nickname][0]?.toUpperCase() ?? '?';
            if (paused) {
                tile.avatar.replaceChildren(h('span', { text: initial }),
                    h('span', { class: 'avatar-hint', text: t.videoPaused }));
                tile.avatar.title = t.videoPausedExplained;
            } else {
                tile.avatar.textContent = initial;
                tile.avatar.removeAttribute('title');
            }
        }
        if (tile.hint) tile.hint.textContent = paused ? `, ${t.videoPausedExplained}` : '';
        const hasVideo = tile.screen ? !!tile.videoTrack : p.video && !!tile.videoTrack && !paused;
        tile.el.classList.toggle('video-off', !hasVideo);
        tile.el.classList.toggle('video-paused', paused);
        tile.badges.replaceChildren();
        if (!tile.screen) {
            if (p.hand) {
                tile.badges.append(h('span', { class: 'badge hand' }, icon('hand'),
                    h('span', { class: 'visually-hidden', text: t.handRaisedState })));
            }
            if (!p.audio) {
                tile.badges.append(h('span', { class: 'badge muted' }, icon('mic', true),
                    h('span', { class: 'visually-hidden', text: t.micMutedState })));
            }
        }
        tile.el.classList.toggle('speaking', !tile.screen && conference.activeSpeaker === tile.participant);
    };

    /**
     * @param {Tile} tile
     * @param {'audio'|'video'} kind
     * @param {MediaStreamTrack|null} track
     */
    const attach = (tile, kind, track) => {
        if (kind === 'video') {
            if (tile.videoTrack !== track) {
                tile.videoTrack = track;
                tile.video.srcObject = track ? new MediaStream([track]) : null;
            }
        } else if (tile.audio) {
            if (tile.audioTrack !== track) {
                tile.audioTrack = track;
                tile.audio.srcObject = track ? new MediaStream([track]) : null;
                // A browser that blocks autoplay needs one click for sound.
                if (track) tile.audio.play().catch(() => { soundButton.hidden = false; });
            }
        }
        renderTile(tile);
    };

    /** @param {string} key */
    const removeTile = (key) => {
        const tile = tileMap.get(key);
        if (!tile) return;
        tile.video.srcObject = null;
        if (tile.audio) tile.audio.srcObject = null;
        sizeObserver.unobserve(tile.el);
        tile.el.remove();
        tileMap.delete(key);
        scheduleSizes();
    };

    /** The tile shown large in speaker view. */
    const featuredTile = () => {
        const all = [...tileMap.values()];
        const screens = all.filter((x) => x.screen && !x.self && x.videoTrack);
        if (screens.length > 0) return screens[screens.length - 1];
        const speaking = conference.activeSpeaker;
        if (speaking && speaking !== conference.id && tileMap.has(speaking)) return tileMap.get(speaking) ?? null;
        if (ui.lastSpeaker && tileMap.has(ui.lastSpeaker)) return tileMap.get(ui.lastSpeaker) ?? null;
        const remote = all.filter((x) => !x.self && !x.screen).sort((a, b) => a.order - b.order);
        if (remote.length > 0) return remote[0];
        return tileMap.get(conference.id ?? '') ?? null;
    };

    /** Puts every tile where the view wants it, in a stable order. */
    const layout = () => {
        const speakerView = ui.view === 'speaker';
        const star = speakerView ? featuredTile() : null;
        const ordered = [...tileMap.values()].sort((a, b) => a.order - b.order);
        featured.hidden = !star;
        if (star && star.el.parentElement !== featured) featured.replaceChildren(star.el);
        if (!star) featured.replaceChildren();
        for (const [i, tile] of ordered.filter((x) => x !== star).entries()) {
            if (tiles.children[i] !== tile.el) tiles.insertBefore(tile.el, tiles.children[i] ?? null);
        }
        tiles.classList.toggle('filmstrip', speakerView);
        page.classList.toggle('speaker-view', speakerView);
        // Moving a playing element pauses it in some engines; go on playing.
        for (const tile of tileMap.values()) {
            if (tile.video.srcObject && tile.video.paused) tile.video.play().catch(() => {});
        }
        const gridCount = tiles.children.length;
        if (speakerView) {
            tiles.style.removeProperty('--tile-width');
            tiles.style.removeProperty('--columns');
        } else {
            layoutGrid(tiles, gridCount);
        }
        viewButton.replaceChildren(icon(speakerView ? 'grid' : 'speaker'),
            speakerView ? t.tileView : t.speakerView);
        viewButton.setAttribute('aria-label', speakerView ? t.switchToTileView : t.switchToSpeakerView);
        const people = 1 + conference.participants.size;
        count.textContent = t.participantCount(people);
        status.textContent = people === 1 ? t.aloneHint : '';
    };
    const resizeObserver = new ResizeObserver(() => {
        if (ui.view === 'tile') layoutGrid(tiles, tiles.children.length);
    });
    resizeObserver.observe(tiles);

    /** @param {'tile'|'speaker'} view */
    const setView = (view) => {
        ui.view = view;
        layout();
    };
    viewButton.addEventListener('click', () => {
        ui.autoSpeaker = false;
        setView(ui.view === 'tile' ? 'speaker' : 'tile');
    });

    /** A remote screen share shows large: speaker view while it lasts. */
    const followScreens = () => {
        const sharing = [...tileMap.values()].some((x) => x.screen && !x.self && x.videoTrack);
        if (sharing && ui.view === 'tile') {
            ui.autoSpeaker = true;
            ui.view = 'speaker';
        } else if (!sharing && ui.autoSpeaker) {
            ui.autoSpeaker = false;
            ui.view = 'tile';
        }
        layout();
    };

    // --- participant list ---------------------------------------------------
    /** @type {Map<string, HTMLElement>} */
    const items = new Map();
    /** Who has a hand up (to say so once when it goes up). */
    const handsUp = new Set([...conference.participants.values()].filter((p) => p.hand).map((p) => p.id));

    /**
     * @param {string} id
     */
    const renderItem = (id) => {
        const p = participantOf(id);
        let item = items.get(id);
        if (!p) {
            item?.remove();
            items.delete(id);
            return;
        }
        if (!item) {
            item = h('li', { class: 'participant', 'data-participant': id });
            items.set(id, item);
        }
        const self = id === conference.id;
        const name = self ? t.you(p.nickname) : p.nickname;
        const spoken = [
            p.hand ? t.handRaisedState : null,
            p.audio ? t.micUnmutedState : t.micMutedState,
            p.video ? t.camOnState : t.camOffState,
        ].filter(Boolean).join(', ');
        const state = h('span', { class: 'participant-state' },
            p.hand ? h('span', { class: 'state-hand' }, icon('hand')) : null,
            icon('mic', !p.audio),
            icon('camera', !p.video),
            h('span', { class: 'visually-hidden', text: spoken }));
        const head = h('div', { class: 'participant-line' },
            h('span', { class: 'participant-name', text: name }),
            p.moderator ? h('span', { class: 'pill moderator-badge', text: t.moderatorBadge }) : null,
            state);
        /** @type {HTMLElement[]} */
        const actions = [];
        if (conference.moderator && !self) {
            if (p.audio) {
                actions.push(h('button', {
                    type: 'button',
                    class: 'button small action-mute',
                    'aria-label': t.muteParticipantLabel(p.nickname),
                    text: t.muteParticipant,
                    on: { click: () => conference.muteParticipant(id) },
                }));
            }
            if (!p.moderator) {
                actions.push(h('button', {
                    type: 'button',
                    class: 'button small action-grant',
                    'aria-label': t.grantModeratorLabel(p.nickname),
                    text: t.grantModerator,
                    on: { click: () => conference.grantModerator(id) },
                }));
            }
            actions.push(h('button', {
                type: 'button',
                class: 'button small danger action-remove',
                'aria-label': t.removeParticipantLabel(p.nickname),
                text: t.removeParticipant,
                on: { click: (/** @type {MouseEvent} */ e) => confirmRemove(id, /** @type {HTMLElement} */ (e.currentTarget)) },
            }));
        }
        item.replaceChildren(head);
        if (actions.length) item.append(h('div', { class: 'row participant-actions' }, ...actions));
        item.classList.toggle('muted', !p.audio);
        item.classList.toggle('speaking', conference.activeSpeaker === id);
    };

    const renderList = () => {
        const ids = [conference.id ?? '', ...conference.participants.keys()];
        for (const id of [...items.keys()]) if (!ids.includes(id)) renderItem(id);
        // Raised hands first (in joining order), then everyone else.
        const sorted = ids.filter((id) => participantOf(id)?.hand && id !== conference.id);
        const rest = ids.filter((id) => !sorted.includes(id) && id !== conference.id);
        const order = [conference.id ?? '', ...sorted, ...rest];
        for (const id of order) renderItem(id);
        list.replaceChildren(...order.map((id) => items.get(id)).filter((x) => !!x).map((x) => /** @type {HTMLElement} */ (x)));
        renderLockArea();
    };

    /**
     * A small modal question before removing someone.
     * @param {string} id
     * @param {HTMLElement} from  gets the focus back
     */
    const confirmRemove = (id, from) => {
        const p = conference.participants.get(id);
        if (!p) return;
        const headingId = uid('confirm');
        const dialog = /** @type {HTMLDialogElement} */ (h('dialog', {
            class: 'card stack dialog confirm-remove',
            'aria-labelledby': headingId,
        },
        h('h2', { id: headingId, text: t.removeConfirm(p.nickname) }),
        h('div', { class: 'row' },
            h('button', {
                type: 'button',
                class: 'button danger confirm',
                text: t.removeParticipant,
                on: {
                    click: () => {
                        conference.removeParticipant(id);
                        dialog.close();
                    },
                },
            }),
            h('button', {
                type: 'button',
                class: 'button cancel',
                text: t.cancel,
                on: { click: () => dialog.close() },
            }))));
        dialog.addEventListener('close', () => {
            dialog.remove();
            if (from.isConnected) from.focus();
        });
        page.append(dialog);
        dialog.showModal();
    };

    const renderLockArea = () => {
        lockBadge.hidden = !conference.locked;
        lockArea.replaceChildren();
        if (!conference.moderator) {
            if (conference.locked) lockArea.append(h('p', { class: 'hint', text: t.roomIsLocked }));
            return;
        }
        if (conference.locked) {
            lockArea.append(
                h('p', { class: 'hint', text: t.roomIsLocked }),
                h('button', {
                    type: 'button',
                    class: 'button small action-unlock',
                    text: t.unlockRoom,
                    on: { click: () => conference.unlockRoom() },
                }, icon('unlock')));
            return;
        }
        const passwordId = uid('lock-password');
        const lockErrorId = uid('lock-error');
        const password = /** @type {HTMLInputElement} */ (h('input', {
            id: passwordId,
            name: 'room-password',
            // Hidden: a moderator may be sharing the screen while typing it.
            type: 'password',
            autocomplete: 'new-password',
            spellcheck: 'false',
            maxlength: '64',
            'aria-describedby': lockErrorId,
        }));
        const lockError = h('p', { id: lockErrorId, class: 'field-error', role: 'alert' });
        const form = h('form', {
            class: 'lock-form stack-tight',
            novalidate: true,
            on: {
                submit: (/** @type {SubmitEvent} */ e) => {
                    e.preventDefault();
                    const value = password.value;
                    const length = [...value].length;
                    if (length < 1 || length > 64) {
                        lockError.textContent = t.lockPasswordProblem;
                        password.setAttribute('aria-invalid', 'true');
                        password.focus();
                        return;
                    }
                    conference.lockRoom(value);
                },
            },
        },
        h('label', { for: passwordId, text: t.lockPasswordLabel }),
        h('div', { class: 'row lock-row' },
            password,
            h('button', { type: 'submit', class: 'button small action-lock' }, icon('lock'), t.lockRoom)),
        lockError);
        lockArea.append(form);
    };

    // --- chat ---------------------------------------------------------------
    const timeFormat = new Intl.DateTimeFormat(t.lang, { hour: '2-digit', minute: '2-digit' });

    /** @param {ChatMessage} m */
    const chatItem = (m) => {
        const own = m.from === conference.id;
        return h('li', { class: own ? 'chat-message own' : 'chat-message', 'data-id': String(m.id) },
            h('div', { class: 'chat-meta' },
                // textContent only: nickname and text are other people's input.
                h('span', { class: 'chat-from', text: own ? t.you(m.nickname) : m.nickname }),
                h('time', { class: 'chat-time', datetime: new Date(m.time).toISOString(), text: timeFormat.format(m.time) })),
            h('p', { class: 'chat-text', text: m.text }));
    };
    chatLog.replaceChildren(...conference.chat.map(chatItem));
    if (conference.chat.length === 0) chatLog.append(h('li', { class: 'chat-empty hint', text: t.chatEmpty }));

    const renderUnread = () => {
        unreadBadge.hidden = ui.unread === 0;
        unreadBadge.textContent = ui.unread > 99 ? '99+' : String(ui.unread);
        chatButton.setAttribute('aria-label', ui.unread > 0 ? t.chatUnread(ui.unread) : t.chat);
    };

    const renderChatCounter = () => {
        const max = conference.settings.chatMaxChars;
        const used = [...chatInput.value].length;
        // Only worth showing near the limit.
        chatCounter.textContent = used > max * 0.8 ? t.chatCharsLeft(max - used) : '';
    };

    /** The text we last sent, in case the server refuses it. */
    let pendingChat = { text: '', at: 0 };
    const sendChat = () => {
        const text = chatInput.value.trim();
        chatError.textContent = '';
        if (!text) {
            chatInput.focus();
            return;
        }
        if ([...text].length > conference.settings.chatMaxChars) {
            chatError.textContent = t.chatTooLong(conference.settings.chatMaxChars);
            return;
        }
        conference.sendChat(text);
        pendingChat = { text, at: Date.now() };
        chatInput.value = '';
        renderChatCounter();
    };
    chatForm.addEventListener('submit', (e) => {
        e.preventDefault();
        sendChat();
    });
    chatInput.addEventListener('keydown', (e) => {
        // Enter sends, Shift+Enter starts a new line.
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            sendChat();
        }
    });
    chatInput.addEventListener('input', renderChatCounter);

    // --- own controls -------------------------------------------------------
    const renderControls = () => {
        const mic = conference.audio;
        const cam = conference.video;
        micButton.replaceChildren(icon('mic', !mic), h('span', { class: 'control-text', text: t.micLabel }));
        micButton.setAttribute('aria-pressed', String(mic));
        micButton.title = mic ? t.micOn : t.micOff;
        camButton.replaceChildren(icon('camera', !cam), h('span', { class: 'control-text', text: t.camLabel }));
        camButton.setAttribute('aria-pressed', String(cam));
        camButton.title = cam ? t.camOn : t.camOff;
        if (screenButton) {
            const sharing = !!conference.screenTrack;
            screenButton.replaceChildren(icon('screen'), h('span', {
                class: 'control-text',
                text: sharing ? t.stopSharing : t.shareScreen,
            }));
            screenButton.setAttribute('aria-pressed', String(sharing));
            screenButton.classList.toggle('active', sharing);
        }
        handButton.replaceChildren(icon('hand'), h('span', {
            class: 'control-text',
            text: conference.hand ? t.lowerHand : t.raiseHand,
        }));
        handButton.setAttribute('aria-pressed', String(conference.hand));
        handButton.classList.toggle('active', conference.hand);
    };

    const showOwnMedia = () => {
        const selfTile = addTile(conference.id ?? '', false);
        attach(selfTile, 'video', conference.video ? media.videoTrack : null);
        if (conference.screenTrack) {
            attach(addTile(conference.id ?? '', true), 'video', conference.screenTrack);
        } else {
            removeTile(`${conference.id}/screen`);
        }
    };

    const renderSelf = () => {
        renderControls();
        showOwnMedia();
        renderItem(conference.id ?? '');
        renderList();
        layout();
    };

    // One switch at a time per control (a second click while the first is
    // being applied is ignored), but the controls are independent: muting
    // and switching the camera off in quick succession must both count.
    const busy = { mic: false, cam: false, screen: false };
    micButton.addEventListener('click', async () => {
        if (busy.mic) return;
        busy.mic = true;
        try {
            if (conference.audio) {
                await conference.setAudio(false);
            } else {
                const track = media.audioTrack ?? await media.acquire('audio');
                if (track) {
                    track.enabled = true;
                    await conference.setAudio(true, track);
                } else {
                    notify(t.microphoneUnavailable);
                }
            }
        } finally {
            busy.mic = false;
            if (!disposed) renderSelf();
        }
    });
    camButton.addEventListener('click', async () => {
        if (busy.cam) return;
        busy.cam = true;
        try {
            if (conference.video) {
                await conference.setVideo(false);
                // Off means off: release the camera so its light goes out.
                media.release('video');
            } else {
                const track = await media.acquire('video');
                if (track) await conference.setVideo(true, track);
                else notify(t.cameraUnavailable);
            }
        } finally {
            busy.cam = false;
            if (!disposed) renderSelf();
        }
    });
    screenButton?.addEventListener('click', async () => {
        if (busy.screen) return;
        busy.screen = true;
        try {
            if (conference.screenTrack) {
                await conference.stopScreen();
            } else {
                let track;
                try {
                    track = await captureScreen(conference.settings.screenMaxFramerate);
                } catch (err) {
                    // Cancelling the browser's picker is no error worth a word.
                    if (!(err instanceof Error && err.name === 'NotAllowedError')) notify(t.screenUnavailable);
                }
                if (track) await conference.startScreen(track);
            }
        } finally {
            busy.screen = false;
            if (!disposed) renderSelf();
        }
    });
    handButton.addEventListener('click', () => {
        conference.setHand(!conference.hand);
        announce(conference.hand ? t.handRaisedSelf : t.handLoweredSelf);
    });

    // --- panels -------------------------------------------------------------
    const panels = { people: peoplePanel, chat: chatPanel, settings: settingsPanel };
    const panelButtons = { people: peopleButton, chat: chatButton, settings: settingsButton };
    /** @type {(() => void)|null} */
    let disposeDevices = null;

    /**
     * @param {'people'|'chat'|'settings'|null} name
     * @param {boolean} [returnFocus] put the focus back on the control
     */
    const setPanel = (name, returnFocus = false) => {
        const before = ui.panel;
        ui.panel = name;
        for (const [key, panel] of Object.entries(panels)) {
            const open = key === name;
            panel.hidden = !open;
            panelButtons[/** @type {'people'|'chat'|'settings'} */ (key)].setAttribute('aria-expanded', String(open));
        }
        page.classList.toggle('panel-open', name !== null);
        if (name === 'chat') {
            ui.unread = 0;
            renderUnread();
            chatLog.scrollTop = chatLog.scrollHeight;
        }
        if (name === 'settings' && !disposeDevices) {
            disposeDevices = showDevicePicker(app, devicesArea, media, {
                onChange: async (kind, track) => {
                    if (track) await conference.replaceDevice(kind, track);
                    if (!disposed) showOwnMedia();
                },
                isOn: (kind) => (kind === 'audio' ? conference.audio : conference.video),
                onSpeaker: (id) => {
                    for (const a of page.querySelectorAll('audio')) setSink(/** @type {HTMLAudioElement} */ (a), id);
                },
            });
        } else if (name !== 'settings' && disposeDevices) {
            disposeDevices();
            disposeDevices = null;
        }
        if (returnFocus && before) panelButtons[before].focus();
        if (ui.view === 'tile') layoutGrid(tiles, tiles.children.length);
    };
    for (const [key, button] of Object.entries(panelButtons)) {
        const name = /** @type {'people'|'chat'|'settings'} */ (key);
        button.addEventListener('click', () => {
            setPanel(ui.panel === name ? null : name);
            if (ui.panel === 'chat') chatInput.focus();
        });
    }

    /** @param {KeyboardEvent} e */
    const onKey = (e) => {
        if (e.key !== 'Escape' || !ui.panel) return;
        const open = panels[ui.panel];
        if (open.contains(document.activeElement) && !page.querySelector('dialog[open]')) setPanel(null, true);
    };
    document.addEventListener('keydown', onKey);
    // Closing the tab: say goodbye so the others' tiles go at once.
    const onPageHide = () => conference.leave();
    window.addEventListener('pagehide', onPageHide);

    leaveButton.addEventListener('click', () => {
        conference.leave();
    });

    let overlayShown = false;
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
    /** @param {string} id */
    const nameOf = (id) => participantOf(id)?.nickname ?? t.someone;

    /** @type {[string, (e: any) => void][]} */
    const listeners = [
        ['participantjoined', (e) => {
            const p = /** @type {Participant} */ (e.detail.participant);
            addTile(p.id, false);
            renderList();
            layout();
            announce(t.joinedNotice(p.nickname));
        }],
        ['participantleft', (e) => {
            const id = /** @type {string} */ (e.detail.id);
            const tile = tileMap.get(id);
            if (tile) announce(t.leftNotice(tile.label.textContent ?? ''));
            removeTile(id);
            removeTile(`${id}/screen`);
            if (ui.lastSpeaker === id) ui.lastSpeaker = null;
            renderList();
            followScreens();
        }],
        ['participantupdated', (e) => {
            const p = /** @type {Participant} */ (e.detail.participant);
            const tile = tileMap.get(p.id);
            if (tile) renderTile(tile);
            const screen = tileMap.get(`${p.id}/screen`);
            if (screen) renderTile(screen);
            renderList();
            if (p.hand && !handsUp.has(p.id)) notify(t.handRaisedNotice(p.nickname));
            if (p.hand) handsUp.add(p.id);
            else handsUp.delete(p.id);
        }],
        ['self', () => {
            const wasModerator = page.classList.contains('is-moderator');
            page.classList.toggle('is-moderator', conference.moderator);
            if (conference.moderator && !wasModerator && moderatorKnown) notify(t.nowModerator);
            renderSelf();
        }],
        ['track', (e) => {
            /** @type {{participant: string, source: Source, kind: 'audio'|'video', track: MediaStreamTrack}} */
            const { participant, source, kind, track } = e.detail;
            const tile = addTile(participant, source === 'screen');
            attach(tile, kind, track);
            if (source === 'screen') followScreens();
            else layout();
        }],
        ['trackremoved', (e) => {
            /** @type {{participant: string, source: Source, kind: 'audio'|'video'}} */
            const { participant, source, kind } = e.detail;
            if (source === 'screen') {
                removeTile(`${participant}/screen`);
                followScreens();
                return;
            }
            const tile = tileMap.get(participant);
            if (tile) attach(tile, kind, null);
        }],
        ['chat', (e) => {
            const m = /** @type {ChatMessage} */ (e.detail.message);
            chatLog.querySelector('.chat-empty')?.remove();
            const stick = chatLog.scrollHeight - chatLog.scrollTop - chatLog.clientHeight < 40;
            chatLog.append(chatItem(m));
            while (chatLog.children.length > 500) chatLog.firstElementChild?.remove();
            if (stick || m.from === conference.id) chatLog.scrollTop = chatLog.scrollHeight;
            if (m.from === conference.id) {
                pendingChat = { text: '', at: 0 };
            } else if (ui.panel !== 'chat') {
                ui.unread += 1;
                renderUnread();
                announce(t.chatFrom(m.nickname, m.text));
            }
        }],
        ['activespeaker', (e) => {
            const id = /** @type {string|null} */ (e.detail.id);
            if (id && id !== conference.id) ui.lastSpeaker = id;
            for (const tile of tileMap.values()) renderTile(tile);
            for (const [pid, item] of items) item.classList.toggle('speaking', pid === id);
            if (ui.view === 'speaker') layout();
        }],
        ['mode', () => {
            page.dataset.mode = conference.direct ? 'p2p' : 'sfu';
            directBadge.hidden = !conference.direct;
            for (const tile of tileMap.values()) renderTile(tile);
        }],
        ['videoforwarded', () => {
            for (const tile of tileMap.values()) renderTile(tile);
        }],
        ['muted', (e) => {
            notify(t.mutedBy(nameOf(e.detail.by)));
            renderSelf();
        }],
        ['roomlocked', (e) => {
            const by = nameOf(e.detail.by);
            notify(e.detail.locked ? t.lockedBy(by) : t.unlockedBy(by));
            renderList();
        }],
        ['screenended', () => {
            renderSelf();
        }],
        ['mediaconnection', (e) => {
            const state = e.detail.state;
            page.classList.toggle('media-connecting', state === 'new' || state === 'connecting');
        }],
        ['error', (e) => {
            const error = e.detail;
            if (error.fatal) {
                if (error.code !== 'removed') showFatal(t.errorHeading, errorText(t, error));
                return;
            }
            const text = errorText(t, error);
            const chatRelated = (error.code === 'invalid-chat' || error.code === 'rate-limited')
                && Date.now() - pendingChat.at < 5000;
            if (chatRelated) {
                chatError.textContent = text;
                if (!chatInput.value && pendingChat.text) chatInput.value = pendingChat.text;
                pendingChat = { text: '', at: 0 };
                if (ui.panel !== 'chat') notify(text);
            } else if (error.code === 'not-moderator' || error.code === 'bad-target') {
                notify(text);
            } else {
                notify(text);
                announce(text);
            }
        }],
        ['closed', (e) => {
            if (e.detail.error?.code === 'removed' || e.detail.code === 4004) {
                media.stop();
                app.left(conference.room, 'removed');
                return;
            }
            media.stop();
            if (e.detail.expected) {
                app.left(conference.room, 'left');
            } else {
                showFatal(t.lostHeading, t.lostText);
            }
        }],
    ];
    for (const [type, fn] of listeners) conference.addEventListener(type, fn);

    // --- first drawing from the conference's state -------------------------
    let moderatorKnown = false;
    page.classList.toggle('is-moderator', conference.moderator);
    page.dataset.mode = conference.direct ? 'p2p' : 'sfu';
    directBadge.hidden = !conference.direct;
    addTile(conference.id ?? '', false);
    for (const p of conference.participants.values()) addTile(p.id, false);
    for (const shown of conference.media.values()) {
        attach(addTile(shown.participant, shown.source === 'screen'), shown.kind, shown.track);
    }
    renderSelf();
    renderUnread();
    renderChatCounter();
    setPanel(ui.panel);
    followScreens();
    moderatorKnown = true;
    if (conference.settings.startMuted && !ui.startMutedNoticeShown) {
        ui.startMutedNoticeShown = true;
        notify(t.startMutedNotice);
    }

    return {
        dispose(keepCall = false) {
            disposed = true;
            for (const [type, fn] of listeners) conference.removeEventListener(type, fn);
            document.removeEventListener('keydown', onKey);
            window.removeEventListener('pagehide', onPageHide);
            resizeObserver.disconnect();
            sizeObserver.disconnect();
            window.removeEventListener('resize', scheduleSizes);
            if (sizesTimer !== null) clearTimeout(sizesTimer);
            sizesTimer = null;
            disposeDevices?.();
            if (!keepCall) {
                conference.leave();
                media.stop();
            }
            for (const key of [...tileMap.keys()]) removeTile(key);
            page.remove();
        },
        redraw() {
            ui.chatDraft = chatInput.value;
            this.dispose(true);
            return showRoom(app, conference, media);
        },
    };
}

/**
 * Sends an element's sound to a chosen output device, where supported.
 * @param {HTMLAudioElement} audio
 * @param {string} id
 */
function setSink(audio, id) {
    const el = /** @type {any} */ (audio);
    if (typeof el.setSinkId === 'function') el.setSinkId(id).catch(() => {});
}
