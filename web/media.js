// The local camera and microphone: acquiring, switching devices, releasing.
// No DOM code here.

const VIDEO_CONSTRAINTS = {
    width: { ideal: 640 },
    height: { ideal: 360 },
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
 */

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

    /** @private */
    videoConstraints() {
        return this.videoDeviceId
            ? { ...VIDEO_CONSTRAINTS, deviceId: { exact: this.videoDeviceId } }
            : VIDEO_CONSTRAINTS;
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
            return { cameras: [], microphones: [] };
        }
        const all = await navigator.mediaDevices.enumerateDevices();
        return {
            cameras: all.filter((d) => d.kind === 'videoinput' && d.deviceId),
            microphones: all.filter((d) => d.kind === 'audioinput' && d.deviceId),
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
