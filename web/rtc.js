// Small WebRTC helpers both connections use (to the server and to the
// peer). No DOM code here.

/** @typedef {import('./protocol.js').Source} Source */
/** @typedef {import('./protocol.js').Settings} Settings */

/**
 * Puts the codecs of `mimeType` first and drops every other media codec
 * (retransmission entries stay), where the browser lets us choose.
 * @param {RTCRtpTransceiver} transceiver
 * @param {'audio'|'video'} kind
 */
export function preferCodec(transceiver, kind) {
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
 * The encoding limits for a video source under the room's settings.
 * @param {Source} source
 * @param {Settings} settings
 * @returns {RTCRtpEncodingParameters}
 */
export function encodingFor(source, settings) {
    if (source === 'screen') return { maxFramerate: settings.screenMaxFramerate };
    if (source === 'camera') return { maxFramerate: settings.videoMaxFramerate };
    return {};
}

/**
 * The camera's simulcast layers towards the server, smallest first:
 * a quarter, a half and the full height (docs/protocol.md, "Simulcast").
 * The server picks one per subscriber by the size it shows the camera at.
 */
export const CAMERA_LAYERS = Object.freeze([
    Object.freeze({ rid: 'q', scaleResolutionDownBy: 4 }),
    Object.freeze({ rid: 'h', scaleResolutionDownBy: 2 }),
    Object.freeze({ rid: 'f', scaleResolutionDownBy: 1 }),
]);

/**
 * The camera is captured at most this tall (and never above the room's
 * `videoMaxHeight`): tall enough that Chromium sends all three layers
 * (it drops the upper ones of pictures under 960×540), small enough for
 * a laptop's encoder and a home uplink.
 */
export const CAMERA_CAPTURE_HEIGHT = 720;

/**
 * The height the camera is captured at under the room's settings.
 * @param {{videoMaxHeight: number}} settings
 */
export function cameraHeight(settings) {
    return Math.min(CAMERA_CAPTURE_HEIGHT, settings.videoMaxHeight);
}

/** Bits per pixel and frame a VP8 camera picture needs to look decent. */
const BITS_PER_PIXEL = 0.06;
/** Below this a layer is not worth its packets. */
const MIN_LAYER_BITRATE = 30_000;

/**
 * An upper bound for the bitrate of a 16:9 camera picture `height` pixels
 * tall at `framerate`: about 1.7 Mbit/s for 720p at 30 fps, 420 kbit/s for
 * 360p, 100 kbit/s for 180p.
 * @param {number} height
 * @param {number} framerate
 * @returns {number} bits per second
 */
export function cameraBitrate(height, framerate) {
    const width = (height * 16) / 9;
    return Math.max(MIN_LAYER_BITRATE, Math.round(width * height * framerate * BITS_PER_PIXEL));
}

/**
 * The camera's encodings towards the server: three simulcast layers whose
 * bitrate caps follow the room's largest camera height. A room that caps
 * the camera below 540 lines gets fewer (the half and the full picture
 * from 270 lines, else one): Chromium sends only as many layers as the
 * picture's size allows and drops the upper ones, which would leave the
 * room with the smallest pictures only.
 * @param {Settings} settings
 * @returns {RTCRtpEncodingParameters[]}
 */
export function cameraLayers(settings) {
    const fps = settings.videoMaxFramerate;
    const height = cameraHeight(settings);
    const count = height >= 540 ? 3 : height >= 270 ? 2 : 1;
    if (count === 1) return [cameraSingle(settings)];
    return CAMERA_LAYERS.slice(CAMERA_LAYERS.length - count).map((l) => ({
        rid: l.rid,
        scaleResolutionDownBy: l.scaleResolutionDownBy,
        maxBitrate: cameraBitrate(height / l.scaleResolutionDownBy, fps),
        maxFramerate: fps,
    }));
}

/**
 * The camera as one stream (peer to peer, or where simulcast was refused),
 * capped like the full layer.
 * @param {Settings} settings
 * @returns {RTCRtpEncodingParameters}
 */
export function cameraSingle(settings) {
    return {
        maxFramerate: settings.videoMaxFramerate,
        maxBitrate: cameraBitrate(cameraHeight(settings), settings.videoMaxFramerate),
    };
}

/**
 * Switches a sender's encodings on or off. A sender without a track sends
 * nothing in Chromium, but Firefox keeps sending a small frame a second;
 * an inactive encoding sends nothing anywhere. No renegotiation.
 * @param {RTCRtpSender} sender
 * @param {boolean} active
 */
export async function setSending(sender, active) {
    try {
        const params = sender.getParameters();
        if (!params.encodings || params.encodings.length === 0) return;
        if (params.encodings.every((e) => (e.active ?? true) === active)) return;
        params.encodings = params.encodings.map((e) => ({ ...e, active }));
        await sender.setParameters(params);
    } catch {
        // Before the first negotiation there is nothing to switch; the
        // null track keeps it quiet in the engines that matter most.
    }
}
