use std::collections::VecDeque;
use std::str::from_utf8;

use super::list::private::WordSized;
use super::{FeedbackMessageType, RtcpType, Ssrc};
use super::{ReportList, Rtcp, RtcpHeader, RtcpPacket, pad_bytes_to_word};

/// Multiple source descriptions (SDES).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptions {
    /// The descriptions.
    pub reports: Box<ReportList<Sdes>>,
}

/// funkraum patch: the parts of source descriptions sent, for the next
/// ones. Every sender report carries one (the CNAME of its stream) in a
/// boxed 31-entry list of about 31 KB and a `String`: two allocations,
/// and the box filled, per sender report.
#[derive(Debug, Default)]
pub(crate) struct SdesSpares {
    lists: Vec<Box<ReportList<Sdes>>>,
    texts: Vec<String>,
}

impl SdesSpares {
    /// Lists kept at most: each is about 31 KB, and sender reports'
    /// descriptions are put into one list as far as they fit
    /// (`StreamTx::create_sr_and_update`), so a few serve a whole round.
    const MAX_LISTS: usize = 4;
    /// Texts kept at most: one CNAME per stream sent, a few dozen bytes each.
    const MAX_TEXTS: usize = 64;
    /// Size up to which descriptions are merged when queued: under half
    /// of a datagram (about 280 words at str0m's MTU), so that what is
    /// merged always fits beside some reports. With 16-character CNAMEs
    /// that is 21 per list, 3 lists for a round of 48 streams.
    const PREMERGED_WORDS: usize = 128;

    /// Source descriptions of one SSRC with its CNAME, in kept parts
    /// where there are some.
    #[cfg(test)]
    pub(crate) fn cname(&mut self, ssrc: Ssrc, cname: &str) -> Descriptions {
        let mut reports = self.list();
        reports.push(self.cname_entry(ssrc, cname));
        Descriptions { reports }
    }

    /// Queues one SSRC's CNAME for a sender report: into the descriptions
    /// queued last while that stays small (`PREMERGED_WORDS`), in a new
    /// one otherwise. Writing would merge them anyway
    /// (`Rtcp::pack_pruning`); merged when queued, a round of sender
    /// reports needs a few lists instead of one per stream.
    pub(crate) fn queue_cname(&mut self, feedback: &mut VecDeque<Rtcp>, ssrc: Ssrc, cname: &str) {
        let entry = self.cname_entry(ssrc, cname);
        let queued = feedback.iter_mut().rev().find_map(|fb| match fb {
            Rtcp::SourceDescription(d) => Some(d),
            _ => None,
        });
        match queued {
            Some(d)
                if !d.reports.is_full()
                    && d.length_words() + entry.word_size() <= Self::PREMERGED_WORDS =>
            {
                d.reports.push(entry)
            }
            _ => {
                let mut reports = self.list();
                reports.push(entry);
                feedback.push_back(Rtcp::SourceDescription(Descriptions { reports }));
            }
        }
    }

    /// One SSRC's description with its CNAME, in a kept text if there is
    /// one.
    pub(crate) fn cname_entry(&mut self, ssrc: Ssrc, cname: &str) -> Sdes {
        let mut s = Sdes {
            ssrc,
            values: ReportList::new(),
        };
        s.values.push((SdesType::CNAME, self.text(cname)));
        s
    }

    /// An empty list, kept if there is one.
    fn list(&mut self) -> Box<ReportList<Sdes>> {
        self.lists
            .pop()
            .unwrap_or_else(|| Box::new(ReportList::new()))
    }

    /// `value` in a kept `String` if there is one.
    fn text(&mut self, value: &str) -> String {
        let mut text = self.texts.pop().unwrap_or_default();
        text.push_str(value);
        text
    }

    /// Keeps a text no longer needed.
    pub(crate) fn keep_text(&mut self, mut text: String) {
        if self.texts.len() < Self::MAX_TEXTS {
            text.clear();
            self.texts.push(text);
        }
    }

    /// Keeps the parts of descriptions sent (or emptied by merging).
    pub(crate) fn recycle(&mut self, mut descriptions: Descriptions) {
        descriptions
            .reports
            .drain_each(|sdes| self.keep_texts_of(sdes));
        self.keep_list(descriptions.reports);
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.lists.is_empty() && self.texts.is_empty()
    }

    /// Keeps an emptied list.
    pub(crate) fn keep_list(&mut self, list: Box<ReportList<Sdes>>) {
        debug_assert!(list.is_empty());
        if self.lists.len() < Self::MAX_LISTS {
            self.lists.push(list);
        }
    }

    /// Keeps the texts of one description.
    pub(crate) fn keep_texts_of(&mut self, mut sdes: Sdes) {
        sdes.values.drain_each(|(_, text)| self.keep_text(text));
    }
}

/// A single source description (SDES).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdes {
    pub ssrc: Ssrc,
    pub values: ReportList<(SdesType, String)>,
}

/// Types of SDES values.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, Eq, PartialEq)]
#[allow(missing_docs)]
pub enum SdesType {
    /// End of SDES list
    END = 0,
    /// Canonical name.
    CNAME = 1,
    /// User name
    NAME = 2,
    /// User's electronic mail address
    EMAIL = 3,
    /// User's phone number
    PHONE = 4,
    /// Geographic user location
    LOC = 5,
    /// Name of application or tool
    TOOL = 6,
    /// Notice about the source
    NOTE = 7,
    /// Private extensions
    PRIV = 8,
    /// Rtp stream ID.
    RtpStreamId = 12,
    /// Repaired rtp stream ID.
    RepairedRtpStreamId = 13,
    /// Who knows
    Unknown,
}

impl RtcpPacket for Descriptions {
    fn header(&self) -> RtcpHeader {
        RtcpHeader {
            rtcp_type: RtcpType::SourceDescription,
            feedback_message_type: FeedbackMessageType::SourceCount(self.reports.len() as u8),
            words_less_one: (self.length_words() - 1) as u16,
        }
    }

    fn length_words(&self) -> usize {
        // * header: 1
        // * size-per-item * items
        1 + self.reports.iter().map(|r| r.word_size()).sum::<usize>()
    }

    fn write_to(&self, buf: &mut [u8]) -> usize {
        self.header().write_to(buf);

        let mut buf = &mut buf[4..];
        let mut tot = 4;

        for r in &*self.reports {
            let n = r.write_to(buf);
            buf = &mut buf[n..];
            tot += n;
        }

        tot
    }
}

impl Sdes {
    fn write_to(&self, buf: &mut [u8]) -> usize {
        buf[..4].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut tot = 4;

        let mut buf = &mut buf[4..];
        for (t, v) in &self.values {
            let bytes = v.as_bytes();
            let len = bytes.len();

            buf[0] = *t as u8;
            buf[1] = len as u8;

            buf = &mut buf[2..];
            buf[..len].copy_from_slice(bytes);

            buf = &mut buf[len..];
            tot += 2 + len;
        }

        buf[0] = SdesType::END as u8;
        buf = &mut buf[1..];
        tot += 1;

        let pad = 4 - tot % 4;
        if pad < 4 {
            #[allow(clippy::needless_range_loop)]
            for i in 0..pad {
                buf[i] = SdesType::END as u8;
            }
            tot += pad;
        }

        assert!(tot % 4 == 0, "Sdes is padded to word boundary");

        tot
    }
}

impl WordSized for Sdes {
    fn word_size(&self) -> usize {
        let byte_size = 4
            + self
                .values
                .iter()
                // 2 here for 2 byte encoding of type + length
                .map(|(_, s)| 2 + s.len())
                .sum::<usize>()
            + 1; // 1 here for the end byte

        let padded = pad_bytes_to_word(byte_size);

        padded / 4
    }
}

impl From<u8> for SdesType {
    fn from(v: u8) -> Self {
        use SdesType::*;
        match v {
            0 => END,
            1 => CNAME,
            2 => NAME,
            3 => EMAIL,
            4 => PHONE,
            5 => LOC,
            6 => TOOL,
            7 => NOTE,
            8 => PRIV,
            12 => RtpStreamId,
            13 => RepairedRtpStreamId,
            _ => Unknown,
        }
    }
}

impl<'a> TryFrom<&'a [u8]> for Descriptions {
    type Error = &'static str;

    fn try_from(buf: &'a [u8]) -> Result<Self, Self::Error> {
        Descriptions::parse_into(buf, &mut SdesSpares::default())
    }
}

impl Descriptions {
    /// funkraum patch: parses into a list and texts kept in `spares`
    /// where there are some. `TryFrom` built the 31-entry list on the
    /// stack and moved it into a new box, and a new `String` per value.
    pub(crate) fn parse_into(buf: &[u8], spares: &mut SdesSpares) -> Result<Self, &'static str> {
        let mut reports = spares.list();

        let mut buf = buf;

        loop {
            if reports.len() == 31 {
                break;
            }
            // For some reason FF sends us a full SDES and then [0,0,0,0] at the end.
            // This can't be interpreted as SDES, so we just ignore it.
            if buf.len() < 8 {
                break;
            }
            let report = match Sdes::parse_into(buf, spares) {
                Ok(report) => report,
                Err(e) => {
                    spares.recycle(Descriptions { reports });
                    return Err(e);
                }
            };

            let len = report.word_size() * 4;

            reports.push(report);

            // word_size() pads up to a 32-bit boundary and may report more bytes
            // than remain for a trailing or truncated chunk. Guard against slicing
            // past the end (which would panic) and against a zero len that would
            // otherwise spin forever.
            if len == 0 || len >= buf.len() {
                break;
            }

            buf = &buf[len..];
        }

        Ok(Descriptions { reports })
    }
}

impl<'a> TryFrom<&'a [u8]> for Sdes {
    type Error = &'static str;

    fn try_from(buf: &'a [u8]) -> Result<Self, Self::Error> {
        Sdes::parse_into(buf, &mut SdesSpares::default())
    }
}

impl Sdes {
    fn parse_into(buf: &[u8], spares: &mut SdesSpares) -> Result<Self, &'static str> {
        if buf.len() < 8 {
            return Err("Less than 8 bytes for Sdes");
        }

        let ssrc = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]).into();
        let mut values = ReportList::new();

        let mut buf = &buf[4..];
        let mut abs = 0;

        loop {
            // SDES items are END-terminated rather than count-bounded, so a
            // malformed chunk could contain more than the ReportList capacity.
            // Stop at the cap rather than panicking on the 32nd push.
            if values.is_full() {
                break;
            }

            // Per RFC 3550 Section 6.5:
            // "The list of items in each chunk MUST be terminated by one or more null octets,
            // the first of which is interpreted as an item type of end of list.
            // No length octet follows the null item type octet, but additional null octets
            // MUST be included if needed to pad until the next 32-bit boundary."
            //
            // This means we need a special case when there's only a single END byte (0x00)
            // at the end of the buffer - it's a valid terminator despite not having a length byte.
            if buf.len() == 1 && buf[0] == SdesType::END as u8 {
                break;
            }

            if buf.len() < 2 {
                return Err("Less than 2 bytes for next Sdes value");
            }

            let stype: SdesType = buf[0].into();

            if matches!(stype, SdesType::END) {
                // The end of SDES.

                // Each chunk consists of an SSRC/CSRC identifier followed by a list of
                // zero or more items, which carry information about the SSRC/CSRC.
                // Each chunk starts on a 32-bit boundary.
                //
                // Items are contiguous, i.e., items are not individually padded to a
                // 32-bit boundary.  Text is not null terminated because some multi-
                // octet encodings include null octets.
                //
                // No length octet follows the null item type octet, but additional null
                // octets MUST be included if needed to pad until the next 32-bit
                // boundary.

                let pad = 4 - abs % 4;
                if pad < 4 && buf.len() < pad {
                    return Err("Not enough buf.len() for Sdes padding");
                }

                break;
            }

            let len = buf[1] as usize;

            if buf.len() < 2 + len {
                return Err("Not enough buf.len() for Sdes value");
            }
            buf = &buf[2..];
            abs += 2;

            if let Ok(value) = from_utf8(&buf[..len]) {
                values.push((stype, spares.text(value)));
            } else {
                // failed to read as utf-8. skip.
            }

            buf = &buf[len..];
            abs += len;
        }

        Ok(Sdes { ssrc, values })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// What str0m built for every sender report before the kept parts.
    fn fresh(ssrc: Ssrc, cname: &str) -> Descriptions {
        let mut s = Sdes {
            ssrc,
            values: ReportList::new(),
        };
        s.values.push((SdesType::CNAME, cname.to_string()));
        let mut d = Descriptions {
            reports: Box::new(ReportList::new()),
        };
        d.reports.push(s);
        d
    }

    #[test]
    fn funkraum_descriptions_in_kept_parts_are_the_same() {
        let mut spares = SdesSpares::default();
        let first = spares.cname(1.into(), "a-rather-long-cname-of-the-first");
        assert_eq!(first, fresh(1.into(), "a-rather-long-cname-of-the-first"));

        // Merged: the second's entry moves into the first, which is written;
        // both come back, one of them empty.
        let mut second = spares.cname(2.into(), "b");
        let mut merged = first.clone();
        merged
            .reports
            .append_all_possible(&mut second.reports, 1000);
        assert_eq!(merged.reports.len(), 2);
        spares.recycle(merged);
        spares.recycle(second);
        assert_eq!((spares.lists.len(), spares.texts.len()), (2, 2));
        assert!(spares.texts.iter().all(String::is_empty));

        // Built again from them: the same as fresh ones, old text gone.
        assert_eq!(spares.cname(3.into(), "c"), fresh(3.into(), "c"));
        assert_eq!(spares.cname(4.into(), "dd"), fresh(4.into(), "dd"));
        assert_eq!((spares.lists.len(), spares.texts.len()), (0, 0));
    }

    #[test]
    fn computed_and_write_to_equal() {
        let mut buf = vec![0; 1500];

        for i in 1usize..=255 {
            let mut r = ReportList::new();
            r.push((
                SdesType::CNAME,
                String::from_utf8_lossy(&vec![b'a'; i][..]).to_string(),
            ));
            let sdes = Sdes {
                ssrc: 1.into(),
                values: r,
            };
            assert_eq!(sdes.write_to(&mut buf), sdes.word_size() * 4);
        }
    }

    #[test]
    fn cname_serialize_deserialize() {
        let mut s1 = Sdes {
            ssrc: 1.into(),
            values: ReportList::new(),
        };
        s1.values.push((SdesType::CNAME, "abc123".into()));

        let mut buf = vec![0; 50];
        let n = s1.write_to(&mut buf);
        buf.truncate(n);

        println!("{buf:02x?}");

        let s2: Sdes = buf.as_slice().try_into().unwrap();

        assert_eq!(s1, s2);
    }
}
