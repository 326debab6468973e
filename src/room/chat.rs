//! Chat: the rules for a message's text (docs/protocol.md, "Chat") and the
//! room's bounded history.

use crate::ids::ParticipantId;
use crate::privacy::{ChatText, Nickname};
use std::collections::VecDeque;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatError {
    Empty,
    TooLong { max: usize },
    BadCharacter,
}

impl ChatError {
    /// The sentence a participant reads.
    pub fn message(self) -> String {
        match self {
            ChatError::Empty => "The chat message is empty.".into(),
            ChatError::TooLong { max } => {
                format!("A chat message has at most {max} characters.")
            }
            ChatError::BadCharacter => {
                "A chat message must not contain control characters other than line breaks.".into()
            }
        }
    }
}

/// Normalises (NFC, line breaks to `\n`, trimmed) and checks a chat text.
pub fn parse_chat_text(raw: &str, max_chars: usize) -> Result<ChatText, ChatError> {
    // Far over the limit already before normalising (NFC never shrinks a
    // text by more than a few times): refuse without the work.
    if raw.chars().count() > max_chars.saturating_mul(4).max(64) {
        return Err(ChatError::TooLong { max: max_chars });
    }
    let normalised: String = raw
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .nfc()
        .collect();
    let text = normalised.trim();
    if text.is_empty() {
        return Err(ChatError::Empty);
    }
    if text.chars().count() > max_chars {
        return Err(ChatError::TooLong { max: max_chars });
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ChatError::BadCharacter);
    }
    Ok(ChatText::from_validated(text.to_string()))
}

/// One message as the room keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Counts up within the room, from 1.
    pub id: u64,
    pub from: ParticipantId,
    /// The sender's nickname when it was written (the sender may be gone).
    pub nickname: Nickname,
    pub text: ChatText,
    /// Unix time in milliseconds.
    pub time: u64,
}

/// The last `capacity` messages of a room.
#[derive(Debug)]
pub struct ChatHistory {
    capacity: usize,
    next_id: u64,
    messages: VecDeque<ChatMessage>,
}

impl ChatHistory {
    pub fn new(capacity: usize) -> Self {
        ChatHistory {
            capacity,
            next_id: 1,
            messages: VecDeque::new(),
        }
    }

    /// Records a message and returns it as it is to be sent.
    pub fn push(
        &mut self,
        from: ParticipantId,
        nickname: Nickname,
        text: ChatText,
        time: u64,
    ) -> ChatMessage {
        let message = ChatMessage {
            id: self.next_id,
            from,
            nickname,
            text,
            time,
        };
        self.next_id += 1;
        if self.capacity > 0 {
            if self.messages.len() == self.capacity {
                self.messages.pop_front();
            }
            self.messages.push_back(message.clone());
        }
        message
    }

    /// Oldest first.
    pub fn recent(&self) -> Vec<ChatMessage> {
        self.messages.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::names::parse_nickname;

    fn text(raw: &str) -> Result<String, ChatError> {
        parse_chat_text(raw, 10).map(|t| t.expose_personal().to_string())
    }

    #[test]
    fn texts_normalise() {
        assert_eq!(text("  hallo \n").unwrap(), "hallo");
        assert_eq!(text("a\r\nb\rc").unwrap(), "a\nb\nc");
        // Decomposed ü is one character after NFC, so ten of them fit.
        assert_eq!(text(&"u\u{0308}".repeat(10)).unwrap(), "ü".repeat(10));
        // Markup is text like any other.
        assert_eq!(
            parse_chat_text("<img src=x onerror=alert(1)>", 100)
                .unwrap()
                .expose_personal(),
            "<img src=x onerror=alert(1)>"
        );
        // Text direction marks are not control characters (Arabic, Hebrew).
        assert!(text("\u{200F}שלום").is_ok());
    }

    #[test]
    fn texts_refused() {
        assert_eq!(text(""), Err(ChatError::Empty));
        assert_eq!(text(" \n\r\n\t "), Err(ChatError::Empty));
        assert_eq!(text(&"x".repeat(11)), Err(ChatError::TooLong { max: 10 }));
        assert_eq!(
            text(&"x".repeat(100_000)),
            Err(ChatError::TooLong { max: 10 })
        );
        assert!(text(&"x".repeat(10)).is_ok());
        assert_eq!(text("bell\u{7}"), Err(ChatError::BadCharacter));
        assert_eq!(text("a\tb"), Err(ChatError::BadCharacter));
        assert_eq!(text("esc\u{1b}[2J"), Err(ChatError::BadCharacter));
        assert_eq!(text("nul\0"), Err(ChatError::BadCharacter));
        assert_eq!(text("c1\u{85}x"), Err(ChatError::BadCharacter));
    }

    #[test]
    fn history_keeps_the_last_messages_in_order() {
        let n = parse_nickname("n").unwrap();
        let p = ParticipantId::from_u64(1);
        let mut h = ChatHistory::new(3);
        for i in 0..5 {
            let m = h.push(
                p,
                n.clone(),
                parse_chat_text(&format!("m{i}"), 10).unwrap(),
                i,
            );
            assert_eq!(m.id, i + 1);
        }
        let kept: Vec<_> = h.recent().iter().map(|m| m.id).collect();
        assert_eq!(kept, vec![3, 4, 5]);
        let mut none = ChatHistory::new(0);
        assert_eq!(none.push(p, n, parse_chat_text("x", 10).unwrap(), 0).id, 1);
        assert!(none.recent().is_empty());
    }
}
