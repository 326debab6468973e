//! What funkraum checks in a client's STUN message before the TURN state
//! machine (`turn-server-proto`) sees it, and the answers it gives itself.
//!
//! `turn-server-proto` has no hook for a relay policy, dynamic credentials
//! or quotas, so these live here, in front of it. Messages are parsed with
//! `stun-types` (the crate `turn-server-proto` itself uses); nothing here
//! reads bytes by hand.

use turn_server_proto::types::attribute::{RequestedTransport, XorPeerAddress};
use turn_server_proto::types::message::{
    ALLOCATE, CHANNEL_BIND, CONNECT, CONNECTION_BIND, CREATE_PERMISSION, SEND,
};
use turn_server_proto::types::stun::attribute::{ErrorCode, MessageIntegrity, Username};
use turn_server_proto::types::stun::message::{
    IntegrityAlgorithm, LongTermKeyCredentials, Message, MessageClass, MessageIntegrityCredentials,
    MessageWrite, MessageWriteExt, MessageWriteVec, Method,
};

use std::net::SocketAddr;
use turn_server_proto::types::stun::prelude::*;

/// The parts of a client's STUN message that funkraum decides on.
#[derive(Debug)]
pub struct Inspected<'a> {
    pub message: Message<'a>,
    pub kind: Kind,
    /// USERNAME, if present.
    pub username: Option<String>,
    /// Every XOR-PEER-ADDRESS, decoded.
    pub peers: Vec<SocketAddr>,
    /// REQUESTED-TRANSPORT of an Allocate, if present.
    pub requested_transport: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Allocate,
    CreatePermission,
    ChannelBind,
    /// RFC 6062 Connect / ConnectionBind: TCP relaying, not offered.
    TcpRelay,
    /// Any other request (Binding, Refresh …): handed on as it is.
    OtherRequest,
    SendIndication,
    /// Other indications and responses: handed on (the state machine
    /// ignores what it does not expect).
    Other,
}

/// Parses a STUN message from a client; `None` if it is not one.
pub fn inspect(bytes: &[u8]) -> Option<Inspected<'_>> {
    let message = Message::from_bytes(bytes).ok()?;
    let method = message.method();
    let kind = match message.class() {
        MessageClass::Request => match method {
            m if m == ALLOCATE => Kind::Allocate,
            m if m == CREATE_PERMISSION => Kind::CreatePermission,
            m if m == CHANNEL_BIND => Kind::ChannelBind,
            m if m == CONNECT || m == CONNECTION_BIND => Kind::TcpRelay,
            _ => Kind::OtherRequest,
        },
        MessageClass::Indication if method == SEND => Kind::SendIndication,
        _ => Kind::Other,
    };
    let username = message
        .attribute::<Username>()
        .ok()
        .map(|u| u.username().to_string());
    let transaction = message.transaction_id();
    let peers = message
        .iter_attributes()
        .filter(|(_, raw)| raw.get_type() == XorPeerAddress::TYPE)
        .filter_map(|(_, raw)| XorPeerAddress::try_from(&raw).ok())
        .map(|a| a.addr(transaction))
        .collect();
    let requested_transport = message
        .attribute::<RequestedTransport>()
        .ok()
        .map(|t| t.protocol());
    Some(Inspected {
        message,
        kind,
        username,
        peers,
        requested_transport,
    })
}

/// Whether XOR-PEER-ADDRESS attributes are present but some did not
/// decode: such a message is refused rather than half-checked.
pub fn has_undecodable_peer(inspected: &Inspected<'_>) -> bool {
    let present = inspected
        .message
        .iter_attributes()
        .filter(|(_, raw)| raw.get_type() == XorPeerAddress::TYPE)
        .count();
    present != inspected.peers.len()
}

/// The key a request was signed with, if it was signed correctly with
/// this username and password.
pub fn verify_integrity(
    message: &Message<'_>,
    username: &str,
    password: &str,
    realm: &str,
) -> Option<IntegrityAlgorithm> {
    if !message.has_attribute(MessageIntegrity::TYPE)
        && !message
            .has_attribute(turn_server_proto::types::stun::attribute::MessageIntegritySha256::TYPE)
    {
        return None;
    }
    let credentials = credentials(username, password, realm);
    message.validate_integrity(&credentials).ok()
}

fn credentials(username: &str, password: &str, realm: &str) -> MessageIntegrityCredentials {
    LongTermKeyCredentials::new(
        username.to_string(),
        password.to_string(),
        realm.to_string(),
    )
    .into()
}

/// An error response to `request`, signed like the request was (so the
/// client can trust it), with a FINGERPRINT.
pub fn signed_error(request: &Message<'_>, code: u16, signer: &Signer<'_>) -> Option<Vec<u8>> {
    let error = ErrorCode::builder(code).build().ok()?;
    let mut response = Message::builder_error(request, MessageWriteVec::with_capacity(128));
    response.add_attribute(&error).ok()?;
    let credentials = credentials(signer.username, signer.password, signer.realm);
    response
        .add_message_integrity(&credentials, signer.algorithm)
        .ok()?;
    response.add_fingerprint().ok()?;
    Some(response.finish())
}

/// An error response to a request we could not authenticate.
pub fn unsigned_error(request: &Message<'_>, code: u16) -> Option<Vec<u8>> {
    let error = ErrorCode::builder(code).build().ok()?;
    let mut response = Message::builder_error(request, MessageWriteVec::with_capacity(64));
    response.add_attribute(&error).ok()?;
    response.add_fingerprint().ok()?;
    Some(response.finish())
}

/// What a signed answer is signed with.
pub struct Signer<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub realm: &'a str,
    pub algorithm: IntegrityAlgorithm,
}

/// The method of a message, for tests and counters.
pub fn method_of(bytes: &[u8]) -> Option<Method> {
    Message::from_bytes(bytes).ok().map(|m| m.method())
}

#[cfg(test)]
mod tests {
    use super::*;
    use turn_server_proto::types::stun::attribute::{Nonce, Realm};
    use turn_server_proto::types::stun::message::TransactionId;

    const REALM: &str = "funkraum";

    fn request(method: Method, peers: &[SocketAddr], user: Option<(&str, &str)>) -> Vec<u8> {
        let mut m = Message::builder_request(method, MessageWriteVec::new());
        let transaction: TransactionId = m.transaction_id();
        for p in peers {
            m.add_attribute(&XorPeerAddress::new(*p, transaction))
                .unwrap();
        }
        if let Some((u, p)) = user {
            m.add_attribute(&Username::new(u).unwrap()).unwrap();
            m.add_attribute(&Realm::new(REALM).unwrap()).unwrap();
            m.add_attribute(&Nonce::new("n0nce").unwrap()).unwrap();
            m.add_message_integrity(&credentials(u, p, REALM), IntegrityAlgorithm::Sha1)
                .unwrap();
        }
        m.finish()
    }

    #[test]
    fn create_permission_peers_are_decoded() {
        let peers: Vec<SocketAddr> = vec![
            "127.0.0.1:9".parse().unwrap(),
            "[fd00::1]:80".parse().unwrap(),
        ];
        let bytes = request(CREATE_PERMISSION, &peers, Some(("u", "p")));
        let i = inspect(&bytes).unwrap();
        assert_eq!(i.kind, Kind::CreatePermission);
        assert_eq!(i.peers, peers);
        assert_eq!(i.username.as_deref(), Some("u"));
        assert!(!has_undecodable_peer(&i));
    }

    #[test]
    fn integrity_is_checked_with_the_given_password() {
        let bytes = request(CHANNEL_BIND, &[], Some(("u", "right")));
        let i = inspect(&bytes).unwrap();
        assert_eq!(
            verify_integrity(&i.message, "u", "right", REALM),
            Some(IntegrityAlgorithm::Sha1)
        );
        assert_eq!(verify_integrity(&i.message, "u", "wrong", REALM), None);
        let unsigned = request(CHANNEL_BIND, &[], None);
        let i = inspect(&unsigned).unwrap();
        assert_eq!(verify_integrity(&i.message, "u", "right", REALM), None);
    }

    #[test]
    fn signed_403_is_a_valid_signed_error() {
        let bytes = request(
            CREATE_PERMISSION,
            &["10.0.0.1:1".parse().unwrap()],
            Some(("u", "p")),
        );
        let i = inspect(&bytes).unwrap();
        let signer = Signer {
            username: "u",
            password: "p",
            realm: REALM,
            algorithm: IntegrityAlgorithm::Sha1,
        };
        let answer = signed_error(&i.message, ErrorCode::FORBIDDEN, &signer).unwrap();
        let reply = Message::from_bytes(&answer).unwrap();
        assert_eq!(reply.class(), MessageClass::Error);
        assert_eq!(reply.method(), CREATE_PERMISSION);
        assert_eq!(reply.transaction_id(), i.message.transaction_id());
        assert_eq!(reply.attribute::<ErrorCode>().unwrap().code(), 403);
        assert!(
            reply
                .validate_integrity(&credentials("u", "p", REALM))
                .is_ok()
        );
    }

    #[test]
    fn not_stun_is_none() {
        assert!(inspect(b"GET / HTTP/1.1\r\n\r\n").is_none());
        assert!(inspect(&[0x40, 0, 0, 4, 1, 2, 3, 4]).is_none());
        assert!(inspect(&[]).is_none());
    }
}
