// funkraum signaling protocol, version 1 (docs/protocol.md), and the one
// RTCPeerConnection that carries a participant's media. No DOM code here:
// the UI listens to the events of a `Conference` and calls its methods.
//
// Negotiation follows the "perfect negotiation" pattern with the client as
// the POLITE peer: m-lines the client creates carry its own tracks (sendonly);
// m-lines the server creates carry the others' tracks (recvonly here) and
// every server offer names their owners in `tracks`. On a collision the
// client rolls back its own offer, answers the server's and offers again.

export const PROTOCOL_VERSION = 1;

/** Client ping interval and the silence after which we give up (protocol). */
export const PING_INTERVAL_MS = 15_000;
export const SILENCE_TIMEOUT_MS = 45_000;

/**
 * @typedef {object} Participant
 * @property {string} id       opaque id chosen by the server
 * @property {string} nickname normalised by the server; render as text only
 * @property {boolean} audio   microphone on
 * @property {boolean} video   camera on
 */

/**
 * @typedef {object} TrackEntry
 * @property {string} mid
 * @property {string} participant
 * @property {'audio'|'video'} kind
 */

/**
 * @typedef {object} JoinedInfo
 * @property {string} id
 * @property {string} room
 * @property {string} nickname
 * @property {Participant[]} participants
 * @property {RTCIceServer[]} iceServers
 */

/**
 * @typedef {object} ServerError
 * @property {string} code     stable code (docs/protocol.md, "Errors")
 * @property {string} message  English text from the server
 * @property {boolean} fatal   the server closes the connection right after
 */

/**
 * @typedef {object} ConferenceOptions
 * @property {string} room
 * @property {string} nickname
 * @property {MediaStreamTrack|null} [audioTrack] microphone track to publish
 * @property {MediaStreamTrack|null} [videoTrack] camera track to publish
 * @property {boolean} [audio] microphone starts on (default: a track is given and enabled)
 * @property {boolean} [video] camera starts on (default: a track is given)
 * @property {string} [url] WebSocket URL; default `/ws` on this page's origin
 */

/**
 * The WebSocket URL for this page: ws: or wss: matching http: or https:.
 * @param {Location} location
 * @returns {string}
 */
export function signalingUrl(location) {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws`;
}

/**
 * Puts the codecs of `mimeType` first and drops every other media codec
 * (retransmission entries stay), where the browser lets us choose.
 * @param {RTCRtpTransceiver} transceiver
 * @param {'audio'|'video'} kind
 */
function preferCodec(transceiver, kind) {
    const wanted = kind === 'audio' ? 'audio/opus' : 'video/vp8';
    if (typeof transceiver.setCodecPreferences !== 'function') return;
    const caps = typeof RTCRtpReceiver.getCapabilities === 'function'
        ? RTCRtpReceiver.getCapabilities(kind) : null;
    if (!caps) return;
    const codecs = caps.codecs.filter((c) => {
        const mime = c.mimeType.toLowerCase();
        return mime === wanted || mime === `${kind}/rtx`;
    });
    if (!codecs.some((c) => c.mimeType.toLowerCase() === wanted)) return;
    try {
        transceiver.setCodecPreferences(codecs);
    } catch {
        // Older engines refuse some lists; the server accepts only VP8 and
        // Opus anyway, so the default list still negotiates those.
    }
}

/**
 * A participant's session: one WebSocket, one RTCPeerConnection.
 *
 * Events (all `CustomEvent`s, payload in `detail`):
 * - `joined` {@link JoinedInfo}
 * - `participantjoined` {participant: Participant}
 * - `participantleft` {id: string}
 * - `participantupdated` {participant: Participant}
 * - `track` {participant: string, kind, track: MediaStreamTrack, mid}
 *   a remote track started; `trackremoved` {participant, kind, mid} it ended
 * - `error` {@link ServerError} (also for local failures, codes prefixed `client-`)
 * - `mediaconnection` {state: RTCPeerConnectionState}
 * - `closed` {code: number, reason: string, expected: boolean}
 *   the session is over (left, refused, lost)
 */
export class Conference extends EventTarget {
    /** @param {ConferenceOptions} options */
    constructor(options) {
        super();
        this.room = options.room;
        this.nickname = options.nickname;
        this.url = options.url ?? signalingUrl(globalThis.location);
        /** @type {MediaStreamTrack|null} */
        this.audioTrack = options.audioTrack ?? null;
        /** @type {MediaStreamTrack|null} */
        this.videoTrack = options.videoTrack ?? null;
        this.audio = options.audio ?? (!!this.audioTrack && this.audioTrack.enabled);
        this.video = options.video ?? !!this.videoTrack;
        /** @type {string|null} own participant id, once joined */
        this.id = null;
        /** @type {WebSocket|null} */
        this.socket = null;
        /** @type {RTCPeerConnection|null} */
        this.pc = null;
        /** @type {RTCRtpTransceiver|null} */
        this.audioTransceiver = null;
        /** @type {RTCRtpTransceiver|null} */
        this.videoTransceiver = null;
        /** @type {Map<string, TrackEntry>} server m-lines in use, by mid */
        this.remoteTracks = new Map();
        /** Perfect negotiation: an offer of ours is being made. */
        this.makingOffer = false;
        /** Serialises handling of signaling messages that touch the pc. */
        this.queue = Promise.resolve();
        this.lastHeard = 0;
        /** @type {ReturnType<typeof setInterval>|null} */
        this.pingTimer = null;
        /** @type {ReturnType<typeof setInterval>|null} */
        this.watchdog = null;
        this.closed = false;
        this.leaving = false;
    }

    /**
     * Opens the WebSocket and joins. Resolves with the `joined` info, rejects
     * with a {@link ServerError} if the server refuses (room full, invalid
     * name …) or the connection fails; the session is closed then.
     * @returns {Promise<JoinedInfo>}
     */
    join() {
        return new Promise((resolve, reject) => {
            let settled = false;
            /** @param {Event} e */
            const onJoined = (e) => {
                settled = true;
                cleanup();
                resolve(/** @type {CustomEvent} */ (e).detail);
            };
            /** @param {Event} e */
            const onError = (e) => {
                if (settled) return;
                settled = true;
                cleanup();
                this.close(1000, 'join refused', true);
                reject(/** @type {CustomEvent} */ (e).detail);
            };
            /** @param {Event} e */
            const onClosed = (e) => {
                if (settled) return;
                settled = true;
                cleanup();
                const d = /** @type {CustomEvent} */ (e).detail;
                reject({ code: 'client-connection', message: d.reason, fatal: true });
            };
            const cleanup = () => {
                this.removeEventListener('joined', onJoined);
                this.removeEventListener('error', onError);
                this.removeEventListener('closed', onClosed);
            };
            this.addEventListener('joined', onJoined);
            this.addEventListener('error', onError);
            this.addEventListener('closed', onClosed);
            this.connect();
        });
    }

    /** @private */
    connect() {
        const socket = new WebSocket(this.url);
        this.socket = socket;
        socket.addEventListener('open', () => {
            this.lastHeard = Date.now();
            this.send({
                type: 'join',
                version: PROTOCOL_VERSION,
                room: this.room,
                nickname: this.nickname,
                audio: this.audio,
                video: this.video,
            });
            this.pingTimer = setInterval(() => this.send({ type: 'ping' }), PING_INTERVAL_MS);
            this.watchdog = setInterval(() => {
                if (Date.now() - this.lastHeard > SILENCE_TIMEOUT_MS) {
                    this.close(4000, 'The server stopped answering.', false);
                }
            }, 1000);
        });
        socket.addEventListener('message', (e) => {
            this.lastHeard = Date.now();
            if (typeof e.data !== 'string') return;
            let message;
            try {
                message = JSON.parse(e.data);
            } catch {
                return;
            }
            if (!message || typeof message.type !== 'string') return;
            this.onMessage(message);
        });
        socket.addEventListener('close', (e) => {
            const expected = this.leaving;
            this.close(e.code, e.reason || 'The connection to the server closed.', expected);
        });
    }

    /**
     * @private
     * @param {object} message
     */
    send(message) {
        if (this.socket && this.socket.readyState === WebSocket.OPEN) {
            this.socket.send(JSON.stringify(message));
        }
    }

    /**
     * @private
     * @param {string} type
     * @param {any} [detail]
     */
    emit(type, detail) {
        this.dispatchEvent(new CustomEvent(type, { detail }));
    }

    /**
     * @private
     * @param {any} m a parsed server message
     */
    onMessage(m) {
        switch (m.type) {
        case 'joined':
            this.id = m.id;
            this.room = m.room;
            this.nickname = m.nickname;
            this.startMedia(Array.isArray(m.iceServers) ? m.iceServers : []);
            this.emit('joined', {
                id: m.id,
                room: m.room,
                nickname: m.nickname,
                participants: m.participants ?? [],
                iceServers: m.iceServers ?? [],
            });
            break;
        case 'participantJoined':
            this.emit('participantjoined', { participant: m.participant });
            break;
        case 'participantLeft':
            this.emit('participantleft', { id: m.id });
            break;
        case 'participantUpdated':
            this.emit('participantupdated', { participant: m.participant });
            break;
        case 'offer':
            this.enqueue(() => this.onServerOffer(m.sdp, m.tracks ?? []));
            break;
        case 'answer':
            this.enqueue(() => this.onServerAnswer(m.sdp));
            break;
        case 'error':
            this.emit('error', { code: m.code, message: m.message, fatal: !!m.fatal });
            break;
        case 'ping':
            this.send({ type: 'pong' });
            break;
        case 'pong':
            break;
        default:
            // Unknown types from a newer server are ignored (additive changes).
            break;
        }
    }

    /**
     * Runs negotiation steps one after the other, in message order.
     * @private
     * @param {() => Promise<void>} step
     */
    enqueue(step) {
        this.queue = this.queue.then(step).catch((err) => this.mediaFailed(err));
    }

    /**
     * @private
     * @param {unknown} err
     */
    mediaFailed(err) {
        if (this.closed) return;
        this.emit('error', {
            code: 'client-media',
            message: err instanceof Error ? err.message : String(err),
            fatal: true,
        });
        this.close(1000, 'media failed', false);
    }

    /**
     * @private
     * @param {RTCIceServer[]} iceServers
     */
    startMedia(iceServers) {
        const pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle' });
        this.pc = pc;
        // Our own m-lines exist from the start, even with the device off, so
        // switching a device on later needs no renegotiation (replaceTrack).
        const stream = new MediaStream();
        const audio = this.audio && this.audioTrack ? this.audioTrack : 'audio';
        const video = this.video && this.videoTrack ? this.videoTrack : 'video';
        this.audioTransceiver = pc.addTransceiver(audio, {
            direction: 'sendonly',
            streams: [stream],
        });
        this.videoTransceiver = pc.addTransceiver(video, {
            direction: 'sendonly',
            streams: [stream],
        });
        preferCodec(this.audioTransceiver, 'audio');
        preferCodec(this.videoTransceiver, 'video');

        pc.addEventListener('negotiationneeded', () => {
            this.enqueue(() => this.makeOffer());
        });
        pc.addEventListener('track', (e) => {
            const mid = e.transceiver.mid;
            const entry = mid === null ? undefined : this.remoteTracks.get(mid);
            if (!entry) return;
            const track = e.track;
            this.emit('track', { participant: entry.participant, kind: entry.kind, track, mid });
        });
        pc.addEventListener('connectionstatechange', () => {
            this.emit('mediaconnection', { state: pc.connectionState });
            if (pc.connectionState === 'failed') {
                this.mediaFailed(new Error('The media connection failed.'));
            }
        });
        // The server is ICE-lite and learns our address from our connectivity
        // checks, so candidates are not trickled: less personal data on the
        // wire and fewer messages (the protocol makes `candidate` optional).
    }

    /** @private */
    async makeOffer() {
        const pc = this.pc;
        if (!pc || this.closed || pc.signalingState !== 'stable') return;
        try {
            this.makingOffer = true;
            await pc.setLocalDescription();
            if (pc.localDescription && pc.localDescription.type === 'offer') {
                this.send({ type: 'offer', sdp: pc.localDescription.sdp });
            }
        } finally {
            this.makingOffer = false;
        }
    }

    /**
     * @private
     * @param {string} sdp
     * @param {TrackEntry[]} tracks
     */
    async onServerOffer(sdp, tracks) {
        const pc = this.pc;
        if (!pc || this.closed) return;
        const previous = this.remoteTracks;
        this.remoteTracks = new Map(tracks.map((t) => [t.mid, t]));
        // We are polite: on a collision setRemoteDescription rolls our own
        // offer back (implicitly); negotiationneeded fires again after.
        await pc.setRemoteDescription({ type: 'offer', sdp });
        await pc.setLocalDescription();
        if (pc.localDescription) {
            this.send({ type: 'answer', sdp: pc.localDescription.sdp });
        }
        for (const [mid, entry] of previous) {
            const now = this.remoteTracks.get(mid);
            if (!now || now.participant !== entry.participant) {
                this.emit('trackremoved', { participant: entry.participant, kind: entry.kind, mid });
            }
        }
    }

    /**
     * @private
     * @param {string} sdp
     */
    async onServerAnswer(sdp) {
        const pc = this.pc;
        if (!pc || this.closed) return;
        // An answer to an offer we rolled back has nothing to apply to.
        if (pc.signalingState !== 'have-local-offer') return;
        await pc.setRemoteDescription({ type: 'answer', sdp });
    }

    /**
     * Switches the microphone: on with a (new) track, off with null. The
     * track is sent as is; no renegotiation is needed.
     * @param {boolean} on
     * @param {MediaStreamTrack|null} [track] a new track to send
     */
    async setAudio(on, track) {
        if (track !== undefined) this.audioTrack = track;
        if (this.audioTrack) this.audioTrack.enabled = on;
        if (this.audioTransceiver) {
            await this.audioTransceiver.sender.replaceTrack(on ? this.audioTrack : null);
        }
        this.audio = on;
        this.sendMediaState();
    }

    /**
     * Switches the camera: on with a (new) track, off with null.
     * @param {boolean} on
     * @param {MediaStreamTrack|null} [track]
     */
    async setVideo(on, track) {
        if (track !== undefined) this.videoTrack = track;
        if (this.videoTransceiver) {
            await this.videoTransceiver.sender.replaceTrack(on ? this.videoTrack : null);
        }
        this.video = on;
        this.sendMediaState();
    }

    /** @private */
    sendMediaState() {
        if (this.id) this.send({ type: 'mediaState', audio: this.audio, video: this.video });
    }

    /**
     * Statistics of the media connection (null before joining).
     * @returns {Promise<RTCStatsReport|null>}
     */
    async stats() {
        return this.pc ? this.pc.getStats() : null;
    }

    /** Leaves the room: the server tells the others and closes with 1000. */
    leave() {
        if (this.closed) return;
        this.leaving = true;
        this.send({ type: 'leave' });
        this.close(1000, 'left', true);
    }

    /**
     * Ends the session (idempotent) and says so once with `closed`.
     * @param {number} code
     * @param {string} reason
     * @param {boolean} expected the user asked for it
     */
    close(code, reason, expected) {
        if (this.closed) return;
        this.closed = true;
        if (this.pingTimer) clearInterval(this.pingTimer);
        if (this.watchdog) clearInterval(this.watchdog);
        this.pingTimer = null;
        this.watchdog = null;
        if (this.pc) {
            this.pc.close();
        }
        if (this.socket && this.socket.readyState <= WebSocket.OPEN) {
            // After `leave` the server closes; closing here too is harmless and
            // ends a socket that is still connecting.
            try {
                this.socket.close(1000);
            } catch {
                // already closing
            }
        }
        this.emit('closed', { code, reason, expected });
    }
}
