//! `--prove`: a state value with its ICS23 proof, checked against an app hash from a header that a
//! light client verified, so a result can be trusted without trusting the node that served it.
//!
//! 1. The value of a state key is read with `abci_query` (`/store/<module>/key`, prove=true) at
//!    height H; the node answers with an `ics23:jmt` proof.
//! 2. The app hash of the state after block H is in header H+1. That header is verified by a
//!    light client (`tendermint-light-client-verifier`, the verifier of tendermint-rs and Hermes):
//!    from a trusted header (`--trust-height` + `--trust-hash`, or the chain's first header when
//!    none is given — trust on first use, said so in the output), skipping forward with the 1/3
//!    trust threshold and bisecting when the validator set changed too much, each step checking
//!    the commit signatures of the untrusted header against the validator sets CometBFT serves.
//! 3. The proof is verified against that app hash with the JMT ICS23 spec: membership for a
//!    present value, non-membership for an absent one.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use openledger_server::rpc_client::CometRpc;
use prost::Message;
use serde_json::{json, Value};
use tendermint::block::signed_header::SignedHeader;
use tendermint::validator::{Info, Set};
use tendermint::Time;
use tendermint_light_client_verifier::options::Options;
use tendermint_light_client_verifier::types::{TrustThreshold, TrustedBlockState, UntrustedBlockState};
use tendermint_light_client_verifier::{ProdVerifier, Verdict, Verifier};

use crate::QueryFlags;

/// Longest wait for the header that commits the queried state (block H+1).
const NEXT_HEADER_WAIT: Duration = Duration::from_secs(60);
/// Most light-client steps one verification may take (bisection is logarithmic; this bounds a
/// node that keeps answering with headers that do not verify).
const MAX_STEPS: usize = 64;
/// Validators fetched per `/validators` page (CometBFT's maximum).
const VALIDATORS_PER_PAGE: usize = 100;

/// The trust anchor of the light client.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustFlags {
    /// Height of a header you trust (with --trust-hash); default: the chain's first header,
    /// trusted on first use.
    #[arg(long, requires = "trust_hash")]
    pub trust_height: Option<u64>,
    /// Hash (hex) of the header at --trust-height.
    #[arg(long)]
    pub trust_hash: Option<String>,
    /// How long a trusted header stays usable, in hours (must be below the unbonding period).
    #[arg(long, default_value_t = 336)]
    pub trusting_period_hours: u64,
}

/// A header with the validator sets the verifier needs.
struct Block {
    signed_header: SignedHeader,
    validators: Set,
    next_validators: Option<Set>,
}

impl Block {
    fn height(&self) -> u64 {
        self.signed_header.header.height.value()
    }
}

/// The verified answer.
pub struct Proven {
    /// Height the value was read at.
    pub height: u64,
    /// The value (None: the key is absent, proven so).
    pub value: Option<Vec<u8>>,
    /// What was verified, for printing.
    pub report: Value,
    /// Set when the value is absent but its absence could not be proven (and why).
    pub absence_unproven: Option<String>,
}

fn signed_header(rpc: &CometRpc, height: u64) -> anyhow::Result<SignedHeader> {
    let v = rpc.call("commit", json!({"height": height.to_string()}))?;
    let sh = v.get("signed_header").cloned().ok_or_else(|| anyhow!("commit {height}: no signed_header"))?;
    serde_json::from_value(sh).with_context(|| format!("commit {height}: unreadable signed header"))
}

fn validator_set(rpc: &CometRpc, height: u64) -> anyhow::Result<Set> {
    let mut all: Vec<Info> = Vec::new();
    for page in 1.. {
        let v = rpc.call(
            "validators",
            json!({"height": height.to_string(), "page": page.to_string(), "per_page": VALIDATORS_PER_PAGE.to_string()}),
        )?;
        let list = v.get("validators").cloned().ok_or_else(|| anyhow!("validators {height}: no list"))?;
        let infos: Vec<Info> = serde_json::from_value(list).with_context(|| format!("validators {height}: unreadable"))?;
        let total: usize = v.get("total").and_then(Value::as_str).and_then(|t| t.parse().ok()).unwrap_or(0);
        let got = infos.len();
        all.extend(infos);
        if got == 0 || all.len() >= total || page >= 100 {
            break;
        }
    }
    Ok(Set::without_proposer(all))
}

fn block(rpc: &CometRpc, height: u64, with_next: bool) -> anyhow::Result<Block> {
    let signed_header = signed_header(rpc, height)?;
    if signed_header.header.height.value() != height {
        bail!("asked for header {height}, got {}", signed_header.header.height);
    }
    let validators = validator_set(rpc, height)?;
    let next_validators = if with_next { Some(validator_set(rpc, height + 1)?) } else { None };
    Ok(Block { signed_header, validators, next_validators })
}

fn trusted_state(b: &Block) -> anyhow::Result<TrustedBlockState<'_>> {
    let next = b.next_validators.as_ref().ok_or_else(|| anyhow!("trusted block {} lacks its next validators", b.height()))?;
    Ok(TrustedBlockState {
        chain_id: &b.signed_header.header.chain_id,
        header_time: b.signed_header.header.time,
        height: b.signed_header.header.height,
        next_validators: next,
        next_validators_hash: b.signed_header.header.next_validators_hash,
    })
}

/// Verifies header `target` from `trusted` (skipping, bisecting on too little overlap); returns
/// the verified block and the heights it went through.
fn verify_header(rpc: &CometRpc, trusted: Block, target: u64, options: &Options) -> anyhow::Result<(Block, Vec<u64>)> {
    let verifier = ProdVerifier::default();
    let now = Time::now();
    if target == trusted.height() {
        return Ok((trusted, Vec::new()));
    }
    if target < trusted.height() {
        bail!("header {target} is below the trusted height {}", trusted.height());
    }
    let mut trusted = trusted;
    let mut path = Vec::new();
    let mut pending = vec![target];
    let mut steps = 0usize;
    while let Some(&h) = pending.last() {
        steps += 1;
        if steps > MAX_STEPS {
            bail!("light client gave up after {MAX_STEPS} steps");
        }
        // The target's next validators may not exist yet; intermediate blocks become trusted
        // and need theirs.
        let untrusted = block(rpc, h, h != target)?;
        let untrusted_state = UntrustedBlockState {
            signed_header: &untrusted.signed_header,
            validators: &untrusted.validators,
            next_validators: untrusted.next_validators.as_ref(),
        };
        match verifier.verify_update_header(untrusted_state, trusted_state(&trusted)?, options, now) {
            Verdict::Success => {
                path.push(h);
                pending.pop();
                trusted = untrusted;
            }
            Verdict::NotEnoughTrust(tally) => {
                let mid = trusted.height() + (h - trusted.height()) / 2;
                if mid == trusted.height() {
                    bail!("header {h} does not verify from header {}: {tally}", trusted.height());
                }
                pending.push(mid);
            }
            Verdict::Invalid(e) => bail!("header {h} failed light-client verification: {e}"),
        }
    }
    Ok((trusted, path))
}

/// Reads `key` of `module`'s store at the latest height with a proof and verifies it down to a
/// light-client-verified header.
pub fn query_proven(flags: &QueryFlags, trust: &TrustFlags, module: &str, key: &[u8]) -> anyhow::Result<Proven> {
    let rpc = CometRpc::new(&flags.node);
    let res = rpc.abci_query(&format!("/store/{module}/key"), key, flags.height, true)?;
    if res.code != 0 {
        bail!("query failed (codespace {}, code {}): {}", res.codespace, res.code, res.log);
    }
    let height = u64::try_from(res.height).map_err(|_| anyhow!("query answered at height {}", res.height))?;
    let ops =
        res.proof_ops.as_ref().and_then(|p| p.get("ops")).and_then(Value::as_array).ok_or_else(|| anyhow!("the node sent no proof"))?;
    let op = match ops.as_slice() {
        [op] => op,
        _ => bail!("expected one proof op, got {}", ops.len()),
    };
    let kind = op.get("type").and_then(Value::as_str).unwrap_or_default();
    if kind != "ics23:jmt" {
        bail!("unsupported proof type {kind:?}");
    }
    let data = op.get("data").and_then(Value::as_str).ok_or_else(|| anyhow!("proof op without data"))?;
    let data = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).context("proof data")?;
    let proof = ics23::CommitmentProof::decode(data.as_slice()).context("proof is not an ICS23 CommitmentProof")?;

    // The header that commits the state after block `height`.
    let target = height + 1;
    let waited = std::time::Instant::now();
    while rpc.latest_height()? < i64::try_from(target).unwrap_or(i64::MAX) {
        if waited.elapsed() > NEXT_HEADER_WAIT {
            bail!("block {target} (which commits the state of height {height}) did not appear within {NEXT_HEADER_WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let (anchor_height, pinned) = match (trust.trust_height, &trust.trust_hash) {
        (Some(h), Some(hash)) => (h, Some(hash.trim().to_ascii_uppercase())),
        _ => (1, None),
    };
    let anchor = block(&rpc, anchor_height, true)?;
    let anchor_hash = anchor.signed_header.header.hash().to_string();
    if let Some(pinned) = &pinned {
        if *pinned != anchor_hash {
            bail!("header {anchor_height} hashes to {anchor_hash}, not the trusted {pinned}");
        }
    }
    let options = Options {
        trust_threshold: TrustThreshold::ONE_THIRD,
        trusting_period: Duration::from_secs(trust.trusting_period_hours.saturating_mul(3600)),
        clock_drift: Duration::from_secs(10),
    };
    let (verified, path) = verify_header(&rpc, anchor, target, &options)?;
    let app_hash: [u8; 32] =
        verified.signed_header.header.app_hash.as_bytes().try_into().map_err(|_| anyhow!("app hash of header {target} is not 32 bytes"))?;
    let value = (!res.value.is_empty()).then(|| res.value.clone());
    if value.is_none() {
        if let Some(reason) = empty_neighbour(&proof) {
            let report = json!({
                "key": String::from_utf8_lossy(key),
                "height": height.to_string(),
                "value_present": false,
                "proof": format!("absence NOT proven: {reason}"),
                "app_hash": hex::encode_upper(app_hash),
                "header": {"height": target.to_string(), "hash": verified.signed_header.header.hash().to_string()},
            });
            return Ok(Proven { height, value: None, report, absence_unproven: Some(reason) });
        }
    }
    if !openledger_core::storage::verify_proof(&app_hash, key, value.as_deref(), &proof) {
        let kind = match &proof.proof {
            Some(ics23::commitment_proof::Proof::Exist(_)) => "an existence proof".to_string(),
            Some(ics23::commitment_proof::Proof::Nonexist(ne)) => format!(
                "a non-existence proof (neighbours {:?} and {:?})",
                ne.left.as_ref().map(|l| String::from_utf8_lossy(&l.key).into_owned()),
                ne.right.as_ref().map(|r| String::from_utf8_lossy(&r.key).into_owned())
            ),
            _ => "an unexpected proof".to_string(),
        };
        bail!(
            "the proof of {} ({kind}, read at height {height}) does not verify against the app hash {} of header {target}",
            String::from_utf8_lossy(key),
            hex::encode_upper(app_hash)
        );
    }
    let report = json!({
        "key": String::from_utf8_lossy(key),
        "height": height.to_string(),
        "value_present": value.is_some(),
        "proof": if value.is_some() { "ICS23 membership (JMT spec)" } else { "ICS23 non-membership (JMT spec)" },
        "app_hash": hex::encode_upper(app_hash),
        "header": {"height": target.to_string(), "hash": verified.signed_header.header.hash().to_string(), "chain_id": verified.signed_header.header.chain_id.to_string()},
        "trusted_header": {"height": anchor_height.to_string(), "hash": anchor_hash, "how": if pinned.is_some() { "given with --trust-hash" } else { "first header of the chain, trusted on first use (pin one with --trust-height/--trust-hash)" }},
        "light_client_path": path.iter().map(u64::to_string).collect::<Vec<_>>(),
    });
    Ok(Proven { height, value, report, absence_unproven: None })
}

/// Why a non-existence proof cannot be checked, if it cannot: ICS23 existence proofs require a
/// non-empty value, so absence next to a key that stores an empty value (the store's index
/// entries do) cannot be expressed in ICS23.
fn empty_neighbour(proof: &ics23::CommitmentProof) -> Option<String> {
    let Some(ics23::commitment_proof::Proof::Nonexist(ne)) = &proof.proof else { return None };
    [&ne.left, &ne.right].into_iter().flatten().find(|n| n.value.is_empty()).map(|n| {
        format!(
            "the neighbouring key {:?} stores an empty value, which an ICS23 existence proof cannot carry",
            String::from_utf8_lossy(&n.key)
        )
    })
}
