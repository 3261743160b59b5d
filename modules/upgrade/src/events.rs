//! Typed upgrade events.

use openledger_core::typed_events;

typed_events! {
    /// A scheduled upgrade plan was applied (kind `upgrade`).
    UpgradeApplied = "upgrade" {
        /// Plan name.
        name: String,
        /// Height at which it was applied.
        height: u64,
    }
}
