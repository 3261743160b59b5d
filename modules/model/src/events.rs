//! Typed model registry events (every attribute indexed).

use openledger_core::typed_events;

typed_events! {
    /// A base model was registered.
    BaseModelRegistered = "base_model_registered" {
        /// New id.
        base_model_id: u64,
        /// Owner.
        owner: String,
        /// Weights hash.
        weights_hash: String,
    }

    /// An adapter was registered.
    AdapterRegistered = "adapter_registered" {
        /// New id.
        adapter_id: u64,
        /// Its base model.
        base_model_id: u64,
        /// Owner.
        owner: String,
        /// Adapter hash.
        adapter_hash: String,
        /// Pinned versions as `datanet:version`, comma separated.
        datanet_versions: String,
    }

    /// An inference price changed.
    InferencePriceSet = "inference_price_set" {
        /// `base_model` or `adapter`.
        kind: &'static str,
        /// Its id.
        id: u64,
        /// New price (`100uopen`).
        price: String,
    }
}

typed_events! {
    /// Governance delisted a base model or an adapter.
    ModelDelisted = "model_delisted" {
        /// `base_model` or `adapter`.
        kind: &'static str,
        /// Its id.
        id: u64,
        /// Why.
        reason: String,
    }
}

typed_events! {
    /// A fine-tune job was created (fee escrowed).
    FineTuneJobCreated = "fine_tune_job_created" {
        /// Job.
        job_id: u64,
        /// Creator.
        creator: String,
        /// Base model.
        base_model_id: u64,
        /// Datanet.
        datanet_id: u64,
        /// Version.
        datanet_version: u64,
        /// Hex config hash.
        config_hash: String,
        /// Fee (`1000uopen`).
        fee: String,
        /// Refund height.
        deadline_height: u64,
    }

    /// A validator's executor started training a queued job.
    FineTuneJobRunning = "fine_tune_job_running" {
        /// Job.
        job_id: u64,
    }

    /// Two thirds of the executors' power agreed on a job's result: adapter registered.
    FineTuneJobAttested = "fine_tune_job_attested" {
        /// Job.
        job_id: u64,
        /// New adapter.
        adapter_id: u64,
        /// Adapter hash.
        adapter_hash: String,
        /// Agreeing power.
        agreeing_power: i64,
        /// Eligible power.
        eligible_power: i64,
        /// Paid to executors (uopen).
        paid_executors: u128 => format!("{}uopen", paid_executors),
        /// Paid to contributors (uopen).
        paid_contributors: u128 => format!("{}uopen", paid_contributors),
        /// Paid to the community pool (uopen).
        paid_community: u128 => format!("{}uopen", paid_community),
    }

    /// Two thirds of the executors' power reported that a job could not be trained: refunded.
    FineTuneJobFailed = "fine_tune_job_failed" {
        /// Job.
        job_id: u64,
        /// Refunded (uopen).
        refunded: u128 => format!("{}uopen", refunded),
    }

    /// A job passed its deadline unattested: refunded.
    FineTuneJobExpired = "fine_tune_job_expired" {
        /// Job.
        job_id: u64,
        /// Creator.
        creator: String,
        /// Refunded (uopen).
        refunded: u128 => format!("{}uopen", refunded),
    }
}
