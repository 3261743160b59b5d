//! Typed upgrade events.

use openledger_core::{Event, TypedEvent};

/// A scheduled upgrade plan was applied (kind `upgrade`).
pub struct UpgradeApplied {
    /// Plan name.
    pub name: String,
    /// Height at which it was applied.
    pub height: u64,
}

impl TypedEvent for UpgradeApplied {
    fn into_event(self) -> Event {
        Event::new("upgrade").attr("name", self.name).attr("height", self.height.to_string())
    }
}
