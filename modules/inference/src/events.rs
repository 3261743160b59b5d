//! Typed inference events. Every attribute is indexed, so `tx_search` finds, say, a request's
//! result (`inference_result.request_id='7'`).

use openledger_core::{Event, TypedEvent};

/// A request was accepted and its fee escrowed.
pub struct RequestCreated {
    /// New id.
    pub request_id: u64,
    /// Requester.
    pub requester: String,
    /// Base model.
    pub base_model_id: u64,
    /// Adapter (0 = none).
    pub adapter_id: u64,
    /// Escrowed fee (uopen).
    pub fee: u128,
    /// Refund height.
    pub deadline: u64,
}

impl TypedEvent for RequestCreated {
    fn into_event(self) -> Event {
        Event::new("inference_request")
            .attr("request_id", self.request_id.to_string())
            .attr("requester", self.requester)
            .attr("base_model_id", self.base_model_id.to_string())
            .attr("adapter_id", self.adapter_id.to_string())
            .attr("fee", format!("{}uopen", self.fee))
            .attr("deadline", self.deadline.to_string())
    }
}

/// A validator (re-)registered the models its executor serves.
pub struct ExecutorRegistered {
    /// Operator.
    pub validator: String,
    /// Models.
    pub base_model_ids: Vec<u64>,
}

impl TypedEvent for ExecutorRegistered {
    fn into_event(self) -> Event {
        let ids: Vec<String> = self.base_model_ids.iter().map(u64::to_string).collect();
        Event::new("executor_registered").attr("validator", self.validator).attr("base_model_ids", ids.join(","))
    }
}

/// An agreed result was applied and the fee split.
pub struct ResultApplied {
    /// Request.
    pub request_id: u64,
    /// Hex output hash.
    pub output_hash: String,
    /// Tokens generated.
    pub token_count: u32,
    /// Agreeing power.
    pub agreeing_power: i64,
    /// Eligible power.
    pub eligible_power: i64,
    /// To contributors.
    pub paid_contributors: u128,
    /// To the owner.
    pub paid_owner: u128,
    /// To executors.
    pub paid_executors: u128,
    /// To the community pool.
    pub paid_community: u128,
}

impl TypedEvent for ResultApplied {
    fn into_event(self) -> Event {
        Event::new("inference_result")
            .attr("request_id", self.request_id.to_string())
            .attr("output_hash", self.output_hash)
            .attr("token_count", self.token_count.to_string())
            .attr("agreeing_power", self.agreeing_power.to_string())
            .attr("eligible_power", self.eligible_power.to_string())
            .attr("paid_contributors", format!("{}uopen", self.paid_contributors))
            .attr("paid_owner", format!("{}uopen", self.paid_owner))
            .attr("paid_executors", format!("{}uopen", self.paid_executors))
            .attr("paid_community", format!("{}uopen", self.paid_community))
    }
}

/// A request passed its deadline unanswered and was refunded.
pub struct RequestExpired {
    /// Request.
    pub request_id: u64,
    /// Requester.
    pub requester: String,
    /// Refunded amount (uopen).
    pub refunded: u128,
}

impl TypedEvent for RequestExpired {
    fn into_event(self) -> Event {
        Event::new("inference_expired")
            .attr("request_id", self.request_id.to_string())
            .attr("requester", self.requester)
            .attr("refunded", format!("{}uopen", self.refunded))
    }
}

/// A validator reported a different output than the agreed one and was slashed and jailed.
pub struct ValidatorSlashed {
    /// Operator.
    pub validator: String,
    /// Request.
    pub request_id: u64,
    /// Fraction slashed.
    pub fraction: String,
}

impl TypedEvent for ValidatorSlashed {
    fn into_event(self) -> Event {
        Event::new("inference_slash")
            .attr("validator", self.validator)
            .attr("request_id", self.request_id.to_string())
            .attr("fraction", self.fraction)
    }
}
