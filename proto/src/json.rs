//! The chain's descriptor pool (the Cosmos SDK's descriptors plus ours) and the proto3 JSON
//! mapping of any message in it, with the SDK's conventions for genesis documents: proto field
//! names, 64-bit integers as strings, enums by name, bytes in base64, defaults written. An `Any`
//! with a Cosmos type URL (`/cosmos.bank.v1beta1.MsgSend`) is not supported by the mapping
//! library, so messages carrying arbitrary `Any`s (gov proposals) keep their protobuf bytes.

use std::sync::OnceLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

/// A `FileDescriptorSet` with its files kept as bytes.
#[derive(Clone, PartialEq, prost::Message)]
struct RawFileDescriptorSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

/// Adds the files of an encoded descriptor set the pool does not have yet. Each file is added
/// from its own bytes: decoding through `prost_types` would drop the `google.api.http` options
/// (extensions are unknown fields there), which the REST gateway reads.
pub fn add_files(pool: &mut DescriptorPool, encoded: &[u8]) -> Result<(), String> {
    let set = RawFileDescriptorSet::decode(encoded).map_err(|e| e.to_string())?;
    for raw in set.file {
        let name = prost_types::FileDescriptorProto::decode(raw.as_slice()).map_err(|e| e.to_string())?.name.unwrap_or_default();
        if pool.get_file_by_name(&name).is_none() {
            pool.decode_file_descriptor_proto(raw.as_slice()).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// A new pool of the SDK's descriptors plus ours (files the SDK set already has, such as
/// `cosmos/base/query/v1beta1/pagination.proto`, are taken from the SDK).
pub fn descriptor_pool() -> Result<DescriptorPool, String> {
    let mut pool = DescriptorPool::decode(crate::COSMOS_FILE_DESCRIPTOR_SET).map_err(|e| e.to_string())?;
    add_files(&mut pool, crate::FILE_DESCRIPTOR_SET)?;
    Ok(pool)
}

fn shared_pool() -> Result<&'static DescriptorPool, String> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(descriptor_pool).as_ref().map_err(Clone::clone)
}

/// `message` (of proto type `full_name`, e.g. `cosmos.gov.v1.Proposal`) in the proto3 JSON
/// mapping.
pub fn to_json<M: Message>(full_name: &str, message: &M) -> Result<serde_json::Value, String> {
    let pool = shared_pool()?;
    let descriptor = pool.get_message_by_name(full_name).ok_or_else(|| format!("unknown proto message {full_name}"))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).map_err(|e| format!("{full_name}: {e}"))?;
    let options = SerializeOptions::new().use_proto_field_name(true).skip_default_fields(false);
    dynamic.serialize_with_options(serde_json::value::Serializer, &options).map_err(|e| format!("{full_name}: {e}"))
}

/// The message of proto type `full_name` from its proto3 JSON mapping.
pub fn from_json<M: Message + Default>(full_name: &str, value: &serde_json::Value) -> Result<M, String> {
    let pool = shared_pool()?;
    let descriptor = pool.get_message_by_name(full_name).ok_or_else(|| format!("unknown proto message {full_name}"))?;
    let dynamic = DynamicMessage::deserialize(descriptor, value).map_err(|e| format!("{full_name}: {e}"))?;
    dynamic.transcode_to::<M>().map_err(|e| format!("{full_name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmos_sdk_proto::cosmos::gov::v1 as govpb;

    #[test]
    fn messages_round_trip_through_the_json_mapping_with_the_sdk_conventions() {
        let deposit = govpb::Deposit {
            proposal_id: 7,
            depositor: "open1a".into(),
            amount: vec![cosmos_sdk_proto::cosmos::base::v1beta1::Coin { denom: "uopen".into(), amount: "5".into() }],
        };
        let json = to_json("cosmos.gov.v1.Deposit", &deposit).expect("to json");
        assert_eq!(json["proposal_id"], "7", "64-bit integers as strings, proto field names");
        assert_eq!(json["amount"][0]["denom"], "uopen");
        let back: govpb::Deposit = from_json("cosmos.gov.v1.Deposit", &json).expect("from json");
        assert_eq!(back, deposit);
        let proposal = govpb::Proposal { id: 1, status: govpb::ProposalStatus::VotingPeriod as i32, ..Default::default() };
        let json = to_json("cosmos.gov.v1.Proposal", &proposal).expect("to json");
        assert_eq!(json["status"], "PROPOSAL_STATUS_VOTING_PERIOD", "enums by name");
        assert_eq!(json["title"], "", "defaults are written");
        assert!(to_json("no.such.Message", &proposal).is_err());
        assert!(from_json::<govpb::Deposit>("cosmos.gov.v1.Deposit", &serde_json::json!({"proposal_id": "x"})).is_err());
    }
}
