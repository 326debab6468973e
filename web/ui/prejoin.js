// The pre-join page: name, camera and microphone preview, device choice,
// whether to start with microphone and camera on; then join.

import { h, uid, icon } from './dom.js';
import { checkNickname, checkRoomName } from '../names.js';
import { Conference } from '../protocol.js';
import { LocalMedia } from '../media.js';
import { showLanding } from './landing.js';
import { copyLink, errorText } from './common.js';

/**
 * @param {import('../app.js').App} app
 * @param {string} rawRoom the room name from the URL
 * @returns {() => void} dispose
 */
export function showPrejoin(app, rawRoom) {
    const { t } = app;
    const { name: room, problem } = checkRoomName(rawRoom);
    if (problem) {
        history.replaceState(null, '', '/');
        return showLanding(app, { room: rawRoom, problem: t.roomProblem[problem] });
    }
    const canonical = `/${encodeURIComponent(room)}`;
    if (location.pathname !== canonical) history.replaceState(null, '', canonical);
    document.title = `${room} – ${t.appName}`;

    const media = new LocalMedia();
    /** Whether the media devices pass on to the room (then not released here). */
    let handedOver = false;
    let disposed = false;
    let micOn = app.remembered.audio;
    let camOn = app.remembered.video;

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
        class: 'toggle',
        'aria-pressed': String(micOn),
    });
    const camToggle = h('button', {
        type: 'button',
        class: 'toggle',
        'aria-pressed': String(camOn),
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
        props: { value: app.remembered.nickname },
    }));
    const nickError = h('p', { id: nickErrorId, class: 'field-error', role: 'alert' });

    const camId = uid('cam');
    const micId = uid('mic');
    const camSelect = /** @type {HTMLSelectElement} */ (h('select', { id: camId, name: 'camera' }));
    const micSelect = /** @type {HTMLSelectElement} */ (h('select', { id: micId, name: 'microphone' }));

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
    h('div', { class: 'field' },
        h('label', { for: camId, text: t.cameraLabel }),
        camSelect),
    h('div', { class: 'field' },
        h('label', { for: micId, text: t.microphoneLabel }),
        micSelect),
    notice,
    joinButton,
    joinError);

    const page = h('main', { class: 'page prejoin' },
        h('header', { class: 'stack-tight' },
            h('h1', { text: t.prejoinHeading(room) }),
            h('p', { class: 'hint', text: t.prejoinIntro })),
        h('div', { class: 'prejoin-grid' },
            h('div', { class: 'stack' },
                preview,
                h('div', { class: 'row toggles' }, micToggle, camToggle)),
            form),
        h('nav', { class: 'row page-footer' },
            h('button', {
                type: 'button',
                class: 'button link',
                on: { click: () => copyLink(t, copyStatus) },
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
            })),
        copyStatus);

    app.root.replaceChildren(page);

    // --- behaviour ------------------------------------------------------
    const renderToggles = () => {
        micToggle.replaceChildren(icon('mic', !micOn), t.startMic);
        micToggle.setAttribute('aria-pressed', String(micOn));
        camToggle.replaceChildren(icon('camera', !camOn), t.startCam);
        camToggle.setAttribute('aria-pressed', String(camOn));
        const showVideo = camOn && !!media.videoTrack;
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

    /**
     * @param {HTMLSelectElement} select
     * @param {MediaDeviceInfo[]} list
     * @param {string|undefined} current
     */
    const fillSelect = (select, list, current) => {
        select.replaceChildren();
        if (list.length === 0) {
            select.append(h('option', { value: '', text: t.noDevice }));
            select.disabled = true;
            return;
        }
        select.disabled = false;
        list.forEach((d, i) => {
            select.append(h('option', {
                value: d.deviceId,
                text: d.label || t.deviceFallback(i + 1),
                selected: d.deviceId === current,
            }));
        });
    };

    const refreshDevices = async () => {
        const { cameras, microphones } = await media.devices();
        if (disposed) return;
        fillSelect(camSelect, cameras, media.videoDeviceId);
        fillSelect(micSelect, microphones, media.audioDeviceId);
    };

    micToggle.addEventListener('click', async () => {
        micOn = !micOn;
        if (micOn && !media.audioTrack) await media.acquire('audio');
        if (disposed) return;
        if (micOn && !media.audioTrack) micOn = false;
        renderToggles();
        renderNotice();
    });
    camToggle.addEventListener('click', async () => {
        camOn = !camOn;
        // Off means off: the camera is released and its light goes out.
        if (!camOn) media.release('video');
        else await media.acquire('video');
        if (disposed) return;
        if (camOn && !media.videoTrack) camOn = false;
        renderToggles();
        renderNotice();
        refreshDevices();
    });
    camSelect.addEventListener('change', async () => {
        if (!camSelect.value) return;
        if (camOn) await media.choose('video', camSelect.value);
        else media.videoDeviceId = camSelect.value;
        if (!disposed) { renderToggles(); renderNotice(); }
    });
    micSelect.addEventListener('change', async () => {
        if (!micSelect.value) return;
        await media.choose('audio', micSelect.value);
        if (!disposed) { renderToggles(); renderNotice(); }
    });
    const onDeviceChange = () => { refreshDevices(); };
    navigator.mediaDevices?.addEventListener?.('devicechange', onDeviceChange);

    renderToggles();
    // Join waits for this: with a permission prompt open, a click on Join
    // goes ahead once the person has answered it.
    const started = (async () => {
        await media.start();
        if (disposed) {
            if (!handedOver) media.stop();
            return;
        }
        if (!camOn) media.release('video');
        if (!media.audioTrack) micOn = false;
        if (!media.videoTrack) camOn = false;
        renderToggles();
        renderNotice();
        // Not awaited: browsers may hold enumeration back until the page
        // is in the foreground, and joining must not wait for that.
        refreshDevices();
    })();

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
        await started;
        if (disposed) return;
        app.remembered.nickname = name;
        app.remembered.audio = micOn;
        app.remembered.video = camOn;

        const audio = micOn && !!media.audioTrack;
        const video = camOn && !!media.videoTrack;
        if (media.audioTrack) media.audioTrack.enabled = audio;
        const conference = new Conference({
            room,
            nickname: name,
            audioTrack: media.audioTrack,
            videoTrack: video ? media.videoTrack : null,
            audio,
            video,
        });
        try {
            const joined = await conference.join();
            if (disposed) { conference.leave(); return; }
            handedOver = true;
            app.enterRoom(conference, media, joined);
        } catch (err) {
            if (disposed) return;
            const e = /** @type {import('../protocol.js').ServerError} */ (err);
            joinButton.disabled = false;
            joinButton.textContent = t.join;
            if (e && e.code === 'invalid-nickname') {
                nickError.textContent = errorText(t, e);
                nickname.setAttribute('aria-invalid', 'true');
                nickname.focus();
            } else {
                joinError.textContent = errorText(t, e);
            }
        }
    }

    return () => {
        disposed = true;
        navigator.mediaDevices?.removeEventListener?.('devicechange', onDeviceChange);
        video.srcObject = null;
        if (!handedOver) media.stop();
        page.remove();
    };
}
