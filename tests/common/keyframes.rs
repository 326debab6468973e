//! Keyframe requests reaching the publisher. The webrtc crate keeps inbound
//! RTCP inside its interceptor chain; this interceptor, last in the chain,
//! marks PLI and FIR for the application, so the test client's synthetic
//! VP8 publisher can answer them with a keyframe as an encoder would.
//! (After the webrtc crate's own `rtcp-processing` example.)

use rtc::interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use std::collections::VecDeque;
use std::time::Instant;
use webrtc::peer_connection::Registry;

/// Adds the forwarder after every other interceptor.
pub fn deliver_keyframe_requests(registry: Registry) -> Registry {
    registry.with(Slot::from(14_000), KeyframeRequestForwarder::default())
}

/// Whether an RTCP packet asks for a keyframe.
pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// A PLI for `media_ssrc`, as a subscriber sends it.
pub fn pli(media_ssrc: u32) -> Box<dyn rtc::rtcp::Packet> {
    Box::new(PictureLossIndication {
        sender_ssrc: 0,
        media_ssrc,
    })
}

#[derive(Default)]
struct KeyframeRequestForwarder {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestForwarder {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            let requests: Vec<Box<dyn rtc::rtcp::Packet>> = packets
                .iter()
                .filter(|p| is_keyframe_request(p.as_ref()))
                .cloned()
                .collect();
            if requests.is_empty() {
                // The other interceptors have acted on it already.
                return Ok(());
            }
            msg.message.packet = Packet::Rtcp(requests);
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl Interceptor for KeyframeRequestForwarder {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// The SSRCs a keyframe request (PLI or FIR) asks for a keyframe on.
pub fn requested_ssrcs(packet: &dyn rtc::rtcp::Packet) -> Vec<u32> {
    let any = packet.as_any();
    if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
        return vec![pli.media_ssrc];
    }
    if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
        return fir.fir.iter().map(|e| e.ssrc).collect();
    }
    Vec::new()
}

/// A REMB (the receiver's estimate of the most it can take, in bits per
/// second) for the streams `ssrcs`, as a receiver without transport-wide
/// congestion control sends it.
pub fn remb(bitrate: u64, ssrcs: Vec<u32>) -> Box<dyn rtc::rtcp::Packet> {
    Box::new(
        rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate {
            sender_ssrc: 0,
            bitrate: bitrate as f32,
            ssrcs,
        },
    )
}
