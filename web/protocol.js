// funkraum signaling protocol, version 1 (docs/protocol.md), and the
// RTCPeerConnection that carries a participant's media to the server. No DOM
// code here: the UI listens to the events of a `Conference`, reads its state
// and calls its methods.
//
// Negotiation with the server follows the "perfect negotiation" pattern with
// the client as the POLITE peer: m-lines the client creates carry its own
// tracks (sendonly) and are named in `offer.sources`; m-lines the server
// creates carry the others' tracks (recvonly here) and every server offer
// names their owners in `tracks`. On a collision the client rolls back its
// own offer, answers the server's and offers again.
//
// With exactly two people in a room the server may switch to peer-to-peer
// (`mode`): a second connection (p2p.js) then carries the media browser to
// browser, and the server connection stays up, silent, for the way back.

import { DirectLink } from './p2p.js';
import {
    preferCodec, encodingFor, setSending, cameraLayers, cameraSingle,
} from './rtc.js';

export const PROTOCOL_VERSION = 1;

/** Client ping interval and the silence after which we give up (protocol). */
export const PING_INTERVAL_MS = 15_000;
export const SILENCE_TIMEOUT_MS = 45_000;

/** Chat messages kept for the UI (the server keeps its own history). */
const CHAT_KEEP = 500;

/** Used when the server does not send `settings` (older server). */
export const DEFAULT_SETTINGS = Object.freeze({
    startMuted: false,
    videoMaxHeight: 720,
    videoMaxFramerate: 30,
    screenMaxFramerate: 5,
    /** docs/config.md `rooms.chat_max_chars`, until `joined.settings` says. */
    chatMaxChars: 2000,
});

/**
 * @typedef {'camera'|'microphone'|'screen'} Source
 */

/**
 * @typedef {object} Participant
 * @property {string} id        opaque id chosen by the server
 * @property {string} nickname  normalised by the server; render as text only
 * @property {boolean} audio    microphone on
 * @property {boolean} video    camera on
 * @property {boolean} hand     hand raised
 * @property {boolean} moderator
 */

/**
 * @typedef {object} TrackEntry  one server m-line in use (server `offer.tracks`)
 * @property {string} mid
 * @property {string} participant
 * @property {'audio'|'video'} kind
 * @property {Source} source
 */

/**
 * @typedef {object} ChatMessage
 * @property {number} id        counts up within the room
 * @property {string} from      participant id of the writer
 * @property {string} nickname  the writer's nickname; render as text only
 * @property {string} text      render as text only
 * @property {number} time      unix milliseconds
 */

/**
 * @typedef {object} Settings  community-uplink defaults the client applies
 * @property {boolean} startMuted
 * @property {number} videoMaxHeight
 * @property {number} videoMaxFramerate
 * @property {number} screenMaxFramerate
 * @property {number} chatMaxChars
 */

/**
 * @typedef {object} JoinedInfo
 * @property {string} id
 * @property {string} room
 * @property {string} nickname
 * @property {Participant[]} participants
 * @property {RTCIceServer[]} iceServers
 * @property {boolean} moderator
 * @property {boolean} locked
 * @property {'sfu'|'p2p'} mode
 * @property {ChatMessage[]} chat
 * @property {Settings} settings
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
 * @property {string} [moderatorSecret] from the URL fragment `#mod=…`
 * @property {boolean} [relayOnly] media only through the server's TURN relay
 *   (the `#relay` diagnostic switch; the server can also ask for it)
 * @property {string} [password] for a locked room
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
 * Fills in what an older server leaves out of `joined`.
 * @param {any} s
 * @returns {Settings}
 */
function readSettings(s) {
    const positive = (/** @type {any} */ v, /** @type {number} */ d) =>
        (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : d);
    return {
        startMuted: s?.startMuted === true,
        videoMaxHeight: positive(s?.videoMaxHeight, DEFAULT_SETTINGS.videoMaxHeight),
        videoMaxFramerate: positive(s?.videoMaxFramerate, DEFAULT_SETTINGS.videoMaxFramerate),
        screenMaxFramerate: positive(s?.screenMaxFramerate, DEFAULT_SETTINGS.screenMaxFramerate),
        chatMaxChars: positive(s?.chatMaxChars, DEFAULT_SETTINGS.chatMaxChars),
    };
}

/**
 * A participant object from the server with every field present.
 * @param {any} p
 * @returns {Participant}
 */
function readParticipant(p) {
    return {
        id: String(p?.id ?? ''),
        nickname: String(p?.nickname ?? ''),
        audio: p?.audio !== false,
        video: p?.video !== false,
        hand: p?.hand === true,
        moderator: p?.moderator === true,
    };
}

/**
 * @param {any} m
 * @returns {ChatMessage|null}
 */
function readChat(m) {
    if (!m || typeof m.text !== 'string') return null;
    return {
        id: Number(m.id) || 0,
        from: String(m.from ?? ''),
        nickname: String(m.nickname ?? ''),
        text: m.text,
        time: Number(m.time) || Date.now(),
    };
}

/**
 * The source of a server track entry (an older server sends none).
 * @param {any} t
 * @returns {TrackEntry}
 */
function readTrack(t) {
    const kind = t.kind === 'audio' ? 'audio' : 'video';
    /** @type {Source} */
    let source = kind === 'audio' ? 'microphone' : 'camera';
    if (t.source === 'screen' && kind === 'video') source = 'screen';
    return { mid: String(t.mid), participant: String(t.participant), kind, source };
}

/**
 * The key under which the UI shows a remote track.
 * @param {string} participant
 * @param {Source} source
 */
export function mediaKey(participant, source) {
    return `${participant}/${source}`;
}

/**
 * A participant's session: one WebSocket, one RTCPeerConnection to the
 * server, and while the room is peer-to-peer a second one to the peer.
 *
 * Events (all `CustomEvent`s, payload in `detail`):
 * - `joined` {@link JoinedInfo}
 * - `participantjoined` {participant}, `participantleft` {id},
 *   `participantupdated` {participant}
 * - `self` {} own state changed (moderator, hand, audio, video, screen)
 * - `track` {participant, source, kind, track}: show this track for that
 *   participant's source (replaces what was shown); `trackremoved`
 *   {participant, source, kind}: that source is gone
 * - `chat` {message: ChatMessage}
 * - `activespeaker` {id: string|null}
 * - `videoforwarded` {} whose camera we receive changed (see
 *   {@link Conference#receivesVideo})
 * - `mode` {mode: 'sfu'|'p2p', direct: boolean} direct: media goes browser to browser
 * - `muted` {by: string} a moderator muted our microphone
 * - `roomlocked` {locked: boolean, by: string}
 * - `screenended` {} the browser ended our screen share (its own control)
 * - `error` {@link ServerError} (also for local failures, codes prefixed `client-`)
 * - `mediaconnection` {state: RTCPeerConnectionState}
 * - `closed` {code: number, reason: string, expected: boolean, error: ServerError|null}
 *   the session is over (left, refused, lost, removed)
 */
export class Conference extends EventTarget {
    /** @param {ConferenceOptions} options */
    constructor(options) {
        super();
        this.room = options.room;
        this.nickname = options.nickname;
        this.url = options.url ?? signalingUrl(globalThis.location);
        this.moderatorSecret = options.moderatorSecret ?? '';
        this.password = options.password ?? '';
        /** @type {MediaStreamTrack|null} */
        this.audioTrack = options.audioTrack ?? null;
        /** @type {MediaStreamTrack|null} */
        this.videoTrack = options.videoTrack ?? null;
        /** @type {MediaStreamTrack|null} our screen share, while on */
        this.screenTrack = null;
        this.audio = options.audio ?? (!!this.audioTrack && this.audioTrack.enabled);
        this.video = options.video ?? !!this.videoTrack;
        /** @type {string|null} own participant id, once joined */
        this.id = null;
        this.hand = false;
        this.moderator = false;
        this.locked = false;
        /** @type {'sfu'|'p2p'} */
        this.mode = 'sfu';
        /** @type {Settings} */
        this.settings = { ...DEFAULT_SETTINGS };
        /** @type {RTCIceServer[]} */
        this.iceServers = [];
        /** @type {RTCIceTransportPolicy} */
        this.iceTransportPolicy = options.relayOnly ? 'relay' : 'all';
        /** @type {Map<string, Participant>} everyone else, in joining order */
        this.participants = new Map();
        /** @type {ChatMessage[]} */
        this.chat = [];
        /** @type {string|null} */
        this.activeSpeaker = null;
        /**
         * Whose camera the server forwards to us (`videoForwarded`, "Last-N");
         * null until the server says: then everyone's.
         * @type {Set<string>|null}
         */
        this.forwarded = null;
        /** @type {Record<string, number>} the sizes the UI shows cameras at */
        this.videoSizes = {};
        /** The last `videoSizes` sent, as JSON (sent only on change). */
        this.sentVideoSizes = '';
        /** @type {WebSocket|null} */
        this.socket = null;
        /** @type {RTCPeerConnection|null} */
        this.pc = null;
        /** @type {RTCRtpTransceiver|null} */
        this.audioTransceiver = null;
        /** @type {RTCRtpTransceiver|null} */
        this.videoTransceiver = null;
        /** @type {RTCRtpTransceiver|null} */
        this.screenTransceiver = null;
        /** @type {Map<string, TrackEntry>} server m-lines in use, by mid */
        this.remoteTracks = new Map();
        /**
         * What the UI shows, by {@link mediaKey}.
         * @type {Map<string, {participant: string, source: Source, kind: 'audio'|'video', track: MediaStreamTrack}>}
         */
        this.media = new Map();
        /** @type {DirectLink|null} the peer-to-peer connection, in p2p mode */
        this.link = null;
        /** Our media goes over `link` (not to the server). */
        this.direct = false;
        /** Serialises changes to what our senders send. */
        this.routing = Promise.resolve();
        /** Perfect negotiation: an offer of ours is being made. */
        this.makingOffer = false;
        /** Serialises handling of signaling messages that touch the pc. */
        this.queue = Promise.resolve();
        this.lastHeard = 0;
        /** @type {ReturnType<typeof setInterval>|null} */
        this.pingTimer = null;
        /** @type {ReturnType<typeof setInterval>|null} */
        this.watchdog = null;
        /** @type {ReturnType<typeof setInterval>|null} speaker detection in p2p */
        this.levelTimer = null;
        this.closed = false;
        this.leaving = false;
        /** @type {ServerError|null} the fatal error that ended the session */
        this.fatalError = null;
    }

    /**
     * Opens the WebSocket and joins. Resolves with the `joined` info, rejects
     * with a {@link ServerError} if the server refuses (room full, locked,
     * invalid name …) or the connection fails; the session is closed then.
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
            /** @type {Record<string, any>} */
            const join = {
                type: 'join',
                version: PROTOCOL_VERSION,
                room: this.room,
                nickname: this.nickname,
                audio: this.audio,
                video: this.video,
            };
            // The secret travels only in this message, over the socket;
            // never in a URL the browser requests.
            if (this.moderatorSecret) join.moderatorSecret = this.moderatorSecret;
            if (this.password) join.password = this.password;
            this.send(join);
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
     * Sends one protocol message (dropped when the socket is not open).
     * Public for the browser tests, which check that the server refuses
     * what a modified client might send.
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
            this.onJoined(m);
            break;
        case 'participantJoined': {
            const p = readParticipant(m.participant);
            if (p.id === this.id) break;
            this.participants.set(p.id, p);
            this.emit('participantjoined', { participant: p });
            // The server's offer with their tracks may have come first.
            this.syncMedia();
            break;
        }
        case 'participantLeft':
            this.participants.delete(String(m.id));
            for (const [key, shown] of this.media) {
                if (shown.participant === String(m.id)) {
                    this.media.delete(key);
                    this.emit('trackremoved', { participant: shown.participant, source: shown.source, kind: shown.kind });
                }
            }
            if (this.activeSpeaker === String(m.id)) this.setActiveSpeaker(null);
            this.emit('participantleft', { id: String(m.id) });
            break;
        case 'participantUpdated': {
            const p = readParticipant(m.participant);
            if (p.id === this.id) {
                // About ourselves (a moderator made us moderator, or the
                // last moderator left): take what the server says.
                this.moderator = p.moderator;
                this.hand = p.hand;
                this.emit('self', {});
                break;
            }
            this.participants.set(p.id, p);
            this.emit('participantupdated', { participant: p });
            break;
        }
        case 'offer':
            this.enqueue(() => this.onServerOffer(m.sdp, Array.isArray(m.tracks) ? m.tracks : []));
            break;
        case 'answer':
            this.enqueue(() => this.onServerAnswer(m.sdp));
            break;
        case 'chat': {
            const message = readChat(m);
            if (!message) break;
            this.chat.push(message);
            if (this.chat.length > CHAT_KEEP) this.chat.splice(0, this.chat.length - CHAT_KEEP);
            this.emit('chat', { message });
            break;
        }
        case 'activeSpeaker':
            // In direct mode the server hears nobody; we measure ourselves.
            if (!this.direct) this.setActiveSpeaker(typeof m.id === 'string' ? m.id : null);
            break;
        case 'mode':
            this.onMode(m);
            break;
        case 'videoForwarded':
            this.forwarded = new Set(Array.isArray(m.participants) ? m.participants.map(String) : []);
            this.emit('videoforwarded', {});
            break;
        case 'p2pSignal':
            if (this.link && String(m.from) === this.link.peer) {
                this.link.onSignal(m);
            }
            break;
        case 'muted':
            if (this.audio) {
                this.setAudio(false).catch(() => {});
            }
            this.emit('muted', { by: String(m.by ?? '') });
            break;
        case 'roomLocked':
            this.locked = m.locked === true;
            this.emit('roomlocked', { locked: this.locked, by: String(m.by ?? '') });
            break;
        case 'error': {
            /** @type {ServerError} */
            const error = { code: String(m.code), message: String(m.message ?? ''), fatal: !!m.fatal };
            if (error.fatal) this.fatalError = error;
            this.emit('error', error);
            break;
        }
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
     * @private
     * @param {any} m the `joined` message
     */
    onJoined(m) {
        this.id = String(m.id);
        this.room = m.room;
        this.nickname = m.nickname;
        this.moderator = m.moderator === true;
        this.locked = m.locked === true;
        this.settings = readSettings(m.settings);
        this.iceServers = Array.isArray(m.iceServers) ? m.iceServers : [];
        if (m.iceTransportPolicy === 'relay') this.iceTransportPolicy = 'relay';
        for (const raw of Array.isArray(m.participants) ? m.participants : []) {
            const p = readParticipant(raw);
            this.participants.set(p.id, p);
        }
        for (const raw of Array.isArray(m.chat) ? m.chat : []) {
            const message = readChat(raw);
            if (message) this.chat.push(message);
        }
        if (this.settings.startMuted) {
            // A big room: everyone who comes later starts silent and dark.
            this.audio = false;
            this.video = false;
        }
        this.startMedia();
        if (this.settings.startMuted) this.sendMediaState();
        /** @type {JoinedInfo} */
        const info = {
            id: this.id,
            room: m.room,
            nickname: m.nickname,
            participants: [...this.participants.values()],
            iceServers: this.iceServers,
            moderator: this.moderator,
            locked: this.locked,
            mode: m.mode === 'p2p' ? 'p2p' : 'sfu',
            chat: [...this.chat],
            settings: this.settings,
        };
        this.emit('joined', info);
        // A server that starts a room of two in p2p right away may name the
        // peer in `joined`; otherwise a `mode` message follows.
        if (m.mode === 'p2p' && typeof m.peer === 'string') this.onMode(m);
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

    /** @private */
    startMedia() {
        const pc = new RTCPeerConnection({
            iceServers: this.iceServers,
            iceTransportPolicy: this.iceTransportPolicy,
            bundlePolicy: 'max-bundle',
        });
        this.pc = pc;
        // Our own m-lines exist from the start, even with the device off, so
        // switching a device on later needs no renegotiation (replaceTrack).
        const stream = new MediaStream();
        const audio = this.audio && this.audioTrack ? this.audioTrack : 'audio';
        const video = this.video && this.videoTrack ? this.videoTrack : 'video';
        if (this.audioTrack) this.audioTrack.enabled = this.audio;
        this.audioTransceiver = pc.addTransceiver(audio, {
            direction: 'sendonly',
            streams: [stream],
        });
        this.videoTransceiver = addCamera(pc, video, stream, this.settings);
        preferCodec(this.audioTransceiver, 'audio');
        preferCodec(this.videoTransceiver, 'video');

        pc.addEventListener('negotiationneeded', () => {
            this.enqueue(() => this.makeOffer());
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

    /**
     * Our own mids and what they carry, for `offer.sources`.
     * @private
     * @returns {Record<string, Source>}
     */
    sources() {
        /** @type {Record<string, Source>} */
        const out = {};
        /** @type {[RTCRtpTransceiver|null, Source][]} */
        const own = [
            [this.audioTransceiver, 'microphone'],
            [this.videoTransceiver, 'camera'],
            [this.screenTransceiver, 'screen'],
        ];
        for (const [t, source] of own) {
            if (t && t.mid !== null && !isStopped(t)) out[t.mid] = source;
        }
        return out;
    }

    /** @private */
    async makeOffer() {
        const pc = this.pc;
        if (!pc || this.closed || pc.signalingState !== 'stable') return;
        try {
            this.makingOffer = true;
            await pc.setLocalDescription();
            if (pc.localDescription && pc.localDescription.type === 'offer') {
                this.send({ type: 'offer', sdp: pc.localDescription.sdp, sources: this.sources() });
            }
        } finally {
            this.makingOffer = false;
        }
    }

    /**
     * @private
     * @param {string} sdp
     * @param {any[]} tracks
     */
    async onServerOffer(sdp, tracks) {
        const pc = this.pc;
        if (!pc || this.closed) return;
        // We are polite: on a collision setRemoteDescription rolls our own
        // offer back (implicitly); negotiationneeded fires again after.
        await pc.setRemoteDescription({ type: 'offer', sdp });
        await pc.setLocalDescription();
        if (pc.localDescription) {
            this.send({ type: 'answer', sdp: pc.localDescription.sdp });
        }
        this.remoteTracks = new Map(tracks.map((t) => {
            const entry = readTrack(t);
            return [entry.mid, entry];
        }));
        this.syncMedia();
    }

    /**
     * Brings what the UI shows in line with the server's track list and the
     * current path of the media (server or direct), and says what changed.
     * @private
     */
    syncMedia() {
        /** @type {Map<string, {participant: string, source: Source, kind: 'audio'|'video', track: MediaStreamTrack}>} */
        const wanted = new Map();
        for (const entry of this.remoteTracks.values()) {
            if (!this.participants.has(entry.participant)) continue;
            const track = this.trackFor(entry);
            if (!track) continue;
            wanted.set(mediaKey(entry.participant, entry.source),
                { participant: entry.participant, source: entry.source, kind: entry.kind, track });
        }
        for (const [key, shown] of this.media) {
            if (!wanted.has(key)) {
                this.media.delete(key);
                this.emit('trackremoved', { participant: shown.participant, source: shown.source, kind: shown.kind });
            }
        }
        for (const [key, now] of wanted) {
            const before = this.media.get(key);
            if (before && before.track === now.track) continue;
            this.media.set(key, now);
            this.emit('track', { ...now });
        }
    }

    /**
     * The track that carries a remote source now: from the direct
     * connection for the peer while media goes browser to browser, else
     * from the server connection.
     * @private
     * @param {TrackEntry} entry
     * @returns {MediaStreamTrack|null}
     */
    trackFor(entry) {
        if (this.direct && this.link && entry.participant === this.link.peer) {
            return this.link.receiverTrack(entry.source);
        }
        const t = this.pc?.getTransceivers().find((x) => x.mid === entry.mid);
        return t ? t.receiver.track : null;
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
        // Through the sender queue: Firefox loses an encoding change made
        // while a replaceTrack is pending.
        const camera = this.videoTransceiver;
        this.routing = this.routing.then(() => unscaleSingleLayer(camera, this.settings)).catch(() => {});
    }

    // --- own media ----------------------------------------------------------

    /**
     * Puts our current tracks on the senders of the path in use: the direct
     * connection while it carries our media, the server otherwise.
     * @private
     */
    routeSenders() {
        // One after the other: Firefox loses an encoding change made while a
        // replaceTrack on the same sender is still pending.
        const run = this.routing.then(() => this.applyRoute());
        this.routing = run.catch(() => {});
        return run;
    }

    /** @private */
    async applyRoute() {
        const audio = this.audio ? this.audioTrack : null;
        const video = this.video ? this.videoTrack : null;
        const screen = this.screenTrack;
        const toServer = !this.direct;
        /** @type {Promise<void>[]} */
        const steps = [];
        const put = (/** @type {RTCRtpTransceiver|null} */ t, /** @type {MediaStreamTrack|null} */ track) => {
            if (!t || isStopped(t)) return;
            steps.push((async () => {
                if (t.sender.track !== track) await t.sender.replaceTrack(track);
                // Quiet while the media goes browser to browser.
                await setSending(t.sender, toServer);
            })());
        };
        put(this.audioTransceiver, toServer ? audio : null);
        put(this.videoTransceiver, toServer ? video : null);
        put(this.screenTransceiver, toServer ? screen : null);
        if (this.link) {
            steps.push(this.link.setTrack('microphone', audio));
            steps.push(this.link.setTrack('camera', video));
            steps.push(this.link.setTrack('screen', screen));
        }
        await Promise.all(steps);
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
        this.audio = on && !!this.audioTrack;
        // The others learn it at once; the senders follow (a replaceTrack
        // can take seconds on a busy machine, and waits for earlier ones).
        this.sendMediaState();
        this.emit('self', {});
        await this.routeSenders();
    }

    /**
     * Switches the camera: on with a (new) track, off with null.
     * @param {boolean} on
     * @param {MediaStreamTrack|null} [track]
     */
    async setVideo(on, track) {
        if (track !== undefined) this.videoTrack = track;
        this.video = on && !!this.videoTrack;
        this.sendMediaState();
        this.emit('self', {});
        await this.routeSenders();
    }

    /**
     * Replaces the camera or microphone track (another device chosen) without
     * changing whether it is on.
     * @param {'audio'|'video'} kind
     * @param {MediaStreamTrack} track
     */
    async replaceDevice(kind, track) {
        if (kind === 'audio') {
            this.audioTrack = track;
            track.enabled = this.audio;
        } else {
            this.videoTrack = track;
        }
        await this.routeSenders();
    }

    /**
     * Shares a screen (from getDisplayMedia) as an extra video m-line named
     * `"screen"`; the browser's own "stop sharing" control ends it too.
     * @param {MediaStreamTrack} track
     */
    async startScreen(track) {
        if (!this.pc || this.closed) throw new Error('not in a room');
        if (this.screenTrack) await this.stopScreen();
        this.screenTrack = track;
        if ('contentHint' in track) track.contentHint = 'detail';
        track.addEventListener('ended', () => {
            if (this.screenTrack === track) {
                this.stopScreen().catch(() => {});
                this.emit('screenended', {});
            }
        });
        // In direct mode the server m-line only announces the share (the
        // others learn of it from the server's `tracks`); the pixels go over
        // the direct connection's screen slot.
        this.screenTransceiver = this.pc.addTransceiver(this.direct ? 'video' : track, {
            direction: 'sendonly',
            streams: [new MediaStream()],
            sendEncodings: [encodingFor('screen', this.settings)],
        });
        preferCodec(this.screenTransceiver, 'video');
        await this.routeSenders();
        this.emit('self', {});
    }

    /** Stops sharing the screen: the m-line is stopped and offered again. */
    async stopScreen() {
        const track = this.screenTrack;
        const transceiver = this.screenTransceiver;
        this.screenTrack = null;
        this.screenTransceiver = null;
        if (this.link) await this.link.setTrack('screen', null);
        if (transceiver && !isStopped(transceiver)) {
            // stop() fires negotiationneeded; the new offer rejects the m-line.
            transceiver.stop();
        }
        track?.stop();
        this.emit('self', {});
    }

    /** @private */
    sendMediaState() {
        if (this.id) this.send({ type: 'mediaState', audio: this.audio, video: this.video });
    }

    // --- what we receive ----------------------------------------------------

    /**
     * Whether we receive this participant's camera now: from the peer while
     * media goes browser to browser, else when the server forwards it
     * (`videoForwarded`; everyone's until the first one arrives). A camera
     * that is on but not received is shown as an avatar, not frozen.
     * @param {string} participant
     */
    receivesVideo(participant) {
        if (this.direct && this.link && participant === this.link.peer) return true;
        return this.forwarded === null || this.forwarded.has(participant);
    }

    /**
     * The heights in device pixels at which the UI shows the others'
     * cameras now (0: not shown). Sent to the server as `videoSizes` when
     * it changed; the peer is left out while its media comes browser to
     * browser (the server does not send it then).
     * @param {Record<string, number>} sizes
     */
    setVideoSizes(sizes) {
        this.videoSizes = { ...sizes };
        this.sendVideoSizes();
    }

    /** @private */
    sendVideoSizes() {
        if (!this.id || this.closed) return;
        const peer = this.direct && this.link ? this.link.peer : null;
        /** @type {Record<string, number>} */
        const sizes = {};
        for (const id of Object.keys(this.videoSizes).sort()) {
            if (id === peer || id === this.id || !this.participants.has(id)) continue;
            sizes[id] = Math.max(0, Math.min(65535, Math.round(this.videoSizes[id])));
        }
        const json = JSON.stringify(sizes);
        if (json === this.sentVideoSizes) return;
        this.sentVideoSizes = json;
        this.send({ type: 'videoSizes', sizes });
    }

    // --- room actions -------------------------------------------------------

    /**
     * Writes to the room's chat. The server echoes it to everyone.
     * @param {string} text
     */
    sendChat(text) {
        this.send({ type: 'chat', text });
    }

    /** @param {boolean} raised */
    setHand(raised) {
        this.hand = raised;
        this.send({ type: 'hand', raised });
        this.emit('self', {});
    }

    /** @param {string} id */
    muteParticipant(id) {
        this.send({ type: 'muteParticipant', id });
    }

    /** @param {string} id */
    removeParticipant(id) {
        this.send({ type: 'removeParticipant', id });
    }

    /** @param {string} id */
    grantModerator(id) {
        this.send({ type: 'grantModerator', id });
    }

    /** @param {string} password */
    lockRoom(password) {
        this.send({ type: 'lockRoom', password });
    }

    unlockRoom() {
        this.send({ type: 'unlockRoom' });
    }

    // --- peer-to-peer -------------------------------------------------------

    /**
     * @private
     * @param {any} m a `mode` message
     */
    onMode(m) {
        if (m.mode === 'p2p' && typeof m.peer === 'string') {
            if (this.link && this.link.peer === m.peer) return;
            this.endDirect();
            this.mode = 'p2p';
            this.startDirect(m.peer, m.polite === true);
        } else {
            this.mode = 'sfu';
            this.endDirect();
        }
        this.emit('mode', { mode: this.mode, direct: this.direct });
    }

    /**
     * @private
     * @param {string} peer
     * @param {boolean} polite
     */
    startDirect(peer, polite) {
        const link = new DirectLink({
            peer,
            polite,
            iceServers: this.iceServers,
            iceTransportPolicy: this.iceTransportPolicy,
            settings: this.settings,
            signal: (payload) => this.send({ type: 'p2pSignal', to: peer, ...payload }),
        });
        this.link = link;
        link.addEventListener('connected', () => {
            if (this.link !== link || this.closed) return;
            this.direct = true;
            this.send({ type: 'p2pState', state: 'connected' });
            // Our media now goes only browser to browser.
            this.routeSenders().catch(() => {});
            this.syncMedia();
            this.sendVideoSizes();
            this.startLevelWatch();
            this.emit('mode', { mode: this.mode, direct: true });
        });
        link.addEventListener('failed', () => {
            if (this.link !== link || this.closed) return;
            this.send({ type: 'p2pState', state: 'failed' });
            this.endDirect();
            this.emit('mode', { mode: this.mode, direct: false });
        });
        link.addEventListener('track', () => {
            if (this.link === link && this.direct) this.syncMedia();
        });
        // Our tracks go on the direct connection's senders at once; they flow
        // only once it is up.
        this.routeSenders().catch(() => {});
        link.start();
    }

    /**
     * Back to the server: resume our server senders (the server connection
     * stayed up, so no negotiation), show the peer from the server again and
     * close the direct connection.
     * @private
     */
    endDirect() {
        const link = this.link;
        if (!link) return;
        this.link = null;
        const wasDirect = this.direct;
        this.direct = false;
        this.stopLevelWatch();
        this.routeSenders().catch(() => {});
        if (wasDirect) {
            this.syncMedia();
            this.sendVideoSizes();
        }
        link.close();
    }

    /**
     * While media goes browser to browser the server hears nobody, so the
     * speaker is found here from the audio levels of both ends.
     * @private
     */
    startLevelWatch() {
        this.stopLevelWatch();
        this.levelTimer = setInterval(async () => {
            const link = this.link;
            if (!link || !this.direct) return;
            const peerLevel = link.peerAudioLevel();
            const ownLevel = this.audio ? await link.ownAudioLevel() : 0;
            const THRESHOLD = 0.02;
            let speaker = null;
            if (peerLevel > THRESHOLD || ownLevel > THRESHOLD) {
                speaker = peerLevel >= ownLevel ? link.peer : this.id;
            }
            if (this.link === link) this.setActiveSpeaker(speaker);
        }, 300);
    }

    /** @private */
    stopLevelWatch() {
        if (this.levelTimer) clearInterval(this.levelTimer);
        this.levelTimer = null;
    }

    /**
     * @private
     * @param {string|null} id
     */
    setActiveSpeaker(id) {
        if (id === this.activeSpeaker) return;
        this.activeSpeaker = id;
        this.emit('activespeaker', { id });
    }

    // --- statistics and the end -------------------------------------------

    /**
     * Statistics of the server media connection (null before joining).
     * @returns {Promise<RTCStatsReport|null>}
     */
    async stats() {
        return this.pc ? this.pc.getStats() : null;
    }

    /**
     * Statistics of the direct connection (null when there is none).
     * @returns {Promise<RTCStatsReport|null>}
     */
    async directStats() {
        return this.link ? this.link.stats() : null;
    }

    /**
     * The labels of the tracks our senders carry now, on the path in use
     * (for the test hook: what the browser's WebRTC internals show too).
     * @returns {Record<Source, string|null>}
     */
    sending() {
        /** @param {RTCRtpTransceiver|null} t */
        const label = (t) => (t && !isStopped(t) ? t.sender.track?.label ?? null : null);
        if (this.direct && this.link) {
            return {
                microphone: this.link.sendingLabel('microphone'),
                camera: this.link.sendingLabel('camera'),
                screen: this.link.sendingLabel('screen'),
            };
        }
        return {
            microphone: label(this.audioTransceiver),
            camera: label(this.videoTransceiver),
            screen: label(this.screenTransceiver),
        };
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
        this.stopLevelWatch();
        this.link?.close();
        this.link = null;
        this.direct = false;
        this.screenTrack?.stop();
        this.screenTrack = null;
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
        this.emit('closed', { code, reason, expected, error: this.fatalError });
    }
}

/**
 * Adds the camera's m-line to the server connection, in three simulcast
 * layers (docs/protocol.md, "Simulcast"); one layer where the browser
 * refuses them.
 * @param {RTCPeerConnection} pc
 * @param {MediaStreamTrack|'video'} video
 * @param {MediaStream} stream
 * @param {Settings} settings
 * @returns {RTCRtpTransceiver}
 */
function addCamera(pc, video, stream, settings) {
    try {
        return pc.addTransceiver(video, {
            direction: 'sendonly',
            streams: [stream],
            sendEncodings: cameraLayers(settings),
        });
    } catch {
        return pc.addTransceiver(video, {
            direction: 'sendonly',
            streams: [stream],
            sendEncodings: [cameraSingle(settings)],
        });
    }
}

/**
 * After an answer that did not take the camera's simulcast, the browser
 * keeps only the first encoding, the quarter-size layer: make that one
 * the full picture again.
 * @param {RTCRtpTransceiver|null} t
 * @param {Settings} settings
 */
async function unscaleSingleLayer(t, settings) {
    if (!t || isStopped(t)) return;
    const params = t.sender.getParameters();
    const encodings = params.encodings ?? [];
    if (encodings.length !== 1 || (encodings[0].scaleResolutionDownBy ?? 1) === 1) return;
    const { active } = encodings[0];
    params.encodings = [{ ...encodings[0], ...cameraSingle(settings), scaleResolutionDownBy: 1, active }];
    try {
        await t.sender.setParameters(params);
    } catch {
        // Still a picture, only a small one.
    }
}

/**
 * @param {RTCRtpTransceiver} t
 */
function isStopped(t) {
    // `stopped` is gone from the standard; currentDirection says it now.
    return /** @type {any} */ (t).stopped === true || t.currentDirection === 'stopped' || t.direction === 'stopped';
}
