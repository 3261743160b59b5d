//! Typed inference events. Every attribute is indexed, so `tx_search` finds, say, a request's
//! result (`inference_result.request_id='7'`).

use openledger_core::{typed_events, Event, TypedEvent};

typed_events! {
    /// A request was accepted and its fee escrowed.
    RequestCreated = "inference_request" {
        /// New id.
        request_id: u64,
        /// Requester.
        requester: String,
        /// Base model.
        base_model_id: u64,
        /// Adapter (0 = none).
        adapter_id: u64,
        /// Escrowed fee (uopen).
        fee: u128 => format!("{}uopen", fee),
        /// Refund height.
        deadline: u64,
    }

    /// An agreed result was applied and the fee split.
    ResultApplied = "inference_result" {
        /// Request.
        request_id: u64,
        /// Hex output hash.
        output_hash: String,
        /// Tokens generated.
        token_count: u32,
        /// Agreeing power.
        agreeing_power: i64,
        /// Eligible power.
        eligible_power: i64,
        /// To contributors.
        paid_contributors: u128 => format!("{}uopen", paid_contributors),
        /// To the owner.
        paid_owner: u128 => format!("{}uopen", paid_owner),
        /// To executors.
        paid_executors: u128 => format!("{}uopen", paid_executors),
        /// To the community pool.
        paid_community: u128 => format!("{}uopen", paid_community),
    }

    /// A request passed its deadline unanswered and was refunded.
    RequestExpired = "inference_expired" {
        /// Request.
        request_id: u64,
        /// Requester.
        requester: String,
        /// Refunded amount (uopen).
        refunded: u128 => format!("{}uopen", refunded),
    }

    /// A validator reported a different output than the agreed one and was slashed and jailed.
    ValidatorSlashed = "inference_slash" {
        /// Operator.
        validator: String,
        /// Request.
        request_id: u64,
        /// Fraction slashed.
        fraction: String,
    }
}

typed_events! {
    /// A validator signed a fine-tune training report that differs from the attested one and
    /// was slashed and jailed.
    TrainingValidatorSlashed = "training_slash" {
        /// Operator.
        validator: String,
        /// Fine-tune job.
        job_id: u64,
        /// Fraction slashed.
        fraction: String,
    }
}

/// A validator (re-)registered the models its executor serves.
pub struct ExecutorRegistered {
    /// Operator.
    pub validator: String,
    /// Models.
    pub base_model_ids: Vec<u64>,
    /// Declared hardware class (empty: none).
    pub hardware_class: String,
}

impl TypedEvent for ExecutorRegistered {
    fn into_event(self) -> Event {
        let ids: Vec<String> = self.base_model_ids.iter().map(u64::to_string).collect();
        let event = Event::new("executor_registered").attr("validator", self.validator).attr("base_model_ids", ids.join(","));
        // Only when declared: a registration without one emits the same event as before the field.
        if self.hardware_class.is_empty() {
            event
        } else {
            event.attr("hardware_class", self.hardware_class)
        }
    }
}
