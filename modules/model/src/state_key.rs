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

/// Fine-tuning params (`FineTuneParams`); absent means the defaults.
pub const PARAMS: &[u8] = b"model/params";
/// Next fine-tune job id (`u64`).
pub const NEXT_JOB_ID: &[u8] = b"model/next_job_id";
/// Jobs queued or running (`u64` count).
pub const ACTIVE_JOB_COUNT: &[u8] = b"model/active_job_count";

/// Prefix of every fine-tune job.
pub const JOB_PREFIX: &[u8] = b"model/job/";

/// `model/job/{id:020}` → `FineTuneJob`.
pub fn job(id: u64) -> Vec<u8> {
    format!("model/job/{id:020}").into_bytes()
}

/// `model/jobs_by_status/{status:02}/` — jobs in one status.
pub fn jobs_by_status(status: i32) -> Vec<u8> {
    format!("model/jobs_by_status/{status:02}/").into_bytes()
}

/// `model/jobs_by_status/{status:02}/{id:020}` → job id.
pub fn job_by_status(status: i32, id: u64) -> Vec<u8> {
    format!("model/jobs_by_status/{status:02}/{id:020}").into_bytes()
}

/// `model/jobs_by_creator/{addr}/` — a creator's jobs.
pub fn jobs_by_creator(creator: &str) -> Vec<u8> {
    format!("model/jobs_by_creator/{creator}/").into_bytes()
}

/// `model/jobs_by_creator/{addr}/{id:020}` → job id.
pub fn job_by_creator(creator: &str, id: u64) -> Vec<u8> {
    format!("model/jobs_by_creator/{creator}/{id:020}").into_bytes()
}

/// Prefix of the deadline queue of active jobs.
pub const JOB_DEADLINE_PREFIX: &[u8] = b"model/job_deadline/";

/// `model/job_deadline/{height:020}/{id:020}` → job id: active jobs by deadline height.
pub fn job_deadline(height: u64, id: u64) -> Vec<u8> {
    format!("model/job_deadline/{height:020}/{id:020}").into_bytes()
}

/// Job id of a `…/{id:020}` index key.
pub fn id_from_key(key: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(key).ok()?;
    text.rsplit('/').next()?.parse().ok()
}

/// Deadline height of a [`job_deadline`] key.
pub fn deadline_from_key(key: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(key.strip_prefix(JOB_DEADLINE_PREFIX)?).ok()?;
    text.split('/').next()?.parse().ok()
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
        assert_eq!(id_from_key(&job_by_status(1, 42)), Some(42));
        assert_eq!(deadline_from_key(&job_deadline(7, 42)), Some(7));
        assert_eq!(id_from_key(&job_deadline(7, 42)), Some(42));
        assert!(job_deadline(9, 1) < job_deadline(10, 0));
    }
}
