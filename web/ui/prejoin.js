// The pre-join page: name, camera and microphone preview, device choice,
// whether to start with microphone and camera on; the room's password when
// it is locked; the links to share when this person created the meeting;
// then join.

import { h, uid, icon } from './dom.js';
import { checkNickname, checkRoomName } from '../names.js';
import { Conference } from '../protocol.js';
import { LocalMedia } from '../media.js';
import { showLanding } from './landing.js';
import { showDevicePicker } from './devices.js';
import { copyText, errorText, guestLink, moderatorLink, languageSwitch, privacyLink } from './common.js';

/**
 * What survives drawing the page again (a language switch).
 * @typedef {object} PrejoinState
 * @property {LocalMedia} media
 * @property {Promise<void>} started   the first getUserMedia
 * @property {boolean} micOn
 * @property {boolean} camOn
 * @property {string} nickname
 * @property {boolean} needsPassword   the server said the room is locked
 * @property {string} password
 * @property {boolean} released  the devices were let go (the person went elsewhere)
 */

/**
 * @param {import('../app.js').App} app
 * @param {string} rawRoom the room name from the URL
 * @param {PrejoinState} [carried] from the same page before a redraw
 * @returns {import('../app.js').Page}
 */
export function showPrejoin(app, rawRoom, carried) {
    const { t } = app;
    const { name: room, problem } = checkRoomName(rawRoom);
    if (problem) {
        history.replaceState(null, '', '/');
        return showLanding(app, { room: rawRoom, problem: t.roomProblem[problem] });
    }
    // The fragment (a moderator secret) stays, so a reload keeps it.
    const canonical = `/${encodeURIComponent(room)}`;
    if (location.pathname !== canonical) history.replaceState(null, '', canonical + location.hash);
    document.title = `${room} – ${t.appName}`;

    /** @type {PrejoinState} */
    const state = carried ?? {
        media: new LocalMedia(),
        started: Promise.resolve(),
        micOn: app.remembered.audio,
        camOn: app.remembered.video,
        nickname: app.remembered.nickname,
        needsPassword: false,
        password: '',
        released: false,
    };
    const media = state.media;
    /** Whether the media devices pass on to the room (then not released here). */
    let handedOver = false;
    let disposed = false;

    // --- preview --------------------------------------------------------
    const video = /** @type {HTMLVideoElement} */ (h('video', {
        class: 'preview-video mirrored',
        autoplay: true,
        playsinline: true,
        'aria-label': t.previewLabel,
        props: { muted: true },
    }));
    const previewOff = h('div', { class: 'preview-off', text: t.previewOff });
    const preview = h('div', { class: 'preview video-off' }, video, previewOff);

    const micToggle = h('button', {
        type: 'button',
        class: 'toggle toggle-mic',
        'aria-pressed': String(state.micOn),
    });
    const camToggle = h('button', {
        type: 'button',
        class: 'toggle toggle-cam',
        'aria-pressed': String(state.camOn),
    });

    // --- form -----------------------------------------------------------
    const nickId = uid('nick');
    const nickHintId = uid('nick-hint');
    const nickErrorId = uid('nick-error');
    const nickname = /** @type {HTMLInputElement} */ (h('input', {
        id: nickId,
        name: 'nickname',
        type: 'text',
        autocomplete: 'nickname',
        required: true,
        'aria-describedby': `${nickHintId} ${nickErrorId}`,
        props: { value: state.nickname },
    }));
    const nickError = h('p', { id: nickErrorId, class: 'field-error', role: 'alert' });

    const passwordId = uid('password');
    const passwordHintId = uid('password-hint');
    const password = /** @type {HTMLInputElement} */ (h('input', {
        id: passwordId,
        name: 'password',
        type: 'password',
        autocomplete: 'off',
        maxlength: '64',
        'aria-describedby': passwordHintId,
        props: { value: state.password },
    }));
    const passwordField = h('div', { class: 'field password-field', hidden: !state.needsPassword },
        h('label', { for: passwordId, text: t.passwordLabel }),
        password,
        h('p', { id: passwordHintId, class: 'hint', text: t.passwordHint }));

    const devices = h('div', { class: 'stack devices' });
    const notice = h('p', { class: 'notice', role: 'status' });
    const joinError = h('p', { class: 'form-error', role: 'alert' });
    const joinButton = /** @type {HTMLButtonElement} */ (h('button', {
        type: 'submit',
        class: 'button primary',
        text: t.join,
    }));
    const copyStatus = h('p', { class: 'hint', role: 'status' });

    const form = h('form', {
        class: 'card stack prejoin-form',
        novalidate: true,
        on: { submit: (/** @type {SubmitEvent} */ e) => { e.preventDefault(); join(); } },
    },
    h('div', { class: 'field' },
        h('label', { for: nickId, text: t.nicknameLabel }),
        nickname,
        h('p', { id: nickHintId, class: 'hint', text: t.nicknameHint }),
        nickError),
    passwordField,
    devices,
    notice,
    joinButton,
    joinError);

    // The creator of a meeting gets both links to pass on.
    const secret = app.moderatorSecret;
    /**
     * @param {string} label
     * @param {string} hint
     * @param {string} link
     * @param {string} cls
     */
    const shareField = (label, hint, link, cls) => {
        const id = uid('share');
        const hintId = uid('share-hint');
        return h('div', { class: `field share ${cls}` },
            h('label', { for: id, text: label }),
            h('div', { class: 'row share-row' },
                h('input', {
                    id,
                    type: 'text',
                    readonly: true,
                    'aria-describedby': hintId,
                    props: { value: link },
                    on: { focus: (/** @type {FocusEvent} */ e) => /** @type {HTMLInputElement} */ (e.target).select() },
                }),
                h('button', {
                    type: 'button',
                    class: 'button small',
                    on: { click: () => copyText(t, link, copyStatus) },
                }, icon('link'), t.copy)),
            h('p', { id: hintId, class: 'hint', text: hint }));
    };
    const shareCard = secret
        ? h('section', { class: 'card stack share-links', 'aria-label': t.shareHeading },
            h('h2', { text: t.shareHeading }),
            shareField(t.guestLinkLabel, t.guestLinkHint, guestLink(room), 'share-guest'),
            shareField(t.moderatorLinkLabel, t.moderatorLinkHint, moderatorLink(room, secret), 'share-moderator'))
        : null;

    const page = h('main', { class: 'page prejoin' },
        h('header', { class: 'stack-tight' },
            h('h1', { text: t.prejoinHeading(room) }),
            h('p', { class: 'hint', text: secret ? t.prejoinIntroModerator : t.prejoinIntro })),
        h('div', { class: 'prejoin-grid' },
            h('div', { class: 'stack' },
                preview,
                h('div', { class: 'row toggles' }, micToggle, camToggle)),
            form),
        shareCard,
        h('nav', { class: 'row page-footer', 'aria-label': t.moreLinks },
            secret ? null : h('button', {
                type: 'button',
                class: 'button link',
                on: { click: () => copyText(t, guestLink(room), copyStatus) },
            }, icon('link'), t.copyLink),
            h('a', {
                href: '/',
                text: t.back,
                on: {
                    click: (/** @type {MouseEvent} */ e) => {
                        e.preventDefault();
                        app.navigate('/');
                    },
                },
            }),
            languageSwitch(app),
            privacyLink(app)),
        copyStatus);

    app.root.replaceChildren(page);

    // --- behaviour ------------------------------------------------------
    const renderToggles = () => {
        micToggle.replaceChildren(icon('mic', !state.micOn), t.startMic);
        micToggle.setAttribute('aria-pressed', String(state.micOn));
        camToggle.replaceChildren(icon('camera', !state.camOn), t.startCam);
        camToggle.setAttribute('aria-pressed', String(state.camOn));
        const showVideo = state.camOn && !!media.videoTrack;
        preview.classList.toggle('video-off', !showVideo);
        if (showVideo && media.videoTrack) {
            if (!(video.srcObject instanceof MediaStream)
                || video.srcObject.getVideoTracks()[0] !== media.videoTrack) {
                video.srcObject = new MediaStream([media.videoTrack]);
            }
        } else {
            video.srcObject = null;
        }
    };

    const renderNotice = () => {
        const problems = [media.audioProblem, media.videoProblem];
        let text = '';
        if (problems.includes('insecure')) text = t.insecureContext;
        else if (problems.every((p) => p === 'denied')) text = t.mediaDenied;
        else if (problems.every((p) => p === 'missing')) text = t.mediaMissing;
        else {
            const parts = [];
            if (media.videoProblem) parts.push(t.cameraUnavailable);
            if (media.audioProblem) parts.push(t.microphoneUnavailable);
            text = parts.join(' ');
        }
        notice.textContent = text;
    };

    const disposeDevices = showDevicePicker(app, devices, media, {
        onChange: () => {
            if (!disposed) { renderToggles(); renderNotice(); }
        },
        isOn: (kind) => (kind === 'audio' ? state.micOn : state.camOn),
        onSpeaker: () => {},
    });

    micToggle.addEventListener('click', async () => {
        state.micOn = !state.micOn;
        if (state.micOn && !media.audioTrack) await media.acquire('audio');
        if (disposed) return;
        if (state.micOn && !media.audioTrack) state.micOn = false;
        renderToggles();
        renderNotice();
    });
    camToggle.addEventListener('click', async () => {
        state.camOn = !state.camOn;
        // Off means off: the camera is released and its light goes out.
        if (!state.camOn) media.release('video');
        else await media.acquire('video');
        if (disposed) return;
        if (state.camOn && !media.videoTrack) state.camOn = false;
        renderToggles();
        renderNotice();
    });
    nickname.addEventListener('input', () => { state.nickname = nickname.value; });
    password.addEventListener('input', () => { state.password = password.value; });

    renderToggles();
    if (!carried) {
        // Join waits for this: with a permission prompt open, a click on Join
        // goes ahead once the person has answered it.
        state.started = (async () => {
            await media.start();
            if (state.released) {
                // The page went away while the browser was asking.
                media.stop();
                return;
            }
            if (!state.camOn) media.release('video');
            if (!media.audioTrack) state.micOn = false;
            if (!media.videoTrack) state.camOn = false;
        })();
    }
    state.started.then(() => {
        if (disposed) return;
        renderToggles();
        renderNotice();
    });

    async function join() {
        const { name, problem: nickProblem } = checkNickname(nickname.value);
        if (nickProblem) {
            nickError.textContent = t.nicknameProblem[nickProblem];
            nickname.setAttribute('aria-invalid', 'true');
            nickname.focus();
            return;
        }
        nickError.textContent = '';
        nickname.removeAttribute('aria-invalid');
        joinError.textContent = '';
        joinButton.disabled = true;
        joinButton.textContent = t.joining;
        await state.started;
        if (disposed) return;
        app.remembered.nickname = name;
        app.remembered.audio = state.micOn;
        app.remembered.video = state.camOn;

        const audio = state.micOn && !!media.audioTrack;
        const videoOn = state.camOn && !!media.videoTrack;
        if (media.audioTrack) media.audioTrack.enabled = audio;
        const conference = new Conference({
            room,
            nickname: name,
            audioTrack: media.audioTrack,
            videoTrack: videoOn ? media.videoTrack : null,
            audio,
            video: videoOn,
            moderatorSecret: secret || undefined,
            password: state.needsPassword ? password.value : undefined,
            // `#relay` in the address: media only through the TURN relay, to
            // check that path (docs/operating.md). Never sent to the server.
            relayOnly: new URLSearchParams(location.hash.slice(1)).has('relay'),
        });
        try {
            await conference.join();
            if (disposed) { conference.leave(); return; }
            handedOver = true;
            await media.limitVideo(conference.settings);
            // Starting muted (a big room) means the camera is off: release it.
            if (!conference.video && media.videoTrack) media.release('video');
            app.enterRoom(conference, media);
        } catch (err) {
            if (disposed) return;
            const e = /** @type {import('../protocol.js').ServerError} */ (err);
            joinButton.disabled = false;
            joinButton.textContent = t.join;
            if (e && e.code === 'invalid-nickname') {
                nickError.textContent = errorText(t, e);
                nickname.setAttribute('aria-invalid', 'true');
                nickname.focus();
            } else if (e && (e.code === 'room-locked' || e.code === 'wrong-password')) {
                // Ask for the password and try again.
                state.needsPassword = true;
                passwordField.hidden = false;
                joinError.textContent = errorText(t, e);
                password.setAttribute('aria-invalid', String(e.code === 'wrong-password'));
                if (e.code === 'wrong-password') password.select();
                password.focus();
            } else {
                joinError.textContent = errorText(t, e);
            }
        }
    }

    /** @param {boolean} [keep] the devices live on (in the room, or a redraw) */
    const dispose = (keep = false) => {
        disposed = true;
        disposeDevices();
        video.srcObject = null;
        if (!handedOver && !keep) {
            state.released = true;
            media.stop();
        }
        page.remove();
    };
    return {
        dispose,
        redraw() {
            const shownError = joinError.textContent;
            dispose(true);
            const again = showPrejoin(app, room, state);
            if (shownError && state.needsPassword) {
                const errorLine = app.root.querySelector('.prejoin-form .form-error');
                if (errorLine) errorLine.textContent = app.t.errors['room-locked'];
            }
            return again;
        },
    };
}
