// The local camera and microphone: acquiring, switching devices, releasing.
// No DOM code here.

import { CAMERA_CAPTURE_HEIGHT } from './rtc.js';

// As tall as the simulcast layers need (rtc.js); the room's caps, once
// known, may lower it.
const VIDEO_CONSTRAINTS = {
    width: { ideal: Math.round((CAMERA_CAPTURE_HEIGHT * 16) / 9) },
    height: { ideal: CAMERA_CAPTURE_HEIGHT },
    frameRate: { ideal: 24, max: 30 },
};
const AUDIO_CONSTRAINTS = {
    echoCancellation: true,
    noiseSuppression: true,
    autoGainControl: true,
};

/**
 * What went wrong getting a device, in the terms the UI explains.
 * @typedef {'denied'|'missing'|'unavailable'|'insecure'} DeviceProblem
 */

/**
 * @param {unknown} err
 * @returns {DeviceProblem}
 */
function problemOf(err) {
    const name = err instanceof Error ? err.name : '';
    if (name === 'NotAllowedError' || name === 'SecurityError') return 'denied';
    if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'missing';
    return 'unavailable';
}

/**
 * @typedef {object} DeviceList
 * @property {MediaDeviceInfo[]} cameras
 * @property {MediaDeviceInfo[]} microphones
 * @property {MediaDeviceInfo[]} speakers  empty where the browser cannot choose
 */

/**
 * The browser can send audio to a chosen output device.
 * @returns {boolean}
 */
export function canChooseSpeaker() {
    return typeof globalThis.HTMLMediaElement !== 'undefined'
        && typeof HTMLMediaElement.prototype.setSinkId === 'function';
}

/**
 * The browser can capture a screen or window.
 * @returns {boolean}
 */
export function canShareScreen() {
    return !!(globalThis.navigator?.mediaDevices?.getDisplayMedia);
}

/**
 * Asks the person for a screen, window or tab to share, at most
 * `maxFramerate` frames per second (the community-uplink cap).
 * @param {number} maxFramerate
 * @returns {Promise<MediaStreamTrack>}
 */
export async function captureScreen(maxFramerate) {
    const stream = await navigator.mediaDevices.getDisplayMedia({
        video: { frameRate: { ideal: maxFramerate, max: maxFramerate } },
        audio: false,
    });
    const track = stream.getVideoTracks()[0];
    // Some engines ignore the constraint at capture time; ask once more.
    await track.applyConstraints({ frameRate: { max: maxFramerate } }).catch(() => {});
    return track;
}

/** The local devices of one participant. */
export class LocalMedia extends EventTarget {
    constructor() {
        super();
        /** @type {MediaStreamTrack|null} */
        this.audioTrack = null;
        /** @type {MediaStreamTrack|null} */
        this.videoTrack = null;
        /** @type {string|undefined} chosen microphone */
        this.audioDeviceId = undefined;
        /** @type {string|undefined} chosen camera */
        this.videoDeviceId = undefined;
        /** @type {DeviceProblem|null} */
        this.audioProblem = null;
        /** @type {DeviceProblem|null} */
        this.videoProblem = null;
        /** @type {string} chosen speaker ('' = the system default) */
        this.speakerId = '';
        /** Upper bounds for the camera (the room's settings, once known). */
        this.videoMaxHeight = 0;
        this.videoMaxFramerate = 0;
    }

    /**
     * Applies the room's caps to the camera now and to every camera track
     * acquired later.
     * @param {{videoMaxHeight: number, videoMaxFramerate: number}} caps
     */
    async limitVideo(caps) {
        this.videoMaxHeight = caps.videoMaxHeight;
        this.videoMaxFramerate = caps.videoMaxFramerate;
        if (this.videoTrack) {
            await this.videoTrack.applyConstraints(this.videoConstraints()).catch(() => {});
        }
    }

    /** Camera and microphone can be asked for at all (secure context). */
    static available() {
        return !!(globalThis.navigator?.mediaDevices?.getUserMedia);
    }

    /**
     * Asks for both devices at once (one permission prompt), then for each
     * alone if that failed, so one missing device does not cost the other.
     * @returns {Promise<void>}
     */
    async start() {
        if (!LocalMedia.available()) {
            this.audioProblem = 'insecure';
            this.videoProblem = 'insecure';
            return;
        }
        try {
            const stream = await navigator.mediaDevices.getUserMedia({
                audio: this.audioConstraints(),
                video: this.videoConstraints(),
            });
            this.adopt(stream);
            return;
        } catch {
            // fall through: try each device alone
        }
        await this.acquire('audio');
        await this.acquire('video');
    }

    /** @private */
    audioConstraints() {
        return this.audioDeviceId
            ? { ...AUDIO_CONSTRAINTS, deviceId: { exact: this.audioDeviceId } }
            : AUDIO_CONSTRAINTS;
    }

    /**
     * @private
     * @returns {MediaTrackConstraints}
     */
    videoConstraints() {
        /** @type {MediaTrackConstraints} */
        const c = { ...VIDEO_CONSTRAINTS };
        if (this.videoMaxHeight > 0) {
            const ideal = Math.min(CAMERA_CAPTURE_HEIGHT, this.videoMaxHeight);
            c.width = { ideal: Math.round((ideal * 16) / 9) };
            c.height = { ideal, max: this.videoMaxHeight };
        }
        if (this.videoMaxFramerate > 0) {
            const max = Math.min(30, this.videoMaxFramerate);
            c.frameRate = { ideal: Math.min(24, max), max };
        }
        if (this.videoDeviceId) c.deviceId = { exact: this.videoDeviceId };
        return c;
    }

    /**
     * @private
     * @param {MediaStream} stream
     */
    adopt(stream) {
        for (const track of stream.getTracks()) {
            if (track.kind === 'audio') {
                this.audioTrack?.stop();
                this.audioTrack = track;
                this.audioProblem = null;
                this.audioDeviceId = track.getSettings().deviceId ?? this.audioDeviceId;
            } else {
                this.videoTrack?.stop();
                this.videoTrack = track;
                this.videoProblem = null;
                this.videoDeviceId = track.getSettings().deviceId ?? this.videoDeviceId;
            }
        }
        this.dispatchEvent(new Event('change'));
    }

    /**
     * Gets (or gets again, e.g. from a newly chosen device) one kind of
     * track. Returns the track, or null with the problem recorded.
     * @param {'audio'|'video'} kind
     * @returns {Promise<MediaStreamTrack|null>}
     */
    async acquire(kind) {
        if (!LocalMedia.available()) {
            if (kind === 'audio') this.audioProblem = 'insecure';
            else this.videoProblem = 'insecure';
            return null;
        }
        try {
            const stream = await navigator.mediaDevices.getUserMedia(
                kind === 'audio' ? { audio: this.audioConstraints() } : { video: this.videoConstraints() },
            );
            this.adopt(stream);
            return kind === 'audio' ? this.audioTrack : this.videoTrack;
        } catch (err) {
            if (kind === 'audio') this.audioProblem = problemOf(err);
            else this.videoProblem = problemOf(err);
            this.dispatchEvent(new Event('change'));
            return null;
        }
    }

    /**
     * Stops one kind of track: the device is released (its light goes off).
     * @param {'audio'|'video'} kind
     */
    release(kind) {
        if (kind === 'audio') {
            this.audioTrack?.stop();
            this.audioTrack = null;
        } else {
            this.videoTrack?.stop();
            this.videoTrack = null;
        }
        this.dispatchEvent(new Event('change'));
    }

    /**
     * Chooses a device and gets a track from it.
     * @param {'audio'|'video'} kind
     * @param {string} deviceId
     */
    async choose(kind, deviceId) {
        if (kind === 'audio') this.audioDeviceId = deviceId;
        else this.videoDeviceId = deviceId;
        return this.acquire(kind);
    }

    /**
     * The cameras and microphones (labels only after permission was given).
     * @returns {Promise<DeviceList>}
     */
    async devices() {
        if (!globalThis.navigator?.mediaDevices?.enumerateDevices) {
            return { cameras: [], microphones: [], speakers: [] };
        }
        const all = await navigator.mediaDevices.enumerateDevices();
        return {
            cameras: all.filter((d) => d.kind === 'videoinput' && d.deviceId),
            microphones: all.filter((d) => d.kind === 'audioinput' && d.deviceId),
            speakers: canChooseSpeaker()
                ? all.filter((d) => d.kind === 'audiooutput' && d.deviceId) : [],
        };
    }

    /** Releases every device. */
    stop() {
        this.audioTrack?.stop();
        this.videoTrack?.stop();
        this.audioTrack = null;
        this.videoTrack = null;
    }
}
