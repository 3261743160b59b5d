//! Every state key of the model module, in one place. Numbers are zero-padded to 20 digits so
//! prefix scans come out in numeric order.

/// Next base model id (`u64`).
pub const NEXT_BASE_MODEL_ID: &[u8] = b"model/next_base_model_id";
/// Next adapter id (`u64`).
pub const NEXT_ADAPTER_ID: &[u8] = b"model/next_adapter_id";

/// Prefix of every base model.
pub const BASE_MODEL_PREFIX: &[u8] = b"model/base/";

/// `model/base/{id:020}` → `BaseModel`.
pub fn base_model(id: u64) -> Vec<u8> {
    format!("model/base/{id:020}").into_bytes()
}

/// Prefix of every adapter.
pub const ADAPTER_PREFIX: &[u8] = b"model/adapter/";

/// `model/adapter/{id:020}` → `Adapter`.
pub fn adapter(id: u64) -> Vec<u8> {
    format!("model/adapter/{id:020}").into_bytes()
}

/// `model/weights_hash/{hex}` → base model id (`u64`): weights are registered once.
pub fn weights_hash(hash: &str) -> Vec<u8> {
    format!("model/weights_hash/{hash}").into_bytes()
}

/// `model/adapter_hash/{hex}` → adapter id (`u64`): adapter weights are registered once.
pub fn adapter_hash(hash: &str) -> Vec<u8> {
    format!("model/adapter_hash/{hash}").into_bytes()
}

/// `model/adapters_by_model/{m:020}/` — a base model's adapters.
pub fn adapters_by_model(base_model_id: u64) -> Vec<u8> {
    format!("model/adapters_by_model/{base_model_id:020}/").into_bytes()
}

/// `model/adapters_by_model/{m:020}/{a:020}` → adapter id.
pub fn adapter_by_model(base_model_id: u64, adapter_id: u64) -> Vec<u8> {
    format!("model/adapters_by_model/{base_model_id:020}/{adapter_id:020}").into_bytes()
}

/// `model/adapters_by_owner/{addr}/` — an owner's adapters.
pub fn adapters_by_owner(owner: &str) -> Vec<u8> {
    format!("model/adapters_by_owner/{owner}/").into_bytes()
}

/// `model/adapters_by_owner/{addr}/{a:020}` → adapter id.
pub fn adapter_by_owner(owner: &str, adapter_id: u64) -> Vec<u8> {
    format!("model/adapters_by_owner/{owner}/{adapter_id:020}").into_bytes()
}

/// `model/adapters_by_version/{d:020}/{v:020}/` — adapters pinning one datanet version.
pub fn adapters_by_version(datanet_id: u64, version: u64) -> Vec<u8> {
    format!("model/adapters_by_version/{datanet_id:020}/{version:020}/").into_bytes()
}

/// `model/adapters_by_version/{d:020}/{v:020}/{a:020}` → adapter id.
pub fn adapter_by_version(datanet_id: u64, version: u64, adapter_id: u64) -> Vec<u8> {
    format!("model/adapters_by_version/{datanet_id:020}/{version:020}/{adapter_id:020}").into_bytes()
}

/// `model/adapters_by_datanet/{d:020}/` — adapters pinning any version of a datanet.
pub fn adapters_by_datanet(datanet_id: u64) -> Vec<u8> {
    format!("model/adapters_by_datanet/{datanet_id:020}/").into_bytes()
}

/// `model/adapters_by_datanet/{d:020}/{a:020}` → adapter id.
pub fn adapter_by_datanet(datanet_id: u64, adapter_id: u64) -> Vec<u8> {
    format!("model/adapters_by_datanet/{datanet_id:020}/{adapter_id:020}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_readable_and_ordered() {
        assert_eq!(adapter(7), b"model/adapter/00000000000000000007".to_vec());
        assert!(adapter(9) < adapter(10));
        assert!(adapter_by_version(1, 2, 3).starts_with(&adapters_by_version(1, 2)));
        assert!(!adapter_by_version(1, 2, 3).starts_with(&adapters_by_version(1, 20)));
    }
}
