// Choosing camera, microphone and (where the browser can) speaker, on the
// pre-join page and during the call. A new device is a new track, handed to
// `onChange`; the call swaps it in without renegotiation.

import { h, uid } from './dom.js';

/**
 * @typedef {object} DeviceHooks
 * @property {(kind: 'audio'|'video', track: MediaStreamTrack|null) => void|Promise<void>} onChange
 *   a device was chosen; `track` is the new track (null when that device is off)
 * @property {(kind: 'audio'|'video') => boolean} isOn  whether that device is switched on now
 * @property {(id: string) => void} onSpeaker  an output device was chosen
 */

/**
 * Draws the device fields into `container` and keeps them current.
 * @param {import('../app.js').App} app
 * @param {HTMLElement} container
 * @param {import('../media.js').LocalMedia} media
 * @param {DeviceHooks} hooks
 * @returns {() => void} dispose
 */
export function showDevicePicker(app, container, media, hooks) {
    const { t } = app;
    let disposed = false;
    const camId = uid('cam');
    const micId = uid('mic');
    const speakerId = uid('speaker');
    const camSelect = /** @type {HTMLSelectElement} */ (h('select', { id: camId, name: 'camera' }));
    const micSelect = /** @type {HTMLSelectElement} */ (h('select', { id: micId, name: 'microphone' }));
    const speakerSelect = /** @type {HTMLSelectElement} */ (h('select', { id: speakerId, name: 'speaker' }));
    const speakerField = h('div', { class: 'field', hidden: true },
        h('label', { for: speakerId, text: t.speakerLabel }),
        speakerSelect);
    const fields = [
        h('div', { class: 'field' }, h('label', { for: camId, text: t.cameraLabel }), camSelect),
        h('div', { class: 'field' }, h('label', { for: micId, text: t.microphoneLabel }), micSelect),
        speakerField,
    ];
    container.append(...fields);

    /**
     * @param {HTMLSelectElement} select
     * @param {MediaDeviceInfo[]} list
     * @param {string|undefined} current
     */
    const fill = (select, list, current) => {
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

    const refresh = async () => {
        const { cameras, microphones, speakers } = await media.devices();
        if (disposed) return;
        fill(camSelect, cameras, media.videoDeviceId);
        fill(micSelect, microphones, media.audioDeviceId);
        speakerField.hidden = speakers.length === 0;
        if (speakers.length > 0) fill(speakerSelect, speakers, media.speakerId || 'default');
    };

    camSelect.addEventListener('change', async () => {
        if (!camSelect.value) return;
        if (hooks.isOn('video')) {
            const track = await media.choose('video', camSelect.value);
            await hooks.onChange('video', track);
        } else {
            media.videoDeviceId = camSelect.value;
            await hooks.onChange('video', null);
        }
    });
    micSelect.addEventListener('change', async () => {
        if (!micSelect.value) return;
        const track = await media.choose('audio', micSelect.value);
        await hooks.onChange('audio', track);
    });
    speakerSelect.addEventListener('change', () => {
        media.speakerId = speakerSelect.value;
        hooks.onSpeaker(speakerSelect.value);
    });
    const onDeviceChange = () => { refresh(); };
    navigator.mediaDevices?.addEventListener?.('devicechange', onDeviceChange);
    media.addEventListener('change', onDeviceChange);
    // Not awaited: browsers may hold enumeration back until the page is in
    // the foreground, and nothing must wait for that.
    refresh();

    return () => {
        disposed = true;
        navigator.mediaDevices?.removeEventListener?.('devicechange', onDeviceChange);
        media.removeEventListener('change', onDeviceChange);
        for (const f of fields) f.remove();
    };
}
