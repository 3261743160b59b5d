//! Typed datanet events. Every attribute is indexed, so `tx_search` finds, say, every
//! contribution to a datanet (`contribution_submitted.datanet_id='1'`).

use openledger_core::{Event, TypedEvent};

/// A datanet was created.
pub struct DatanetCreated {
    /// New id.
    pub datanet_id: u64,
    /// Owner.
    pub owner: String,
    /// Name.
    pub name: String,
}

/// A datanet was changed by its owner.
pub struct DatanetUpdated {
    /// Datanet.
    pub datanet_id: u64,
    /// Owner after the update.
    pub owner: String,
    /// Curation epoch after the update.
    pub curation_epoch: u64,
}

/// Rows were submitted.
pub struct ContributionSubmitted {
    /// Datanet.
    pub datanet_id: u64,
    /// New contribution id.
    pub contribution_id: u64,
    /// Contributor.
    pub contributor: String,
    /// First row id.
    pub first_row_id: u64,
    /// Rows.
    pub row_count: u64,
    /// Bond escrowed (`100uopen`).
    pub bond: String,
}

/// A review (a decision, or one curator's vote).
pub struct ContributionReviewed {
    /// Datanet.
    pub datanet_id: u64,
    /// Contribution.
    pub contribution_id: u64,
    /// Reviewer.
    pub reviewer: String,
    /// Accept or reject.
    pub accept: bool,
    /// Reason.
    pub reason: String,
}

/// A contribution was accepted or rejected.
pub struct ContributionDecided {
    /// Datanet.
    pub datanet_id: u64,
    /// Contribution.
    pub contribution_id: u64,
    /// Contributor.
    pub contributor: String,
    /// `CONTRIBUTION_STATUS_ACCEPTED` / `CONTRIBUTION_STATUS_REJECTED`.
    pub status: String,
    /// Rows credited (0 when rejected).
    pub rows_credited: u64,
    /// Bond returned (uopen).
    pub bond_returned: u128,
    /// Bond burned (uopen).
    pub bond_burned: u128,
}

/// A version was published.
pub struct VersionPublished {
    /// Datanet.
    pub datanet_id: u64,
    /// Version number.
    pub version: u64,
    /// Hex Merkle root.
    pub merkle_root: String,
    /// Rows.
    pub row_count: u64,
}

/// Governance delisted a datanet.
pub struct DatanetDelisted {
    /// Datanet.
    pub datanet_id: u64,
    /// Reason.
    pub reason: String,
}

/// Governance delisted a row.
pub struct RowDelisted {
    /// Datanet.
    pub datanet_id: u64,
    /// Row.
    pub row_id: u64,
    /// Reason.
    pub reason: String,
}

impl TypedEvent for DatanetCreated {
    fn into_event(self) -> Event {
        Event::new("datanet_created").attr("datanet_id", self.datanet_id.to_string()).attr("owner", self.owner).attr("name", self.name)
    }
}

impl TypedEvent for DatanetUpdated {
    fn into_event(self) -> Event {
        Event::new("datanet_updated")
            .attr("datanet_id", self.datanet_id.to_string())
            .attr("owner", self.owner)
            .attr("curation_epoch", self.curation_epoch.to_string())
    }
}

impl TypedEvent for ContributionSubmitted {
    fn into_event(self) -> Event {
        Event::new("contribution_submitted")
            .attr("datanet_id", self.datanet_id.to_string())
            .attr("contribution_id", self.contribution_id.to_string())
            .attr("contributor", self.contributor)
            .attr("first_row_id", self.first_row_id.to_string())
            .attr("row_count", self.row_count.to_string())
            .attr("bond", self.bond)
    }
}

impl TypedEvent for ContributionReviewed {
    fn into_event(self) -> Event {
        Event::new("contribution_reviewed")
            .attr("datanet_id", self.datanet_id.to_string())
            .attr("contribution_id", self.contribution_id.to_string())
            .attr("reviewer", self.reviewer)
            .attr("accept", self.accept.to_string())
            .attr("reason", self.reason)
    }
}

impl TypedEvent for ContributionDecided {
    fn into_event(self) -> Event {
        Event::new("contribution_decided")
            .attr("datanet_id", self.datanet_id.to_string())
            .attr("contribution_id", self.contribution_id.to_string())
            .attr("contributor", self.contributor)
            .attr("status", self.status)
            .attr("rows_credited", self.rows_credited.to_string())
            .attr("bond_returned", self.bond_returned.to_string())
            .attr("bond_burned", self.bond_burned.to_string())
    }
}

impl TypedEvent for VersionPublished {
    fn into_event(self) -> Event {
        Event::new("version_published")
            .attr("datanet_id", self.datanet_id.to_string())
            .attr("version", self.version.to_string())
            .attr("merkle_root", self.merkle_root)
            .attr("row_count", self.row_count.to_string())
    }
}

impl TypedEvent for DatanetDelisted {
    fn into_event(self) -> Event {
        Event::new("datanet_delisted").attr("datanet_id", self.datanet_id.to_string()).attr("reason", self.reason)
    }
}

impl TypedEvent for RowDelisted {
    fn into_event(self) -> Event {
        Event::new("row_delisted")
            .attr("datanet_id", self.datanet_id.to_string())
            .attr("row_id", self.row_id.to_string())
            .attr("reason", self.reason)
    }
}
