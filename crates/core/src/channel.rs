//! The channel that took a payment, as stored in `payments.channel` (and `reversals.channel`,
//! `unapplied_payments.channel`): one type instead of hand-built strings.
//!
//! [`Channel::as_db`] (and `Display`) give exactly the stored text; `FromStr` parses it back.
//! The channel reference (`channel_ref`) is the idempotency key within a channel.

use std::fmt;
use std::str::FromStr;

/// A payment channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// The Bill24 bank apps (`bill24`), reporting through the webhook.
    Bill24,
    /// A bank speaking the VA channel API (`va:{channel_id}`).
    Va(i64),
    /// A terminal network speaking the postpaid dialect (`postpaid:{channel_id}`).
    Postpaid(i64),
    /// A bank speaking Indonesia's SNAP VA standard (`snap:{channel_id}`).
    Snap(i64),
    /// The VA sandbox's mock payments (`sandbox`).
    Sandbox,
    /// Payments made from account credit by an operator (`credit`).
    Credit,
}

const BILL24: &str = "bill24";
const SANDBOX: &str = "sandbox";
const CREDIT: &str = "credit";
const VA: &str = "va";
const POSTPAID: &str = "postpaid";
const SNAP: &str = "snap";

/// A `payments.channel` text that names no [`Channel`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown payment channel `{0}`")]
pub struct UnknownChannel(pub String);

impl Channel {
    /// The stored text: `bill24`, `va:3`, `postpaid:2`, `snap:7`, `sandbox`, `credit`.
    pub fn as_db(&self) -> String {
        self.to_string()
    }

    /// Whether the biller's side names the payment (Bill24, account credit, the sandbox): its
    /// references are unique per organization. Otherwise it is a bank or terminal channel whose
    /// references are its own (unique per channel id).
    pub fn is_biller_side(&self) -> bool {
        match self {
            Channel::Bill24 | Channel::Credit | Channel::Sandbox => true,
            Channel::Va(_) | Channel::Postpaid(_) | Channel::Snap(_) => false,
        }
    }

    /// The registered channel (bank or terminal network) behind it, if any.
    pub fn channel_id(&self) -> Option<i64> {
        match self {
            Channel::Va(id) | Channel::Postpaid(id) | Channel::Snap(id) => Some(*id),
            Channel::Bill24 | Channel::Credit | Channel::Sandbox => None,
        }
    }

    /// Whether this is the sandbox's mock channel.
    pub fn is_sandbox(&self) -> bool {
        matches!(self, Channel::Sandbox)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Bill24 => f.write_str(BILL24),
            Channel::Va(id) => write!(f, "{VA}:{id}"),
            Channel::Postpaid(id) => write!(f, "{POSTPAID}:{id}"),
            Channel::Snap(id) => write!(f, "{SNAP}:{id}"),
            Channel::Sandbox => f.write_str(SANDBOX),
            Channel::Credit => f.write_str(CREDIT),
        }
    }
}

impl FromStr for Channel {
    type Err = UnknownChannel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownChannel(s.to_string());
        match s {
            BILL24 => return Ok(Channel::Bill24),
            SANDBOX => return Ok(Channel::Sandbox),
            CREDIT => return Ok(Channel::Credit),
            _ => {}
        }
        let (kind, digits) = s.split_once(':').ok_or_else(unknown)?;
        // Only the canonical decimal form round-trips (no sign, no leading zeros).
        let id: i64 = digits.parse().map_err(|_| unknown())?;
        if id < 0 || id.to_string() != digits {
            return Err(unknown());
        }
        match kind {
            VA => Ok(Channel::Va(id)),
            POSTPAID => Ok(Channel::Postpaid(id)),
            SNAP => Ok(Channel::Snap(id)),
            _ => Err(unknown()),
        }
    }
}

impl From<Channel> for String {
    fn from(channel: Channel) -> String {
        channel.as_db()
    }
}

impl PartialEq<str> for Channel {
    fn eq(&self, other: &str) -> bool {
        other.parse::<Channel>().is_ok_and(|c| c == *self)
    }
}

impl PartialEq<&str> for Channel {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stored_text_per_channel() {
        // (channel, stored text, biller side)
        let table = [
            (Channel::Bill24, "bill24", true),
            (Channel::Va(3), "va:3", false),
            (Channel::Postpaid(2), "postpaid:2", false),
            (Channel::Snap(7), "snap:7", false),
            (Channel::Sandbox, "sandbox", true),
            (Channel::Credit, "credit", true),
        ];
        for (channel, text, biller_side) in table {
            assert_eq!(channel.as_db(), text);
            assert_eq!(channel.to_string(), text);
            assert_eq!(String::from(channel), text);
            assert_eq!(text.parse::<Channel>(), Ok(channel));
            assert_eq!(channel.is_biller_side(), biller_side, "{text}");
            assert!(channel == text);
        }
        assert_eq!(Channel::Va(3).channel_id(), Some(3));
        assert_eq!(Channel::Bill24.channel_id(), None);
        assert!(Channel::Sandbox.is_sandbox());
        assert!(!Channel::Va(1).is_sandbox());
    }

    #[test]
    fn unknown_texts_are_refused() {
        for text in [
            "",
            "cli",
            "test",
            "va",
            "va:",
            "va:x",
            "va:-1",
            "va:+1",
            "va:01",
            "VA:1",
            "bill24:1",
            "postpaid:1:2",
            "sandbox ",
            "credit:1",
        ] {
            assert_eq!(
                text.parse::<Channel>(),
                Err(UnknownChannel(text.to_string())),
                "{text:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn ids_round_trip(id in 0i64..=i64::MAX) {
            for channel in [Channel::Va(id), Channel::Postpaid(id)] {
                prop_assert_eq!(channel.as_db().parse::<Channel>(), Ok(channel));
                prop_assert_eq!(channel.channel_id(), Some(id));
            }
        }
    }
}
