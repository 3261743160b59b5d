//! Typed datanet events. Every attribute is indexed, so `tx_search` finds, say, every
//! contribution to a datanet (`contribution_submitted.datanet_id='1'`).

use openledger_core::typed_events;

typed_events! {
    /// A datanet was created.
    DatanetCreated = "datanet_created" {
        /// New id.
        datanet_id: u64,
        /// Owner.
        owner: String,
        /// Name.
        name: String,
    }

    /// A datanet was changed by its owner.
    DatanetUpdated = "datanet_updated" {
        /// Datanet.
        datanet_id: u64,
        /// Owner after the update.
        owner: String,
        /// Curation epoch after the update.
        curation_epoch: u64,
    }

    /// Rows were submitted.
    ContributionSubmitted = "contribution_submitted" {
        /// Datanet.
        datanet_id: u64,
        /// New contribution id.
        contribution_id: u64,
        /// Contributor.
        contributor: String,
        /// First row id.
        first_row_id: u64,
        /// Rows.
        row_count: u64,
        /// Bond escrowed (`100uopen`).
        bond: String,
    }

    /// A review (a decision, or one curator's vote).
    ContributionReviewed = "contribution_reviewed" {
        /// Datanet.
        datanet_id: u64,
        /// Contribution.
        contribution_id: u64,
        /// Reviewer.
        reviewer: String,
        /// Accept or reject.
        accept: bool,
        /// Reason.
        reason: String,
    }

    /// A contribution was accepted or rejected.
    ContributionDecided = "contribution_decided" {
        /// Datanet.
        datanet_id: u64,
        /// Contribution.
        contribution_id: u64,
        /// Contributor.
        contributor: String,
        /// `CONTRIBUTION_STATUS_ACCEPTED` / `CONTRIBUTION_STATUS_REJECTED`.
        status: String,
        /// Rows credited (0 when rejected).
        rows_credited: u64,
        /// Bond returned (uopen).
        bond_returned: u128,
        /// Bond burned (uopen).
        bond_burned: u128,
    }

    /// A version was published.
    VersionPublished = "version_published" {
        /// Datanet.
        datanet_id: u64,
        /// Version number.
        version: u64,
        /// Hex Merkle root.
        merkle_root: String,
        /// Rows.
        row_count: u64,
    }

    /// Governance delisted a datanet.
    DatanetDelisted = "datanet_delisted" {
        /// Datanet.
        datanet_id: u64,
        /// Reason.
        reason: String,
    }

    /// Governance delisted a row.
    RowDelisted = "row_delisted" {
        /// Datanet.
        datanet_id: u64,
        /// Row.
        row_id: u64,
        /// Reason.
        reason: String,
    }
}
