//! IBC events as ABCI events. ibc-rs builds them typed ([`IbcEvent`]: `create_client`,
//! `send_packet` with `packet_data_hex`, `fungible_token_packet`, …, ibc-go's names and
//! attributes, which relayers parse); this converts them into the chain's event type.

use ibc::core::handler::types::events::IbcEvent;
use ibc::core::host::types::error::HostError;
use openledger_core::Event;

/// One ibc-rs event as the chain's ABCI event.
pub fn to_event(event: IbcEvent) -> Result<Event, HostError> {
    let abci = tendermint::abci::Event::try_from(event).map_err(|e| HostError::invalid_state(format!("IBC event: {e}")))?;
    let mut out = Event::new(abci.kind);
    for attribute in &abci.attributes {
        let key = attribute.key_str().map_err(|e| HostError::invalid_state(format!("IBC event key: {e}")))?;
        let value = attribute.value_str().map_err(|e| HostError::invalid_state(format!("IBC event value: {e}")))?;
        out = out.attr(key, value);
    }
    Ok(out)
}
