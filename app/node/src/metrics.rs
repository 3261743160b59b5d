//! What openledgerd tells Prometheus: counters and histograms of the node's own work (blocks,
//! txs by result code, gas, FinalizeBlock / Commit / CheckTx, inference requests by outcome,
//! executor latency, attribution). All local observations, never consensus data: the wall
//! clock is read here only. Rendered in the Prometheus text format (version 0.0.4) by
//! [`Metrics::render`], served by the node's metrics server (`metrics_addr` in app.toml).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

/// The process's metrics (one node per process, like a Prometheus client's default registry).
pub fn global() -> &'static Metrics {
    static METRICS: std::sync::OnceLock<Metrics> = std::sync::OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

/// Upper bounds of the duration histograms' buckets: microseconds, and the `le` label (seconds).
/// (Integers only: this crate is consensus code, where float arithmetic is linted out.)
const BUCKETS: [(u64, &str); 12] = [
    (1_000, "0.001"),
    (2_500, "0.0025"),
    (5_000, "0.005"),
    (10_000, "0.01"),
    (25_000, "0.025"),
    (50_000, "0.05"),
    (100_000, "0.1"),
    (250_000, "0.25"),
    (500_000, "0.5"),
    (1_000_000, "1"),
    (2_500_000, "2.5"),
    (10_000_000, "10"),
];

/// Microseconds as decimal seconds (`1.000250`).
pub fn seconds(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// Microseconds of a duration (saturating).
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
/// Distinct `(codespace, code)` pairs tracked (the rest count as `other`): bounds the series an
/// attacker's failing txs can create.
const MAX_CODES: usize = 256;

/// A cumulative histogram of durations.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum in microseconds.
    sum_us: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let us = micros(d);
        for (i, (bound, _)) in BUCKETS.iter().enumerate() {
            if us <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, (_, label)) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{le=\"{label}\"}} {}", self.buckets[i].load(Ordering::Relaxed));
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", seconds(self.sum_us.load(Ordering::Relaxed)));
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// The module events of one block that metrics follow, counted when the block is finalized (no
/// event is copied for it).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EventCounts {
    /// `inference_request`.
    pub requested: u64,
    /// `inference_result`.
    pub completed: u64,
    /// `inference_expired`.
    pub expired: u64,
    /// `inference_attributed`.
    pub attributed: u64,
}

impl EventCounts {
    /// Counts the event kinds that matter among `kinds`.
    pub fn count<'a>(kinds: impl Iterator<Item = &'a str>) -> Self {
        let mut c = Self::default();
        for kind in kinds {
            let counter = match kind {
                "inference_request" => &mut c.requested,
                "inference_result" => &mut c.completed,
                "inference_expired" => &mut c.expired,
                "inference_attributed" => &mut c.attributed,
                _ => continue,
            };
            *counter = counter.saturating_add(1);
        }
        c
    }
}

/// The node's metrics.
#[derive(Default)]
pub struct Metrics {
    /// Blocks committed.
    pub blocks: AtomicU64,
    /// Height of the last committed block.
    pub height: AtomicU64,
    /// Txs in committed blocks (the proposer's injected results tx included).
    pub txs: AtomicU64,
    /// Gas used by the txs of committed blocks.
    pub gas_used: AtomicU64,
    /// FinalizeBlock durations.
    pub finalize: Histogram,
    /// Commit durations.
    pub commit: Histogram,
    /// CheckTx durations (new txs).
    pub check_tx: Histogram,
    /// CheckTx durations of rechecks (the mempool's txs, run again after each Commit).
    pub recheck_tx: Histogram,
    /// CheckTx accepted / rejected.
    pub check_tx_ok: AtomicU64,
    /// CheckTx rejected.
    pub check_tx_rejected: AtomicU64,
    /// Inference requests created, answered, expired (from committed blocks' events).
    pub inference_requested: AtomicU64,
    /// Answered.
    pub inference_completed: AtomicU64,
    /// Refunded at their deadline.
    pub inference_expired: AtomicU64,
    /// Local executor calls (Execute) and their latency.
    pub executor: Histogram,
    /// Local executor calls that failed.
    pub executor_failures: AtomicU64,
    /// Attribution records written (paid inferences attributed).
    pub attributions: AtomicU64,
    /// Tx results by `(codespace, code)` ("" and 0 for success).
    results: Mutex<BTreeMap<(String, u32), u64>>,
}

impl Metrics {
    /// Counts one delivered tx result.
    pub fn tx_result(&self, codespace: &str, code: u32) {
        let mut results = self.results.lock();
        let key = if results.len() < MAX_CODES || results.contains_key(&(codespace.to_string(), code)) {
            (codespace.to_string(), code)
        } else {
            ("other".to_string(), 0)
        };
        *results.entry(key).or_insert(0) += 1;
    }

    /// Adds a committed block's counted events.
    pub fn block_events(&self, counts: &EventCounts) {
        self.inference_requested.fetch_add(counts.requested, Ordering::Relaxed);
        self.inference_completed.fetch_add(counts.completed, Ordering::Relaxed);
        self.inference_expired.fetch_add(counts.expired, Ordering::Relaxed);
        self.attributions.fetch_add(counts.attributed, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let mut counter = |name: &str, help: &str, v: &AtomicU64, kind: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}", v.load(Ordering::Relaxed));
        };
        counter("openledger_blocks_total", "Blocks committed by this node.", &self.blocks, "counter");
        counter("openledger_block_height", "Height of the last committed block.", &self.height, "gauge");
        counter("openledger_txs_total", "Txs in committed blocks.", &self.txs, "counter");
        counter("openledger_gas_used_total", "Gas used by the txs of committed blocks.", &self.gas_used, "counter");
        counter("openledger_checktx_accepted_total", "CheckTx calls that accepted the tx.", &self.check_tx_ok, "counter");
        counter("openledger_checktx_rejected_total", "CheckTx calls that rejected the tx.", &self.check_tx_rejected, "counter");
        counter(
            "openledger_inference_requests_total",
            "Inference requests accepted in committed blocks.",
            &self.inference_requested,
            "counter",
        );
        counter("openledger_inference_completed_total", "Inference requests answered.", &self.inference_completed, "counter");
        counter("openledger_inference_expired_total", "Inference requests refunded at their deadline.", &self.inference_expired, "counter");
        counter("openledger_executor_failures_total", "Calls to this node's executor that failed.", &self.executor_failures, "counter");
        counter("openledger_attributions_total", "Answered inferences attributed to datanet rows.", &self.attributions, "counter");
        let _ =
            writeln!(out, "# HELP openledger_tx_results_total Delivered txs by result code.\n# TYPE openledger_tx_results_total counter");
        for ((codespace, code), n) in self.results.lock().iter() {
            let _ = writeln!(out, "openledger_tx_results_total{{codespace=\"{codespace}\",code=\"{code}\"}} {n}");
        }
        self.finalize.render(&mut out, "openledger_finalize_block_seconds", "FinalizeBlock duration.");
        self.commit.render(&mut out, "openledger_commit_seconds", "Commit duration.");
        self.check_tx.render(&mut out, "openledger_checktx_seconds", "CheckTx duration (new txs).");
        self.recheck_tx.render(&mut out, "openledger_recheck_tx_seconds", "CheckTx duration of rechecks after a Commit.");
        let _ = writeln!(
            out,
            "# HELP openledger_signature_verifications_total Signature verifications computed (not answered from the verified-signature cache).\n# TYPE openledger_signature_verifications_total counter\nopenledger_signature_verifications_total {}",
            crate::ante::verified_signatures().computed()
        );
        self.executor.render(&mut out, "openledger_executor_execute_seconds", "Latency of this node's executor (Execute).");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_codes_and_histograms() {
        let m = Metrics::default();
        m.blocks.fetch_add(2, Ordering::Relaxed);
        m.tx_result("", 0);
        m.tx_result("sdk", 5);
        m.tx_result("sdk", 5);
        m.finalize.observe(Duration::from_millis(3));
        m.finalize.observe(Duration::from_millis(300));
        m.block_events(&EventCounts::count(["inference_request", "transfer", "inference_result"].into_iter()));
        let text = m.render();
        assert!(text.contains("openledger_blocks_total 2\n"), "{text}");
        assert!(text.contains("openledger_tx_results_total{codespace=\"sdk\",code=\"5\"} 2\n"), "{text}");
        assert!(text.contains("openledger_finalize_block_seconds_bucket{le=\"0.005\"} 1\n"), "{text}");
        assert!(text.contains("openledger_finalize_block_seconds_bucket{le=\"0.5\"} 2\n"), "{text}");
        assert!(text.contains("openledger_finalize_block_seconds_count 2\n"), "{text}");
        assert!(text.contains("openledger_inference_requests_total 1\n") && text.contains("openledger_inference_completed_total 1\n"));
    }

    #[test]
    fn result_codes_are_bounded() {
        let m = Metrics::default();
        for code in 0..(MAX_CODES as u32 + 50) {
            m.tx_result("spam", code);
        }
        assert_eq!(m.results.lock().len(), MAX_CODES + 1, "the rest count as other");
    }
}
