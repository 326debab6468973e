//! The rules for room names and nicknames (docs/protocol.md, "Names").

use crate::privacy::{Nickname, RoomName};
use unicode_normalization::UnicodeNormalization;

pub const ROOM_MAX_CHARS: usize = 64;
pub const NICKNAME_MAX_CHARS: usize = 32;

/// Paths the server itself serves; a room of that name could not be opened
/// by its URL.
const RESERVED_ROOMS: &[&str] = &["assets", "ws", "healthz", "privacy", "metrics"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    Empty,
    TooLong,
    BadCharacter,
    LeadingDot,
    Reserved,
}

impl NameError {
    /// The sentence a participant reads.
    pub fn room_message(self) -> String {
        match self {
            NameError::Empty => "The room name is empty.".into(),
            NameError::TooLong => format!("A room name has at most {ROOM_MAX_CHARS} characters."),
            NameError::BadCharacter => {
                "A room name may contain only letters, digits, '-', '_' and '.'.".into()
            }
            NameError::LeadingDot => "A room name must not start with '.'.".into(),
            NameError::Reserved => "This name is used by the server itself; pick another.".into(),
        }
    }

    pub fn nickname_message(self) -> String {
        match self {
            NameError::Empty => "The nickname is empty.".into(),
            NameError::TooLong => {
                format!("A nickname has at most {NICKNAME_MAX_CHARS} characters.")
            }
            NameError::BadCharacter => {
                "A nickname must not contain control or text-direction characters.".into()
            }
            NameError::LeadingDot | NameError::Reserved => "This nickname is not allowed.".into(),
        }
    }
}

/// Normalises (NFC, lower case, trimmed) and checks a room name.
pub fn parse_room_name(raw: &str) -> Result<RoomName, NameError> {
    let name: String = raw.trim().nfc().collect::<String>().to_lowercase();
    // to_lowercase can denormalise (e.g. some Greek forms); normalise again.
    let name: String = name.nfc().collect();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > ROOM_MAX_CHARS {
        return Err(NameError::TooLong);
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(NameError::BadCharacter);
    }
    if name.starts_with('.') {
        return Err(NameError::LeadingDot);
    }
    if RESERVED_ROOMS.contains(&name.as_str()) {
        return Err(NameError::Reserved);
    }
    Ok(RoomName::from_validated(name))
}

/// Normalises (NFC, white space collapsed, trimmed) and checks a nickname.
pub fn parse_nickname(raw: &str) -> Result<Nickname, NameError> {
    let normalised: String = raw.nfc().collect();
    let mut name = String::with_capacity(normalised.len());
    for word in normalised.split_whitespace() {
        if !name.is_empty() {
            name.push(' ');
        }
        name.push_str(word);
    }
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > NICKNAME_MAX_CHARS {
        return Err(NameError::TooLong);
    }
    if name.chars().any(is_forbidden_in_nickname) {
        return Err(NameError::BadCharacter);
    }
    Ok(Nickname::from_validated(name))
}

/// Control characters and the bidirectional overrides/isolates, which could
/// make a nickname display as something else. The zero-width joiner stays
/// allowed: emoji sequences need it.
fn is_forbidden_in_nickname(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200E}' | '\u{200F}'            // LRM, RLM
            | '\u{202A}'..='\u{202E}'          // embeddings and overrides
            | '\u{2066}'..='\u{2069}'          // isolates
            | '\u{061C}'                       // Arabic letter mark
            | '\u{FEFF}'                       // BOM / zero-width no-break space
            | '\u{200B}'                       // zero-width space
            | '\u{FFF9}'..='\u{FFFB}') // interlinear annotation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_normalise() {
        let r = parse_room_name("  Kaffee-Küche ").unwrap();
        assert_eq!(r.expose_personal(), "kaffee-küche");
        // Decomposed ü (u + combining diaeresis) is the same room.
        let d = parse_room_name("KAFFEE-KU\u{0308}CHE").unwrap();
        assert_eq!(r, d);
    }

    #[test]
    fn room_names_refused() {
        assert_eq!(parse_room_name("   "), Err(NameError::Empty));
        assert_eq!(parse_room_name(&"a".repeat(65)), Err(NameError::TooLong));
        assert!(parse_room_name(&"a".repeat(64)).is_ok());
        assert_eq!(parse_room_name("a b"), Err(NameError::BadCharacter));
        assert_eq!(parse_room_name("a/b"), Err(NameError::BadCharacter));
        assert_eq!(parse_room_name("<script>"), Err(NameError::BadCharacter));
        assert_eq!(parse_room_name(".hidden"), Err(NameError::LeadingDot));
        assert_eq!(parse_room_name("Privacy"), Err(NameError::Reserved));
        assert_eq!(parse_room_name("ws"), Err(NameError::Reserved));
    }

    #[test]
    fn nicknames_normalise() {
        let n = parse_nickname("  Anna \t  Lena ").unwrap();
        assert_eq!(n.expose_personal(), "Anna Lena");
        let n = parse_nickname("<img src=x onerror=alert(1)>").unwrap();
        assert_eq!(n.expose_personal(), "<img src=x onerror=alert(1)>");
        // A family emoji is joined with ZWJ and stays allowed.
        assert!(parse_nickname("👩\u{200D}👩\u{200D}👧").is_ok());
    }

    #[test]
    fn nicknames_refused() {
        assert_eq!(parse_nickname(" \n "), Err(NameError::Empty));
        assert_eq!(parse_nickname(&"x".repeat(33)), Err(NameError::TooLong));
        assert!(parse_nickname(&"ü".repeat(32)).is_ok());
        assert_eq!(
            parse_nickname("evil\u{202E}gnp"),
            Err(NameError::BadCharacter)
        );
        assert_eq!(parse_nickname("bell\u{7}"), Err(NameError::BadCharacter));
    }
}
