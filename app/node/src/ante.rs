//! The ante handler: everything a tx must pass before its messages run, in the SDK's decorator
//! order — extension options, basic validity, timeout, memo, size gas, fee (minimum gas price,
//! deduction to the fee collector), public keys, signature count and gas, sequence and
//! signature (SIGN_MODE_DIRECT and SIGN_MODE_LEGACY_AMINO_JSON), sequence increment.
//! It runs on the tx's metered ante layer: if it fails, the layer is dropped and nothing changes.

use base64::Engine;
use cosmos_sdk_proto::cosmos::tx::signing::v1beta1::SignMode;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{mode_info, AuthInfo, SignDoc, TxRaw};
use openledger_auth::keeper::{secp256k1_pubkey_any, SECP256K1_PUBKEY_TYPE_URL};
use openledger_auth::params::{fee_params, min_fee, params};
use openledger_core::coin::{coins_from_proto, format_coins, BASE_DENOM};
use openledger_core::error::sdk_codes;
use openledger_core::gas::KV_GAS_COSTS;
use openledger_core::{AbciError, Address, Coin, ErrorCode, Event, GasMeter, StateRead, StateWrite};
use prost::Message;

use crate::amino::StdSignDoc;
use crate::modules::{Modules, FEE_COLLECTOR};
use crate::tx::DecodedTx;

/// Which ABCI path runs the ante handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Mempool admission (CheckTx of a new tx).
    Check,
    /// CheckTx of type Recheck: CometBFT re-runs every tx left in the mempool after each
    /// Commit, with the same bytes it already admitted. Everything is checked again except that
    /// a signature this node already verified (a hit in [`VerifiedSignatures`]) is not verified
    /// a second time; gas and results are those of [`Mode::Check`].
    Recheck,
    /// Block execution (FinalizeBlock).
    Deliver,
    /// Gas estimation: no signature checks, no minimum fee, infinite gas.
    Simulate,
}

/// Block context the ante handler needs.
pub struct AnteContext<'a> {
    /// Keepers.
    pub modules: &'a Modules,
    /// Chain id (part of what is signed).
    pub chain_id: &'a str,
    /// Height of the block the tx is (or would be) in.
    pub height: u64,
    /// Which path.
    pub mode: Mode,
}

impl Mode {
    /// CheckTx, new or recheck: the ante handler only, on the mempool's state.
    pub fn is_mempool(self) -> bool {
        matches!(self, Mode::Check | Mode::Recheck)
    }
}

fn sdk(code: u32, log: impl Into<String>) -> AbciError {
    AbciError::sdk(code, log)
}

fn from_code(e: &dyn ErrorCode) -> AbciError {
    AbciError { codespace: e.codespace(), code: e.code(), log: e.to_string() }
}

fn gas(meter: &GasMeter, amount: u64, what: &str) -> Result<(), AbciError> {
    meter.charge(amount).map_err(|e| {
        sdk(sdk_codes::OUT_OF_GAS, format!("out of gas in location: {what}; gasWanted: {}, gasUsed: {}: out of gas", e.limit, e.wanted))
    })
}

/// Stand-in public key for a simulated tx whose signer has none yet (33 bytes, like a real
/// compressed key; the SDK uses a fixed key the same way). Never verified against anything.
const SIMULATION_PUBKEY: [u8; 33] = {
    let mut key = [0x11u8; 33];
    key[0] = 0x02;
    key
};

/// Decodes the secp256k1 key of an `Any` public key.
pub fn secp256k1_key(any: &cosmos_sdk_proto::Any) -> Result<Vec<u8>, AbciError> {
    if any.type_url != SECP256K1_PUBKEY_TYPE_URL {
        return Err(sdk(sdk_codes::INVALID_PUBKEY, format!("unsupported public key type {}: invalid pubkey", any.type_url)));
    }
    let key = cosmos_sdk_proto::cosmos::crypto::secp256k1::PubKey::decode(any.value.as_slice())
        .map_err(|e| sdk(sdk_codes::INVALID_PUBKEY, format!("malformed public key: {e}: invalid pubkey")))?;
    if key.key.len() != 33 {
        return Err(sdk(
            sdk_codes::INVALID_PUBKEY,
            format!("secp256k1 public key must be 33 bytes, got {}: invalid pubkey", key.key.len()),
        ));
    }
    Ok(key.key)
}

/// Verifies a 64-byte `r‖s` secp256k1 signature over `sha256(msg)`; high-S signatures are
/// rejected, as in the SDK (they are malleable).
///
/// Verification is libsecp256k1's (through the `secp256k1` crate), several times faster than
/// the pure-Rust `k256` the chain verified with before. Its accept/reject answer is the same as
/// [`verify_secp256k1_k256`]'s (the former implementation, kept as the test and fuzz reference)
/// for every input, byte for byte, because every rule the two libraries could differ on is
/// pinned here:
///
/// - Public key. k256's `from_sec1_bytes` takes SEC1 encodings: `0x02`/`0x03` ‖ x (33 bytes,
///   x < p and x³+7 a square), `0x04` ‖ x ‖ y (65 bytes, x, y < p, on the curve) and the compact
///   `0x05` ‖ x (33 bytes, decompressed to the even-y point, i.e. exactly `0x02` ‖ x); the
///   identity `0x00` (1 byte) parses but is refused as a public key, and every other tag or
///   length is refused. libsecp256k1's `ec_pubkey_parse` has the same rules for `0x02`/`0x03`
///   and `0x04` (`fe_set_b32_limit` refuses coordinates ≥ p, then the curve check), but it
///   refuses `0x05` and accepts the 65-byte "hybrid" tags `0x06`/`0x07`, which k256 refuses. So
///   [`parse_secp256k1_pubkey`] maps `0x05` ‖ x to `0x02` ‖ x and hands libsecp256k1 only the
///   tags k256 accepts. (The ante itself only passes 33-byte keys.)
/// - Signature. k256's `Signature::from_slice` takes exactly 64 bytes and refuses r or s = 0
///   or ≥ n. libsecp256k1's `ecdsa_signature_parse_compact` (64 bytes, length checked by the
///   crate) refuses r or s ≥ n (scalar overflow), and its `ecdsa_verify` refuses r or s = 0
///   (`ecdsa_sig_verify` returns 0 for a zero scalar), so the same inputs fail.
/// - High S. The old code refused `s > n/2` (k256's `normalize_s`, `Scalar::is_high`: s >
///   (n-1)/2) before verifying. libsecp256k1's `ecdsa_verify` refuses exactly the same s
///   (`scalar_is_high`: s > n/2 with n odd), so no normalization is done here: a high-S
///   signature fails either way.
/// - Message. Both take z = sha256(msg) as a 256-bit big-endian integer reduced mod n (k256's
///   `reduce_bytes`, libsecp256k1's `scalar_set_b32` with overflow reduction).
/// - The equation. Both compute R = z·s⁻¹·G + r·s⁻¹·Q, refuse R = ∞ (k256: the affine identity
///   has x = 0, which never equals a non-zero r; libsecp256k1: an explicit check) and accept
///   iff x(R) mod n = r (libsecp256k1 compares r and, when r + n < p, r + n with x(R) in the
///   field: the same thing, as x(R) < p < 2n).
///
/// `signature_cache_tests::libsecp256k1_agrees_with_k256_on_every_kind_of_input` checks the
/// equivalence over thousands of seeded inputs of every class above, and the `check_tx` fuzz
/// target compares both on every key and signature it makes.
pub fn verify_secp256k1(pubkey: &[u8], msg: &[u8], signature: &[u8]) -> bool {
    let Some(key) = parse_secp256k1_pubkey(pubkey) else { return false };
    let Ok(sig) = secp256k1::ecdsa::Signature::from_compact(signature) else { return false };
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(msg).into();
    secp256k1::ecdsa::verify(&sig, secp256k1::Message::from_digest(digest), &key).is_ok()
}

/// A SEC1 public key as libsecp256k1 parses it, limited to what k256's `from_sec1_bytes`
/// accepts (see [`verify_secp256k1`]): compressed `0x02`/`0x03`, compact `0x05` (as `0x02`),
/// uncompressed `0x04`; never the hybrid `0x06`/`0x07`.
fn parse_secp256k1_pubkey(bytes: &[u8]) -> Option<secp256k1::PublicKey> {
    if let Ok(compressed) = <[u8; 33]>::try_from(bytes) {
        let mut key = compressed;
        match key[0] {
            0x02 | 0x03 => {}
            0x05 => key[0] = 0x02,
            _ => return None,
        }
        return secp256k1::PublicKey::from_byte_array_compressed(key).ok();
    }
    if let Ok(uncompressed) = <[u8; 65]>::try_from(bytes) {
        if uncompressed[0] != 0x04 {
            return None;
        }
        return secp256k1::PublicKey::from_byte_array_uncompressed(uncompressed).ok();
    }
    None
}

/// The chain's former verifier, pure-Rust `k256`: the reference [`verify_secp256k1`] must
/// agree with on every input (unit tests, the `check_tx` fuzz target, the FinalizeBlock bench's
/// baseline). Not used by the node.
#[cfg(any(test, feature = "k256-reference"))]
pub fn verify_secp256k1_k256(pubkey: &[u8], msg: &[u8], signature: &[u8]) -> bool {
    use k256::ecdsa::signature::Verifier;
    use k256::ecdsa::{Signature, VerifyingKey};
    let Ok(key) = VerifyingKey::from_sec1_bytes(pubkey) else { return false };
    let Ok(sig) = Signature::from_slice(signature) else { return false };
    if sig.normalize_s().is_some() {
        return false;
    }
    key.verify(msg, &sig).is_ok()
}

/// Signatures this node verified in CheckTx, so neither the mempool's rechecks nor
/// FinalizeBlock verify them again.
///
/// The key is sha256 over the public key, the signature and the exact sign bytes, so a hit
/// means this very signature over these very bytes by this very key verified before: the
/// answer is the one verification would give, and gas is charged the same either way (the
/// sigverify gas is charged before). A recheck of a mempool tx (same bytes, same account
/// number and sequence, hence the same sign bytes) hits and keeps its entry; FinalizeBlock
/// hits and drops it. Bounded: the oldest entries go first (a recheck that misses verifies and
/// records again). Node-local, never consensus data.
pub struct VerifiedSignatures {
    inner: parking_lot::Mutex<BoundedKeys>,
    /// sha256 of the txs whose ante passed in CheckTx (every signature verified or answered
    /// from `inner`): FinalizeBlock does not prepare them for the helper threads (only a hint:
    /// the sequential pass still looks each signature up in `inner`, and verifies on a miss).
    admitted_txs: parking_lot::Mutex<BoundedKeys>,
    capacity: usize,
    /// Verifications actually computed (not answered from the cache), for the metrics.
    computed: std::sync::atomic::AtomicU64,
    /// The signatures of the block being finalized, checked ahead by helper threads.
    block: parking_lot::Mutex<Option<std::sync::Arc<BlockSignatures>>>,
}

/// A set of 32-byte keys that forgets the oldest beyond a capacity.
#[derive(Default)]
struct BoundedKeys {
    live: std::collections::BTreeSet<[u8; 32]>,
    /// Insertion order, for eviction; may hold keys already removed (dropped lazily).
    order: std::collections::VecDeque<[u8; 32]>,
}

impl BoundedKeys {
    fn insert(&mut self, key: [u8; 32], capacity: usize) {
        if self.live.insert(key) {
            self.order.push_back(key);
        }
        while self.live.len() > capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.live.remove(&old);
                }
                None => break,
            }
        }
        if self.order.len() > 2 * capacity.max(1) {
            let live = &self.live;
            self.order.retain(|k| live.contains(k));
        }
    }
}

/// Entries kept (a full mempool's worth of single-signer txs).
pub const VERIFIED_SIGNATURES_KEPT: usize = 20_000;

impl VerifiedSignatures {
    /// An empty cache of `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: parking_lot::Mutex::new(BoundedKeys::default()),
            admitted_txs: parking_lot::Mutex::new(BoundedKeys::default()),
            capacity,
            computed: std::sync::atomic::AtomicU64::new(0),
            block: parking_lot::Mutex::new(None),
        }
    }

    fn key(pubkey: &[u8], msg: &[u8], signature: &[u8]) -> [u8; 32] {
        let mut h = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut h, (pubkey.len() as u64).to_le_bytes());
        sha2::Digest::update(&mut h, pubkey);
        sha2::Digest::update(&mut h, (signature.len() as u64).to_le_bytes());
        sha2::Digest::update(&mut h, signature);
        sha2::Digest::update(&mut h, msg);
        sha2::Digest::finalize(h).into()
    }

    /// [`verify_secp256k1`], remembering successes seen in CheckTx and answering rechecks
    /// (keeping the entry) and FinalizeBlock (using it up) from them.
    pub fn verify(&self, mode: Mode, pubkey: &[u8], msg: &[u8], signature: &[u8]) -> bool {
        let key = Self::key(pubkey, msg, signature);
        match mode {
            Mode::Deliver => {
                if self.inner.lock().live.remove(&key) {
                    return true;
                }
                // Another app of this process may have installed its block: a key found there
                // is still this very verification's answer.
                let block = self.block.lock().clone();
                if let Some(answer) = block.and_then(|b| b.answer(&key)) {
                    return answer;
                }
            }
            Mode::Recheck => {
                if self.inner.lock().live.contains(&key) {
                    return true;
                }
            }
            Mode::Check | Mode::Simulate => {}
        }
        self.computed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ok = verify_secp256k1(pubkey, msg, signature);
        if ok && mode.is_mempool() {
            self.inner.lock().insert(key, self.capacity);
        }
        ok
    }

    /// Signature verifications this cache computed (rather than answered from an entry),
    /// since the process started.
    pub fn computed(&self) -> u64 {
        self.computed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records that the tx with this sha256 passed the ante in CheckTx.
    pub fn admitted(&self, tx_hash: [u8; 32]) {
        self.admitted_txs.lock().insert(tx_hash, self.capacity);
    }

    /// Forgets an admitted tx once a block runs it (as FinalizeBlock uses up signature entries).
    pub fn delivered(&self, tx_hash: &[u8; 32]) {
        self.admitted_txs.lock().live.remove(tx_hash);
    }

    /// Whether the tx with this sha256 passed the ante in CheckTx (recently) and no block has
    /// run it since.
    pub fn was_admitted(&self, tx_hash: &[u8; 32]) -> bool {
        self.admitted_txs.lock().live.contains(tx_hash)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.inner.lock().live.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The process's cache (one node per process).
pub fn verified_signatures() -> &'static VerifiedSignatures {
    static CACHE: std::sync::OnceLock<VerifiedSignatures> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| VerifiedSignatures::new(VERIFIED_SIGNATURES_KEPT))
}

/// The SIGN_MODE_DIRECT sign bytes of `raw` for an account number: what the signer signed.
fn direct_sign_bytes(raw: &TxRaw, chain_id: &str, account_number: u64) -> Vec<u8> {
    SignDoc {
        body_bytes: raw.body_bytes.clone(),
        auth_info_bytes: raw.auth_info_bytes.clone(),
        chain_id: chain_id.to_string(),
        account_number,
    }
    .encode_to_vec()
}

/// One signature of a block to check ahead: what [`verify_secp256k1`] takes.
struct SignatureJob {
    pubkey: Vec<u8>,
    sign_bytes: Vec<u8>,
    signature: Vec<u8>,
}

/// A job nobody took yet.
const JOB_PENDING: u8 = 0;
/// A thread is verifying it.
const JOB_CLAIMED: u8 = 1;
/// Verified: valid.
const JOB_VALID: u8 = 2;
/// Verified: invalid.
const JOB_INVALID: u8 = 3;

/// The SIGN_MODE_DIRECT signatures of a block, verified by helper threads while FinalizeBlock
/// runs the txs in order on its own thread ([`BlockSignatures::work`]).
///
/// Speculative and exactly equivalent: each job's sign bytes are built from the account number
/// the state holds before the block, and the sequential pass looks a signature up by the same
/// key as a CheckTx hit (sha256 of public key, signature and exact sign bytes). A key it finds
/// has the answer verification would give (it is that verification); a key it does not find (an
/// account created earlier in the block, another sign mode) is verified there as before. Gas is
/// charged before verification either way. A job is verified once: by whichever thread claims
/// it first, the other waits for the answer. Node-local work, never consensus data.
#[derive(Default)]
pub struct BlockSignatures {
    index: std::collections::BTreeMap<[u8; 32], usize>,
    jobs: Vec<SignatureJob>,
    states: Vec<std::sync::atomic::AtomicU8>,
    next: std::sync::atomic::AtomicUsize,
}

impl BlockSignatures {
    /// The jobs of `txs` (signatures CheckTx already verified are left out), read from `state`
    /// as it is before the block's txs run.
    pub fn prepare(modules: &Modules, state: &dyn StateRead, chain_id: &str, txs: &[impl AsRef<[u8]>]) -> Self {
        let cache = verified_signatures();
        let mut jobs = Vec::new();
        let mut index = std::collections::BTreeMap::new();
        for bytes in txs {
            // A tx admitted through this node's CheckTx has its signatures in the cache: nothing
            // to do ahead (this skips decoding it, reading its signers' accounts and hashing).
            if cache.was_admitted(&<sha2::Sha256 as sha2::Digest>::digest(bytes.as_ref()).into()) {
                continue;
            }
            let Ok(raw) = TxRaw::decode(bytes.as_ref()) else { continue };
            let Ok(auth_info) = AuthInfo::decode(raw.auth_info_bytes.as_slice()) else { continue };
            for (info, signature) in auth_info.signer_infos.iter().zip(&raw.signatures) {
                if single_mode(info) != Some(SignMode::Direct as i32) {
                    continue;
                }
                let Some(Ok(pubkey)) = info.public_key.as_ref().map(secp256k1_key) else { continue };
                let Ok(Some(account)) = modules.auth.account(state, &Address::from_secp256k1_pubkey(&pubkey)) else { continue };
                let sign_bytes = direct_sign_bytes(&raw, chain_id, account.base().account_number);
                let key = VerifiedSignatures::key(&pubkey, &sign_bytes, signature);
                if cache.inner.lock().live.contains(&key) || index.contains_key(&key) {
                    continue;
                }
                index.insert(key, jobs.len());
                jobs.push(SignatureJob { pubkey, sign_bytes, signature: signature.clone() });
            }
        }
        Self::from_jobs(index, jobs)
    }

    fn from_jobs(index: std::collections::BTreeMap<[u8; 32], usize>, jobs: Vec<SignatureJob>) -> Self {
        let states = jobs.iter().map(|_| std::sync::atomic::AtomicU8::new(JOB_PENDING)).collect();
        Self { index, jobs, states, next: std::sync::atomic::AtomicUsize::new(0) }
    }

    /// Jobs of the block.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether the block has no signature to check ahead.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Verifies job `i` unless another thread claimed it; its answer, once known.
    fn run(&self, i: usize) -> bool {
        use std::sync::atomic::Ordering;
        let (Some(state), Some(job)) = (self.states.get(i), self.jobs.get(i)) else { return false };
        if state.compare_exchange(JOB_PENDING, JOB_CLAIMED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            verified_signatures().computed.fetch_add(1, Ordering::Relaxed);
            let ok = verify_secp256k1(&job.pubkey, &job.sign_bytes, &job.signature);
            state.store(if ok { JOB_VALID } else { JOB_INVALID }, Ordering::Release);
            return ok;
        }
        loop {
            match state.load(Ordering::Acquire) {
                JOB_VALID => return true,
                JOB_INVALID => return false,
                // Claimed by the other thread: its answer comes within one verification.
                _ => std::thread::yield_now(),
            }
        }
    }

    /// The answer for `key` if it is one of this block's jobs.
    fn answer(&self, key: &[u8; 32]) -> Option<bool> {
        self.index.get(key).map(|&i| self.run(i))
    }

    /// A helper thread's loop: verifies jobs from the block's end backwards (FinalizeBlock's
    /// own thread verifies from the front as it reaches each tx, so the two meet in the middle
    /// instead of one waiting on the other) until none is left or [`Self::stop`].
    pub fn work(&self) {
        use std::sync::atomic::Ordering;
        loop {
            let taken = self.next.fetch_add(1, Ordering::AcqRel);
            let Some(i) = self.jobs.len().checked_sub(taken.saturating_add(1)) else { return };
            // Jobs the sequential pass already claimed are behind us: nothing left to help with.
            let Some(state) = self.states.get(i) else { return };
            if state.load(Ordering::Acquire) != JOB_PENDING {
                return;
            }
            self.run(i);
        }
    }

    /// Lets the helper threads return after their current job.
    pub fn stop(&self) {
        self.next.store(self.jobs.len(), std::sync::atomic::Ordering::Release);
    }

    /// Helper threads for a block: one per core beyond FinalizeBlock's own.
    pub fn helpers() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from).saturating_sub(1)
    }

    /// Runs `execute` (the block's txs, in order) while helper threads verify the jobs ahead;
    /// returns what `execute` returned. With no helper (one core) or no job, only `execute`
    /// runs.
    pub fn run_ahead<T>(self, execute: impl FnOnce() -> T) -> T {
        let helpers = Self::helpers().min(self.jobs.len());
        if helpers == 0 {
            return execute();
        }
        let block = std::sync::Arc::new(self);
        let cache = verified_signatures();
        *cache.block.lock() = Some(block.clone());
        let out = std::thread::scope(|scope| {
            for _ in 0..helpers {
                let block = &block;
                scope.spawn(move || block.work());
            }
            let out = execute();
            block.stop();
            out
        });
        let mut current = cache.block.lock();
        if current.as_ref().is_some_and(|b| std::sync::Arc::ptr_eq(b, &block)) {
            *current = None;
        }
        out
    }
}

/// Runs the ante handler on `state` (the tx's ante layer), charging `meter`.
pub fn run_ante(ctx: &AnteContext<'_>, state: &mut dyn StateWrite, tx: &DecodedTx, meter: &GasMeter) -> Result<(), AbciError> {
    let modules = ctx.modules;
    if ctx.mode == Mode::Deliver {
        verified_signatures().delivered(&tx.hash);
    }
    let auth_params = params(state).map_err(|e| from_code(&e))?;
    let fees = fee_params(state).map_err(|e| from_code(&e))?;
    let body = &tx.body;
    let auth_info = &tx.auth_info;

    // Extension options: none are known.
    if !body.extension_options.is_empty() {
        return Err(sdk(sdk_codes::UNKNOWN_EXTENSION_OPTIONS, "unknown extension options"));
    }
    // Basic validity.
    if tx.msgs.is_empty() {
        return Err(sdk(sdk_codes::INVALID_REQUEST, "must contain at least one message: invalid request"));
    }
    let fee = auth_info.fee.clone().unwrap_or_default();
    let gas_limit = fee.gas_limit;
    if ctx.mode != Mode::Simulate && gas_limit > fees.max_tx_gas {
        return Err(sdk(
            sdk_codes::INVALID_GAS_LIMIT,
            format!("gas limit {gas_limit} exceeds the maximum {}: invalid gas limit", fees.max_tx_gas),
        ));
    }
    let signers = tx.signers();
    if ctx.mode != Mode::Simulate && tx.raw.signatures.is_empty() {
        return Err(sdk(sdk_codes::NO_SIGNATURES, "no signatures supplied"));
    }
    // Simulate (fee "auto") may come without signatures; a real tx needs one per signer.
    if tx.raw.signatures.len() != signers.len() && !(ctx.mode == Mode::Simulate && tx.raw.signatures.is_empty()) {
        return Err(sdk(
            sdk_codes::UNAUTHORIZED,
            format!("wrong number of signatures; expected {}, got {}: unauthorized", signers.len(), tx.raw.signatures.len()),
        ));
    }
    if auth_info.signer_infos.len() != signers.len() {
        return Err(sdk(
            sdk_codes::UNAUTHORIZED,
            format!("wrong number of signers; expected {}, got {}: unauthorized", signers.len(), auth_info.signer_infos.len()),
        ));
    }
    let sig_limit = usize::try_from(auth_params.tx_sig_limit).unwrap_or(usize::MAX);
    if signers.len() > sig_limit {
        return Err(sdk(sdk_codes::TOO_MANY_SIGNATURES, format!("signatures: {}, limit: {sig_limit}: too many signatures", signers.len())));
    }
    // Timeout height.
    if body.timeout_height != 0 && ctx.height > body.timeout_height {
        return Err(sdk(
            sdk_codes::TX_TIMEOUT_HEIGHT,
            format!("block height: {}, timeout height: {}: tx timeout height", ctx.height, body.timeout_height),
        ));
    }
    // Memo.
    let memo_chars = u64::try_from(body.memo.chars().count()).unwrap_or(u64::MAX);
    if memo_chars > auth_params.max_memo_characters {
        return Err(sdk(
            sdk_codes::MEMO_TOO_LARGE,
            format!(
                "maximum number of characters is {} but received {memo_chars} characters: memo too large",
                auth_params.max_memo_characters
            ),
        ));
    }
    // Size gas.
    let size = u64::try_from(tx.len).unwrap_or(u64::MAX);
    gas(meter, auth_params.tx_size_cost_per_byte.saturating_mul(size), "txSize")?;

    // Fee: only uopen, at least gas × min gas price, paid by the first signer (or `payer`).
    // Zero-amount fee coins (`0uopen`, as some clients send for simulation) mean no fee.
    let nonzero: Vec<_> = fee.amount.iter().filter(|c| !c.amount.trim_start_matches('0').is_empty()).cloned().collect();
    let fee_coins =
        coins_from_proto(&nonzero).map_err(|e| sdk(sdk_codes::INVALID_COINS, format!("invalid fee amount: {e}: invalid coins")))?;
    if let Some(other) = fee_coins.iter().find(|c| c.denom != BASE_DENOM) {
        return Err(sdk(
            sdk_codes::INSUFFICIENT_FEE,
            format!("fee denom {} is not accepted; pay fees in {BASE_DENOM}: insufficient fee", other.denom),
        ));
    }
    if ctx.mode != Mode::Simulate {
        let required = min_fee(gas_limit, &fees.min_gas_price)
            .ok_or_else(|| sdk(sdk_codes::INVALID_GAS_LIMIT, "gas limit overflows the fee computation"))?;
        let paid = fee_coins.first().map_or(0, |c| c.amount);
        if paid < required {
            return Err(sdk(
                sdk_codes::INSUFFICIENT_FEE,
                format!(
                    "insufficient fees; got: {} required: {required}{BASE_DENOM}: insufficient fee",
                    if fee_coins.is_empty() { "0uopen".to_string() } else { format_coins(&fee_coins) }
                ),
            ));
        }
    }
    if !fee.granter.is_empty() {
        return Err(sdk(sdk_codes::INVALID_REQUEST, "fee grants are not supported: invalid request"));
    }
    let payer = if fee.payer.is_empty() {
        signers[0].clone()
    } else {
        let p = Address::from_bech32(&fee.payer)
            .map_err(|e| sdk(sdk_codes::INVALID_ADDRESS, format!("invalid fee payer: {e}: invalid address")))?;
        if !signers.contains(&p) {
            return Err(sdk(sdk_codes::UNAUTHORIZED, format!("fee payer {p} is not a signer: unauthorized")));
        }
        p
    };
    if modules.auth.account(state, &payer).map_err(|e| from_code(&e))?.is_none() {
        return Err(sdk(sdk_codes::UNKNOWN_ADDRESS, format!("fee payer address: {payer} does not exist: unknown address")));
    }
    if !fee_coins.is_empty() {
        let collector = Address::module(FEE_COLLECTOR);
        modules.bank.send(state, &payer, &collector, &fee_coins).map_err(|e| {
            let inner = from_code(&e);
            AbciError { log: format!("{}: insufficient funds to pay fees", inner.log.trim_end_matches(": insufficient funds")), ..inner }
        })?;
    }
    if ctx.mode == Mode::Simulate && fee_coins.is_empty() {
        charge_simulated_fee_deduction(modules, state, &payer, meter)?;
    }
    state.emit(Event::new("tx").attr("fee", format_coins(&fee_coins)).attr("fee_payer", payer.to_bech32()));

    // Signatures.
    let amino_msgs: Vec<serde_json::Value> =
        if auth_info.signer_infos.iter().any(|s| single_mode(s) == Some(SignMode::LegacyAminoJson as i32)) {
            tx.msgs.iter().map(|m| m.amino_json(modules.registry.as_ref())).collect()
        } else {
            Vec::new()
        };
    for (index, signer) in signers.iter().enumerate() {
        let info = &auth_info.signer_infos[index];
        let mut account = modules
            .auth
            .account(state, signer)
            .map_err(|e| from_code(&e))?
            .ok_or_else(|| sdk(sdk_codes::UNKNOWN_ADDRESS, format!("account {signer} does not exist: unknown address")))?;
        // Public key: from the tx, else the one on record; it must hash to the signer.
        let pubkey = match &info.public_key {
            Some(any) => {
                let key = secp256k1_key(any)?;
                if Address::from_secp256k1_pubkey(&key) != *signer {
                    return Err(sdk(
                        sdk_codes::INVALID_PUBKEY,
                        format!("pubKey does not match signer address {signer} with signer index: {index}: invalid pubkey"),
                    ));
                }
                key
            }
            None => match account.secp256k1_pubkey() {
                Some(key) => key,
                // As the SDK's simSecp256k1Pubkey: a fresh account simulating its first tx has no
                // key yet; a placeholder of the same size makes the estimate cover storing it.
                None if ctx.mode == Mode::Simulate => SIMULATION_PUBKEY.to_vec(),
                None => return Err(sdk(sdk_codes::INVALID_PUBKEY, format!("pubkey on account {signer} is not set: invalid pubkey"))),
            },
        };
        gas(meter, auth_params.sig_verify_cost_secp256k1, "sigverify")?;
        let base = account.base().clone();
        // Checked in Simulate too, as the SDK's SigVerificationDecorator does: a tx signed with
        // another sequence would fail anyway, so its estimate fails now.
        if info.sequence != base.sequence {
            return Err(sdk(
                sdk_codes::WRONG_SEQUENCE,
                format!("account sequence mismatch, expected {}, got {}: incorrect account sequence", base.sequence, info.sequence),
            ));
        }
        if ctx.mode != Mode::Simulate {
            let sign_bytes = match single_mode(info) {
                Some(m) if m == SignMode::Direct as i32 => direct_sign_bytes(&tx.raw, ctx.chain_id, base.account_number),
                Some(m) if m == SignMode::LegacyAminoJson as i32 => StdSignDoc {
                    account_number: base.account_number,
                    chain_id: ctx.chain_id,
                    fee_amount: fee.amount.iter().map(|c| (c.denom.clone(), c.amount.clone())).collect(),
                    gas: gas_limit,
                    fee_payer: &fee.payer,
                    fee_granter: &fee.granter,
                    memo: &body.memo,
                    msgs: amino_msgs.clone(),
                    sequence: base.sequence,
                    timeout_height: body.timeout_height,
                }
                .sign_bytes(),
                other => {
                    return Err(sdk(sdk_codes::UNAUTHORIZED, format!("unsupported sign mode {other:?}: unauthorized")));
                }
            };
            if !verified_signatures().verify(ctx.mode, &pubkey, &sign_bytes, &tx.raw.signatures[index]) {
                return Err(sdk(
                    sdk_codes::UNAUTHORIZED,
                    format!(
                        "signature verification failed; please verify account number ({}), sequence ({}) and chain-id ({}): unauthorized",
                        base.account_number, base.sequence, ctx.chain_id
                    ),
                ));
            }
        }
        // Record the key, bump the sequence.
        let record = account.base_mut();
        if record.pub_key.is_none() {
            record.pub_key = Some(secp256k1_pubkey_any(&pubkey));
        }
        record.sequence = record.sequence.checked_add(1).ok_or_else(|| sdk(sdk_codes::INVALID_SEQUENCE, "sequence overflow"))?;
        modules.auth.set_account(state, &account).map_err(|e| from_code(&e))?;
        state.emit(Event::new("tx").attr("acc_seq", format!("{signer}/{}", base.sequence)));
        let sig_b64 = base64::engine::general_purpose::STANDARD.encode(tx.raw.signatures.get(index).map(Vec::as_slice).unwrap_or_default());
        state.emit(Event::new("tx").attr("signature", sig_b64));
    }
    if ctx.mode.is_mempool() {
        verified_signatures().admitted(tx.hash);
    }
    Ok(())
}

/// Simulations arrive with an empty fee (CosmJS's fee "auto"), but the real tx will pay one.
/// Run a 1uopen deduction on a scratch layer so its reads are charged through the metered ante
/// layer, charge its writes explicitly, then drop it: the estimate then covers the deduction.
fn charge_simulated_fee_deduction(
    modules: &Modules,
    state: &mut dyn StateWrite,
    payer: &Address,
    meter: &GasMeter,
) -> Result<(), AbciError> {
    let collector = Address::module(FEE_COLLECTOR);
    let mut scratch = openledger_core::StateDelta::new(&*state);
    if modules.bank.send(&mut scratch, payer, &collector, &[Coin::new(BASE_DENOM, 1)]).is_ok() {
        for (key, value) in scratch.changes() {
            let cost = match value {
                Some(v) => KV_GAS_COSTS.write_flat.saturating_add(
                    KV_GAS_COSTS.write_per_byte.saturating_mul(u64::try_from(key.len().saturating_add(v.len())).unwrap_or(u64::MAX)),
                ),
                None => KV_GAS_COSTS.delete,
            };
            gas(meter, cost, "simulated fee deduction")?;
        }
    }
    Ok(())
}

fn single_mode(info: &cosmos_sdk_proto::cosmos::tx::v1beta1::SignerInfo) -> Option<i32> {
    match info.mode_info.as_ref()?.sum.as_ref()? {
        mode_info::Sum::Single(s) => Some(s.mode),
        mode_info::Sum::Multi(_) => None,
    }
}

#[cfg(test)]
mod signature_cache_tests {
    use super::*;
    use k256::ecdsa::signature::Signer;
    use k256::ecdsa::{Signature, SigningKey};

    fn signed(seed: u8, msg: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let key = SigningKey::from_slice(&[seed; 32]).expect("key");
        let sig: Signature = key.sign(msg);
        let sig = sig.normalize_s().unwrap_or(sig);
        (key.verifying_key().to_sec1_bytes().to_vec(), sig.to_bytes().to_vec())
    }

    /// The group order n, big-endian.
    const ORDER: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
        0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
    ];
    /// The field prime p, big-endian.
    const PRIME: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xfc, 0x2f,
    ];

    /// `a + k` (mod 2²⁵⁶), big-endian.
    fn plus(a: [u8; 32], k: u8) -> [u8; 32] {
        let mut out = a;
        let mut carry = u16::from(k);
        for byte in out.iter_mut().rev() {
            let sum = u16::from(*byte) + carry;
            *byte = (sum & 0xff) as u8;
            carry = sum >> 8;
        }
        out
    }

    /// `a >> 1`, big-endian.
    fn half(a: [u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut carry = 0u8;
        for (o, byte) in out.iter_mut().zip(a) {
            *o = (byte >> 1) | (carry << 7);
            carry = byte & 1;
        }
        out
    }

    /// Deterministic pseudo-random bytes: sha256(label ‖ counter), as many as asked.
    struct Seeded(u64);

    impl Seeded {
        fn bytes(&mut self, len: usize) -> Vec<u8> {
            let mut out = Vec::with_capacity(len);
            while out.len() < len {
                self.0 += 1;
                let block: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(format!("secp256k1-equivalence-{}", self.0)).into();
                out.extend_from_slice(&block[..block.len().min(len - out.len())]);
            }
            out
        }

        fn array(&mut self) -> [u8; 32] {
            self.bytes(32).try_into().expect("32 bytes")
        }
    }

    fn with_r_s(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
        [r.as_slice(), s.as_slice()].concat()
    }

    /// libsecp256k1 ([`verify_secp256k1`]) and the former k256 verifier give the same answer
    /// on every class of input where the libraries' rules could differ (see the doc comment of
    /// [`verify_secp256k1`]); each class is also required to have produced the answer it should,
    /// so the comparison is not vacuous.
    #[test]
    fn libsecp256k1_agrees_with_k256_on_every_kind_of_input() {
        const CASES: u32 = 500;
        let mut rng = Seeded(0);
        let mut compared = 0usize;
        let mut accepted = 0usize;
        let mut check = |pubkey: &[u8], msg: &[u8], sig: &[u8], expect: Option<bool>| {
            let new = verify_secp256k1(pubkey, msg, sig);
            let old = verify_secp256k1_k256(pubkey, msg, sig);
            assert_eq!(new, old, "verifiers disagree: key {} msg {} sig {}", hex::encode(pubkey), hex::encode(msg), hex::encode(sig));
            if let Some(expect) = expect {
                assert_eq!(new, expect, "key {} sig {}", hex::encode(pubkey), hex::encode(sig));
            }
            compared += 1;
            accepted += usize::from(new);
        };
        let order_half = half(ORDER); // (n-1)/2: the largest low S
        let mut order_minus_one = ORDER;
        order_minus_one[31] -= 1; // ORDER ends in 0x41
        let edge_scalars = [
            [0u8; 32],
            plus([0u8; 32], 1),
            order_half,
            plus(order_half, 1),
            order_minus_one,
            ORDER,
            plus(ORDER, 1),
            plus(ORDER, 0x40),
            PRIME,
            [0xff; 32],
        ];

        for i in 0..CASES {
            let secret = loop {
                if let Ok(key) = SigningKey::from_slice(&rng.array()) {
                    break key;
                }
            };
            let verifying = secret.verifying_key();
            let compressed = verifying.to_encoded_point(true).as_bytes().to_vec();
            let uncompressed = verifying.to_encoded_point(false).as_bytes().to_vec();
            let msg = rng.bytes((i as usize * 7) % 300);
            let sig: Signature = secret.sign(&msg);
            let low = sig.normalize_s().unwrap_or(sig);
            let high = Signature::from_scalars(low.r().to_bytes(), (-*low.s()).to_bytes()).expect("n - s is in range");
            let (low, high) = (low.to_bytes().to_vec(), high.to_bytes().to_vec());
            let (r, s): ([u8; 32], [u8; 32]) = (low[..32].try_into().expect("r"), low[32..].try_into().expect("s"));

            // Valid, and valid over the uncompressed key; the compact 0x05 form is the even-y key.
            check(&compressed, &msg, &low, Some(true));
            check(&uncompressed, &msg, &low, Some(true));
            let mut compact = compressed.clone();
            compact[0] = 0x05;
            check(&compact, &msg, &low, Some(compressed[0] == 0x02));
            // Hybrid encodings (libsecp256k1 alone would take the matching one) and a flipped parity.
            for tag in [0x06, 0x07] {
                let mut hybrid = uncompressed.clone();
                hybrid[0] = tag;
                check(&hybrid, &msg, &low, Some(false));
            }
            let mut flipped = compressed.clone();
            flipped[0] ^= 0x01;
            check(&flipped, &msg, &low, Some(false));
            // High S (what normalization would accept), other messages, a flipped bit.
            check(&compressed, &msg, &high, Some(false));
            check(&uncompressed, &msg, &high, Some(false));
            let mut other = msg.clone();
            other.push(0);
            check(&compressed, &other, &low, Some(false));
            check(&compressed, &rng.bytes(40), &low, Some(false));
            let mut bit = low.clone();
            bit[(i as usize) % 64] ^= 1 << (i % 8);
            check(&compressed, &msg, &bit, None);
            // r or s at the edges: 0, 1, (n-1)/2, (n+1)/2, n-1, n, n+1, n+0x40, p, 2²⁵⁶-1.
            let edge = edge_scalars[(i as usize) % edge_scalars.len()];
            check(&compressed, &msg, &with_r_s(&edge, &s), None);
            check(&compressed, &msg, &with_r_s(&r, &edge), None);
            check(&compressed, &msg, &with_r_s(&edge, &edge), None);
            // Truncated and extended signatures and keys, and empty ones.
            check(&compressed, &msg, &low[..63], Some(false));
            check(&compressed, &msg, &[low.as_slice(), &[0]].concat(), Some(false));
            check(&compressed, &msg, &[], Some(false));
            check(&compressed[..32], &msg, &low, Some(false));
            check(&[compressed.as_slice(), &[0]].concat(), &msg, &low, Some(false));
            check(&uncompressed[..64], &msg, &low, Some(false));
            check(&[uncompressed.as_slice(), &[0]].concat(), &msg, &low, Some(false));
            check(&[], &msg, &low, Some(false));
            check(&[0x00], &msg, &low, Some(false));
            // Every key tag on this key's x (and the uncompressed body with every tag).
            let tag = (i % 256) as u8;
            let mut retagged = compressed.clone();
            retagged[0] = tag;
            check(&retagged, &msg, &low, None);
            let mut retagged = uncompressed.clone();
            retagged[0] = tag;
            check(&retagged, &msg, &low, None);
            // Random x (about half are on the curve), x ≥ p, y off the curve, random everything.
            let mut random_key = vec![0x02 | (tag & 1)];
            random_key.extend_from_slice(&rng.array());
            check(&random_key, &msg, &low, None);
            let x_edge = [PRIME, plus(PRIME, 1), [0xff; 32], [0u8; 32]][(i as usize) % 4];
            check(&[[0x02 | (tag & 1)].as_slice(), &x_edge].concat(), &msg, &low, Some(false));
            let mut off_curve = uncompressed.clone();
            off_curve[64] ^= 0x01;
            check(&off_curve, &msg, &low, Some(false));
            let mut y_overflow = uncompressed.clone();
            y_overflow[33..].copy_from_slice(&PRIME);
            check(&y_overflow, &msg, &low, Some(false));
            let random_len = [0usize, 1, 32, 33, 34, 64, 65, 66][(i as usize) % 8];
            check(&rng.bytes(random_len), &rng.bytes(32), &rng.bytes(64), None);
            check(&compressed, &msg, &rng.bytes(64), None);
        }
        // Per case: 2 valid signatures, the compact form half the time, a retagged key 2 times
        // in 256, a random key on the curve with a signature valid for it never.
        println!("{compared} inputs compared, {accepted} accepted by both");
        assert_eq!(compared, CASES as usize * 31);
        assert!(accepted >= CASES as usize * 2 + CASES as usize / 3, "accepted {accepted}");
    }

    #[test]
    fn block_signatures_answer_as_verification_would_and_verify_each_once() {
        let (pk, sig) = signed(5, b"sign bytes");
        let mut forged = sig.clone();
        forged[7] ^= 0x01;
        let mut index = std::collections::BTreeMap::new();
        let mut jobs = Vec::new();
        for signature in [&sig, &forged] {
            index.insert(VerifiedSignatures::key(&pk, b"sign bytes", signature), jobs.len());
            jobs.push(SignatureJob { pubkey: pk.clone(), sign_bytes: b"sign bytes".to_vec(), signature: signature.clone() });
        }
        let block = BlockSignatures::from_jobs(index, jobs);
        // A helper thread works through the jobs while this thread asks for them.
        std::thread::scope(|scope| {
            scope.spawn(|| block.work());
            assert_eq!(block.answer(&VerifiedSignatures::key(&pk, b"sign bytes", &sig)), Some(true));
            assert_eq!(block.answer(&VerifiedSignatures::key(&pk, b"sign bytes", &forged)), Some(false));
        });
        // Every job ended verified, and asking again gives the same answers.
        let states: Vec<u8> = block.states.iter().map(|s| s.load(std::sync::atomic::Ordering::Acquire)).collect();
        assert_eq!(states, vec![JOB_VALID, JOB_INVALID]);
        assert_eq!(block.answer(&VerifiedSignatures::key(&pk, b"sign bytes", &sig)), Some(true));
        // A key that is not a job of the block has no answer here: the ante verifies it itself.
        assert_eq!(block.answer(&VerifiedSignatures::key(&pk, b"other bytes", &sig)), None);
    }

    #[test]
    fn finalize_reuses_what_checktx_verified_and_nothing_else() {
        let cache = VerifiedSignatures::new(2);
        let (pk, sig) = signed(7, b"sign bytes");
        // Deliver without a CheckTx: verified for real (and not remembered).
        assert!(cache.verify(Mode::Deliver, &pk, b"sign bytes", &sig));
        assert!(cache.is_empty());
        // CheckTx remembers a success; Deliver uses it once.
        assert!(cache.verify(Mode::Check, &pk, b"sign bytes", &sig));
        assert_eq!(cache.len(), 1);
        assert!(cache.verify(Mode::Deliver, &pk, b"sign bytes", &sig));
        assert!(cache.is_empty());
        // A failure is never remembered, and other bytes, keys or signatures never hit.
        assert!(!cache.verify(Mode::Check, &pk, b"other bytes", &sig));
        assert!(cache.is_empty());
        assert!(cache.verify(Mode::Check, &pk, b"sign bytes", &sig));
        assert!(!cache.verify(Mode::Deliver, &pk, b"other bytes", &sig));
        let (pk2, _) = signed(8, b"sign bytes");
        assert!(!cache.verify(Mode::Deliver, &pk2, b"sign bytes", &sig));
        // Simulate neither reads nor fills it.
        assert_eq!(cache.len(), 1);
        // Bounded: the oldest entries go.
        for i in 0..5u8 {
            let msg = [i; 4];
            let (pk, sig) = signed(9 + i, &msg);
            assert!(cache.verify(Mode::Check, &pk, &msg, &sig));
        }
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn a_recheck_answers_from_what_checktx_verified_and_keeps_it_for_the_block() {
        let cache = VerifiedSignatures::new(4);
        let (pk, sig) = signed(7, b"sign bytes");
        assert!(cache.verify(Mode::Check, &pk, b"sign bytes", &sig));
        assert_eq!(cache.computed(), 1);
        // Rechecks of the same signature over the same bytes: answered, nothing computed, the
        // entry kept for FinalizeBlock.
        for _ in 0..3 {
            assert!(cache.verify(Mode::Recheck, &pk, b"sign bytes", &sig));
        }
        assert_eq!((cache.computed(), cache.len()), (1, 1));
        assert!(cache.verify(Mode::Deliver, &pk, b"sign bytes", &sig));
        assert_eq!((cache.computed(), cache.len()), (1, 0));
        // Anything else is verified for real: other sign bytes (e.g. another account number or
        // sequence) and other signatures fail, and a valid one that missed is recorded again.
        assert!(!cache.verify(Mode::Recheck, &pk, b"other bytes", &sig));
        let (_, other_sig) = signed(8, b"sign bytes");
        assert!(!cache.verify(Mode::Recheck, &pk, b"sign bytes", &other_sig));
        assert_eq!((cache.computed(), cache.len()), (3, 0));
        assert!(cache.verify(Mode::Recheck, &pk, b"sign bytes", &sig));
        assert_eq!((cache.computed(), cache.len()), (4, 1));
        assert!(cache.verify(Mode::Recheck, &pk, b"sign bytes", &sig));
        assert_eq!(cache.computed(), 4);
    }

    #[test]
    fn admitted_txs_are_remembered_up_to_the_capacity_until_delivered() {
        let cache = VerifiedSignatures::new(2);
        cache.admitted([1; 32]);
        assert!(cache.was_admitted(&[1; 32]) && !cache.was_admitted(&[2; 32]));
        cache.admitted([2; 32]);
        cache.admitted([3; 32]);
        assert!(!cache.was_admitted(&[1; 32]) && cache.was_admitted(&[2; 32]) && cache.was_admitted(&[3; 32]));
        // A block ran it: forgotten.
        cache.delivered(&[2; 32]);
        assert!(!cache.was_admitted(&[2; 32]) && cache.was_admitted(&[3; 32]));
    }
}
