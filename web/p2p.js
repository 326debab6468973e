// The direct connection between the two browsers of a room of two
// (docs/protocol.md, "Peer-to-peer for two"). No DOM code here.
//
// Layout: three m-lines in a fixed order, each sendrecv — microphone, camera,
// screen. The impolite side creates them and offers; the polite side takes
// them from that offer. Both ends know from the order which slot is which,
// so `p2pSignal` carries nothing but descriptions and candidates, and
// switching a device or sharing the screen is a replaceTrack, never a new
// negotiation. Negotiation follows the "perfect negotiation" pattern with
// the politeness the server assigned.

import { preferCodec, encodingFor } from './rtc.js';

/** Give up on a direct connection that is not up after this long. */
export const P2P_CONNECT_TIMEOUT_MS = 15_000;

/** @typedef {import('./protocol.js').Source} Source */

/** @type {{source: Source, kind: 'audio'|'video'}[]} */
const SLOTS = [
    { source: 'microphone', kind: 'audio' },
    { source: 'camera', kind: 'video' },
    { source: 'screen', kind: 'video' },
];

/**
 * @typedef {object} DirectLinkOptions
 * @property {string} peer      the other participant's id
 * @property {boolean} polite   from the server's `mode` message
 * @property {RTCIceServer[]} iceServers from `joined`
 * @property {RTCIceTransportPolicy} iceTransportPolicy
 * @property {import('./protocol.js').Settings} settings
 * @property {(payload: {description?: RTCSessionDescriptionInit, candidate?: RTCIceCandidateInit}) => void} signal
 *   sends a `p2pSignal` to the peer (through the server)
 */

/**
 * Events: `connected` (once, media can flow), `failed` (once: it did not
 * come up in time, or broke), `track` (a slot's remote track is known).
 */
export class DirectLink extends EventTarget {
    /** @param {DirectLinkOptions} options */
    constructor(options) {
        super();
        this.peer = options.peer;
        this.polite = options.polite;
        this.settings = options.settings;
        this.signal = options.signal;
        this.pc = new RTCPeerConnection({
            iceServers: options.iceServers,
            iceTransportPolicy: options.iceTransportPolicy,
            bundlePolicy: 'max-bundle',
        });
        /** @type {Map<Source, MediaStreamTrack|null>} what we want to send */
        this.outgoing = new Map();
        this.makingOffer = false;
        this.ignoreOffer = false;
        this.done = false;
        this.connected = false;
        /** @type {ReturnType<typeof setTimeout>|null} */
        this.timer = null;
        /** Serialises the handling of descriptions. */
        this.queue = Promise.resolve();
    }

    /** Sets the connection up; the impolite side offers. */
    start() {
        const pc = this.pc;
        pc.addEventListener('icecandidate', (e) => {
            if (e.candidate) this.signal({ candidate: e.candidate.toJSON() });
        });
        pc.addEventListener('negotiationneeded', () => {
            this.run(async () => {
                try {
                    this.makingOffer = true;
                    await pc.setLocalDescription();
                    const d = pc.localDescription;
                    if (d) this.signal({ description: { type: d.type, sdp: d.sdp } });
                } finally {
                    this.makingOffer = false;
                }
            });
        });
        pc.addEventListener('connectionstatechange', () => {
            const state = pc.connectionState;
            if (state === 'connected' && !this.connected && !this.done) {
                this.connected = true;
                if (this.timer) clearTimeout(this.timer);
                this.dispatchEvent(new Event('connected'));
            } else if (state === 'failed') {
                this.fail();
            }
        });
        pc.addEventListener('track', () => this.dispatchEvent(new Event('track')));
        this.timer = setTimeout(() => {
            if (!this.connected) this.fail();
        }, P2P_CONNECT_TIMEOUT_MS);
        if (!this.polite) {
            const stream = new MediaStream();
            for (const slot of SLOTS) {
                const t = pc.addTransceiver(this.outgoing.get(slot.source) ?? slot.kind, {
                    direction: 'sendrecv',
                    streams: [stream],
                    sendEncodings: slot.kind === 'video' ? [encodingFor(slot.source, this.settings)] : undefined,
                });
                preferCodec(t, slot.kind);
            }
        }
    }

    /** @private */
    fail() {
        if (this.done) return;
        this.done = true;
        if (this.timer) clearTimeout(this.timer);
        this.dispatchEvent(new Event('failed'));
    }

    /**
     * @private
     * @param {() => Promise<void>} step
     */
    run(step) {
        this.queue = this.queue.then(step).catch(() => {
            if (!this.done) this.fail();
        });
    }

    /**
     * A relayed `p2pSignal` from the peer.
     * @param {{description?: RTCSessionDescriptionInit, candidate?: RTCIceCandidateInit}} m
     */
    onSignal(m) {
        if (this.done) return;
        const pc = this.pc;
        if (m.description && typeof m.description.type === 'string') {
            const description = /** @type {RTCSessionDescriptionInit} */ ({
                type: m.description.type,
                sdp: m.description.sdp,
            });
            this.run(async () => {
                const collision = description.type === 'offer'
                    && (this.makingOffer || pc.signalingState !== 'stable');
                this.ignoreOffer = !this.polite && collision;
                if (this.ignoreOffer) return;
                await pc.setRemoteDescription(description);
                if (description.type === 'offer') {
                    await this.takeSlots();
                    await pc.setLocalDescription();
                    const d = pc.localDescription;
                    if (d) this.signal({ description: { type: d.type, sdp: d.sdp } });
                }
            });
        } else if (m.candidate) {
            const candidate = m.candidate;
            this.run(async () => {
                try {
                    await pc.addIceCandidate(candidate);
                } catch (err) {
                    if (!this.ignoreOffer) throw err;
                }
            });
        }
    }

    /**
     * The polite side: the peer's offer made our transceivers; send on them
     * too, with what we want to send.
     * @private
     */
    async takeSlots() {
        const transceivers = this.pc.getTransceivers();
        for (let i = 0; i < SLOTS.length && i < transceivers.length; i += 1) {
            const t = transceivers[i];
            if (t.direction === 'recvonly' || t.direction === 'inactive') {
                t.direction = 'sendrecv';
                preferCodec(t, SLOTS[i].kind);
            }
            const track = this.outgoing.get(SLOTS[i].source) ?? null;
            if (t.sender.track !== track) await t.sender.replaceTrack(track);
            if (SLOTS[i].kind === 'video') {
                await limitEncoding(t.sender, encodingFor(SLOTS[i].source, this.settings));
            }
        }
    }

    /**
     * Sends `track` (or nothing) in a slot; no renegotiation.
     * @param {Source} source
     * @param {MediaStreamTrack|null} track
     */
    async setTrack(source, track) {
        this.outgoing.set(source, track);
        const t = this.slot(source);
        if (t && t.sender.track !== track) await t.sender.replaceTrack(track);
    }

    /**
     * @private
     * @param {Source} source
     * @returns {RTCRtpTransceiver|null}
     */
    slot(source) {
        const i = SLOTS.findIndex((s) => s.source === source);
        const t = this.pc.getTransceivers()[i];
        return t ?? null;
    }

    /**
     * The peer's track for a source (null before the first negotiation).
     * @param {Source} source
     * @returns {MediaStreamTrack|null}
     */
    receiverTrack(source) {
        return this.slot(source)?.receiver.track ?? null;
    }

    /**
     * The label of the track we send in a slot (null: none).
     * @param {Source} source
     * @returns {string|null}
     */
    sendingLabel(source) {
        return this.slot(source)?.sender.track?.label ?? null;
    }

    /** The peer's current audio level, 0…1 (0 when unknown). */
    peerAudioLevel() {
        const receiver = this.slot('microphone')?.receiver;
        if (!receiver || typeof receiver.getSynchronizationSources !== 'function') return 0;
        const sources = receiver.getSynchronizationSources();
        const recent = sources.find((s) => performance.now() - s.timestamp < 1000);
        return recent?.audioLevel ?? 0;
    }

    /** Our own microphone level as sent, 0…1. */
    async ownAudioLevel() {
        const sender = this.slot('microphone')?.sender;
        if (!sender || !sender.track) return 0;
        const report = await sender.getStats();
        let level = 0;
        report.forEach((s) => {
            if (s.type === 'media-source' && s.kind === 'audio' && typeof s.audioLevel === 'number') level = s.audioLevel;
        });
        return level;
    }

    /** @returns {Promise<RTCStatsReport>} */
    stats() {
        return this.pc.getStats();
    }

    close() {
        this.done = true;
        if (this.timer) clearTimeout(this.timer);
        this.pc.close();
    }
}

/**
 * Applies encoding limits to a sender made by a remote offer.
 * @param {RTCRtpSender} sender
 * @param {RTCRtpEncodingParameters} limits
 */
async function limitEncoding(sender, limits) {
    try {
        const params = sender.getParameters();
        if (!params.encodings || params.encodings.length === 0) return;
        params.encodings = params.encodings.map((e) => ({ ...e, ...limits }));
        await sender.setParameters(params);
    } catch {
        // Not every engine allows this before the answer; the track's own
        // constraints still cap the frame rate.
    }
}
