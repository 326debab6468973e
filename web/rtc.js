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
