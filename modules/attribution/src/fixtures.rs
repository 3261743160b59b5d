//! Test and benchmark fixtures (not part of the module's API): writes datanet state directly
//! through the datanet keeper and its keys, so attribution can be exercised without running the
//! datanet's messages, and no-op funds traits.

use openledger_core::{AbciError, Address, Coin, StateError, StateWrite, StateWriteExt};
use openledger_datanet::state_key as dkey;
use openledger_datanet::DatanetKeeper;
use openledger_proto::openledger::datanet::v1 as dpb;

/// A datanet bank that moves nothing (fixtures never escrow).
#[derive(Debug, Default)]
pub struct NoBank;

impl openledger_datanet::BankKeeper for NoBank {
    fn send(&self, _: &mut dyn StateWrite, _: &Address, _: &Address, _: &[Coin]) -> Result<(), AbciError> {
        Ok(())
    }
    fn burn(&self, _: &mut dyn StateWrite, _: &Address, _: &[Coin]) -> Result<(), AbciError> {
        Ok(())
    }
}

/// Writes datanet `id` with `rows` (contributor, bytes), row ids from 1, one contribution per run
/// of consecutive rows of the same contributor (at most `per_contribution` rows each), all
/// accepted.
pub fn write_datanet(
    dk: &DatanetKeeper,
    state: &mut dyn StateWrite,
    id: u64,
    rows: &[(Address, Vec<u8>)],
    per_contribution: usize,
) -> Result<(), StateError> {
    let mut next_row = 1u64;
    let mut next_contribution = 1u64;
    let mut i = 0usize;
    while i < rows.len() {
        let who = &rows[i].0;
        let mut j = i;
        while j < rows.len() && &rows[j].0 == who && j - i < per_contribution.max(1) {
            j += 1;
        }
        let c = dpb::Contribution {
            datanet_id: id,
            id: next_contribution,
            contributor: who.to_bech32(),
            first_row_id: next_row,
            row_count: (j - i) as u64,
            status: dpb::ContributionStatus::Accepted as i32,
            ..Default::default()
        };
        dk.set_contribution(state, &c)?;
        for row in &rows[i..j] {
            state.put_proto(
                dkey::row(id, next_row),
                &dpb::Row { contribution_id: next_contribution, data: row.1.clone(), delisted: false },
            )?;
            next_row += 1;
        }
        next_contribution += 1;
        i = j;
    }
    dk.set_datanet(
        state,
        &dpb::Datanet {
            id,
            owner: Address::from_bytes(&[9; 20]).map(|a| a.to_bech32()).unwrap_or_default(),
            name: format!("datanet {id}"),
            next_row_id: next_row,
            next_contribution_id: next_contribution,
            accepted_rows: rows.len() as u64,
            ..Default::default()
        },
    )
}

/// Publishes the next version of datanet `id` over every stored, not delisted row (like
/// `MsgPublishVersion`, without the Merkle root). Returns the version number.
pub fn publish(dk: &DatanetKeeper, state: &mut dyn StateWrite, id: u64) -> Result<u64, StateError> {
    let Some(mut d) = dk.datanet(state, id)? else { return Ok(0) };
    let mut segments: Vec<dpb::Segment> = Vec::new();
    let mut count = 0u64;
    let mut total_bytes = 0u64;
    for row_id in 1..d.next_row_id {
        let Some(row) = dk.row(state, id, row_id)? else { continue };
        if row.delisted {
            continue;
        }
        count += 1;
        total_bytes += row.data.len() as u64;
        match segments.last_mut() {
            Some(s) if s.contribution_id == row.contribution_id && s.first_row_id + s.row_count == row_id => s.row_count += 1,
            _ => segments.push(dpb::Segment { first_row_id: row_id, row_count: 1, contribution_id: row.contribution_id }),
        }
    }
    let version = d.latest_version + 1;
    state.put_proto(
        dkey::version(id, version),
        &dpb::Version { datanet_id: id, version, row_count: count, total_bytes, ..Default::default() },
    )?;
    state.put_proto(dkey::segments(id, version), &dpb::VersionSegments { segments })?;
    d.latest_version = version;
    dk.set_datanet(state, &d)?;
    Ok(version)
}

/// Marks a row delisted (as governance's MsgDelistRow does).
pub fn delist_row(dk: &DatanetKeeper, state: &mut dyn StateWrite, id: u64, row_id: u64) -> Result<(), StateError> {
    if let Some(mut row) = dk.row(state, id, row_id)? {
        row.delisted = true;
        state.put_proto(dkey::row(id, row_id), &row)?;
    }
    Ok(())
}

/// Marks a datanet delisted.
pub fn delist_datanet(dk: &DatanetKeeper, state: &mut dyn StateWrite, id: u64) -> Result<(), StateError> {
    if let Some(mut d) = dk.datanet(state, id)? {
        d.delisted = true;
        dk.set_datanet(state, &d)?;
    }
    Ok(())
}
