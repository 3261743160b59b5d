//! The executor: the models it holds (by content hash), the adapters registered for them, request
//! validation, and routing — base models to mistral.rs, adapters to OpenLoRA.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use candle_core::Device;
use prost::Message;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::adapter_cache::AdapterCache;
use crate::error::{ExecutorError, Result};
use crate::hashing::{output_hash, parse_hash, Digest32};
use crate::kernels::Isa;
use crate::llama::{Kernels, LlamaConfig, LlamaModel};
use crate::lora::{adapter_hash, AdapterLimits, LoraAdapter};
use crate::mistral_engine::{MistralEngine, MistralSettings};
use crate::openlora::{GenerationRequest, OpenLoraEngine};
use crate::pb;
use crate::profile::{BatchingMode, ComputeDType, DeterminismProfile};
use crate::sampling::TokenSelector;
use crate::source::{ModelFormat, ModelSource};
use crate::tokenizer::TextTokenizer;
use crate::train::{self, StepReport, TrainJob, TrainLimits, TrainOutcome, TrainSettings};

/// Finished training results kept for a repeated identical request (a caller that lost the
/// stream asks again and gets the result without a second run).
const MAX_KEPT_TRAIN_RESULTS: usize = 64;
/// Largest data root a training request may carry, in bytes.
const MAX_DATA_ROOT_BYTES: usize = 64;

/// Bounds on everything a client controls.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest prompt in bytes.
    pub max_prompt_bytes: usize,
    /// Largest max_tokens.
    pub max_tokens: u32,
    /// Sequences OpenLoRA batches at once.
    pub max_batch: usize,
    /// Requests in flight (running or queued) before new ones get RESOURCE_EXHAUSTED.
    pub max_in_flight: usize,
    /// Adapter file and rank bounds.
    pub adapter: AdapterLimits,
    /// Adapter cache budget in bytes.
    pub adapter_cache_bytes: u64,
    /// Adapters kept in the cache at most.
    pub max_cached_adapters: usize,
    /// Adapters registered at most.
    pub max_registered_adapters: usize,
    /// Training request bounds.
    pub train: TrainLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_prompt_bytes: 32 << 10,
            max_tokens: 1024,
            max_batch: 8,
            max_in_flight: 64,
            adapter: AdapterLimits::default(),
            adapter_cache_bytes: 2 << 30,
            max_cached_adapters: 1024,
            max_registered_adapters: 100_000,
            train: TrainLimits::default(),
        }
    }
}

/// Which engine serves requests without an adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseEngine {
    /// mistral.rs (its CPU kernels follow the instruction set: machine-specific).
    Mistral,
    /// OpenLoRA's own model on the portable kernels (the default; no mistral.rs instance is
    /// loaded).
    OpenLora,
}

/// Executor start-up configuration.
#[derive(Clone, Debug)]
pub struct ExecutorConfig {
    /// Model files (GGUF) or directories (Hugging Face layout).
    pub models: Vec<PathBuf>,
    /// Directories whose sub-directories are PEFT adapters, registered for the first model.
    pub adapter_dirs: Vec<PathBuf>,
    /// Compute dtype models are loaded with.
    pub dtype: ComputeDType,
    /// Engine for base-model requests.
    pub base_engine: BaseEngine,
    /// Load the OpenLoRA engine (needed for adapters).
    pub openlora: bool,
    /// Bounds.
    pub limits: Limits,
    /// Where trained (and fetched) adapters are written, one directory per content hash; None
    /// refuses training.
    pub adapter_store: Option<PathBuf>,
    /// Peer executors (`http://host:port`) asked, in order, for an adapter this one lacks.
    pub peers: Vec<String>,
    /// Base models (content hashes) to obtain from the adapter store or, when missing there,
    /// from the peers, before loading.
    pub fetch_models: Vec<String>,
    /// Largest base model fetched from a peer, in bytes.
    pub max_model_fetch_bytes: u64,
    /// Kernels of OpenLoRA's model (default: the portable ones on this CPU's best path).
    pub kernels: Kernels,
    /// Serve in a configuration whose outputs depend on the machine (mistral.rs, candle's
    /// kernels, a GPU, a dtype other than f32); refused without it.
    pub allow_machine_specific: bool,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            models: Vec::new(),
            adapter_dirs: Vec::new(),
            dtype: ComputeDType::F32,
            base_engine: BaseEngine::OpenLora,
            openlora: true,
            limits: Limits::default(),
            adapter_store: None,
            peers: Vec::new(),
            fetch_models: Vec::new(),
            max_model_fetch_bytes: 64 << 30,
            kernels: Kernels::Portable(Isa::best()),
            allow_machine_specific: false,
        }
    }
}

/// The files of an artifact this executor serves.
pub struct Artifact {
    /// The base model hash it belongs to (a base model's own hash).
    pub model: String,
    /// (name, path) of each file, in the order they are sent.
    pub files: Vec<(String, PathBuf)>,
    /// An adapter's directory (None for a base model).
    pub adapter_dir: Option<PathBuf>,
}

/// A checked training request, ready to run.
pub struct PreparedTrain {
    job: TrainJob,
    digest: [u8; 32],
    model: Arc<LlamaModel>,
    tokenizer: Arc<TextTokenizer>,
    store: PathBuf,
}

impl PreparedTrain {
    /// The normalized settings the job runs with.
    pub fn settings(&self) -> &TrainSettings {
        &self.job.settings
    }
}

/// One inference request (the wire request, decoded).
#[derive(Clone, Debug, Default)]
pub struct ExecuteParams {
    /// Base model content hash.
    pub model: String,
    /// Adapter content hash, empty for none.
    pub adapter: String,
    /// Prompt text ("" for a conversation).
    pub prompt: String,
    /// Tokens to generate at most.
    pub max_tokens: u32,
    /// Sampling seed.
    pub seed: u64,
    /// Profile (None: default).
    pub profile: Option<pb::DeterminismProfile>,
    /// A conversation, rendered with the model's chat template (empty for a raw prompt).
    pub messages: Vec<pb::ChatMessage>,
    /// Hash of the chat template the request pins (with `messages`).
    pub chat_template_hash: String,
}

/// A finished request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecuteOutput {
    /// Generated ids (no prompt, no final end-of-sequence id).
    pub tokens: Vec<u32>,
    /// Decoded text.
    pub text: String,
    /// sha256(tokens u32 LE ‖ text).
    pub output_hash: Digest32,
    /// Prompt length in tokens.
    pub prompt_tokens: u32,
    /// "stop" or "length".
    pub finish_reason: String,
    /// Hash of the normalized profile.
    pub profile_hash: Digest32,
    /// "mistralrs" or "openlora".
    pub engine: String,
}

impl From<ExecuteOutput> for pb::ExecuteResponse {
    fn from(o: ExecuteOutput) -> Self {
        Self {
            tokens: o.tokens,
            text: o.text,
            output_hash: o.output_hash.to_vec(),
            prompt_tokens: o.prompt_tokens,
            finish_reason: o.finish_reason,
            profile_hash: o.profile_hash.to_vec(),
            engine: o.engine,
        }
    }
}

/// What a loaded adapter looks like.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    /// Content hash.
    pub hash: String,
    /// Bytes in the cache.
    pub bytes: u64,
    /// Rank.
    pub rank: u32,
    /// Target modules.
    pub targets: Vec<String>,
}

struct ModelEntry {
    source: ModelSource,
    tokenizer: Arc<TextTokenizer>,
    context_length: usize,
    dtype: ComputeDType,
    mistral: Option<MistralEngine>,
    openlora: Option<OpenLoraEngine>,
}

#[derive(Clone)]
struct AdapterEntry {
    path: PathBuf,
    name: String,
    model: String,
}

/// The executor.
pub struct Executor {
    models: HashMap<String, ModelEntry>,
    order: Vec<String>,
    adapters: RwLock<HashMap<String, AdapterEntry>>,
    cache: Mutex<AdapterCache>,
    limits: Limits,
    in_flight: Semaphore,
    served: AtomicU64,
    adapter_store: Option<PathBuf>,
    peers: Vec<String>,
    fetching: tokio::sync::Mutex<()>,
    training: Semaphore,
    train_results: Mutex<BTreeMap<[u8; 32], TrainOutcome>>,
    hardware_class: String,
    kernel_path: String,
}

/// The hardware class this configuration serves with ([`crate::kernels::PORTABLE_CLASS`] when
/// every output comes from the portable kernels) and the portable path taken; or, for a
/// configuration whose outputs depend on the machine, why.
pub fn hardware_class(config: &ExecutorConfig) -> Result<(String, String), String> {
    let dev = device().map_err(|e| e.to_string())?;
    let mut why = Vec::new();
    if config.base_engine == BaseEngine::Mistral {
        why.push("mistral.rs serves base models".to_string());
    }
    if !dev.is_cpu() {
        why.push(format!("device {:?}", dev.location()));
    }
    if config.dtype != ComputeDType::F32 {
        why.push(format!("dtype {}", config.dtype.as_str()));
    }
    match config.kernels {
        Kernels::Portable(isa) if why.is_empty() => Ok((crate::kernels::PORTABLE_CLASS.to_string(), isa.as_str().to_string())),
        Kernels::Candle => {
            why.push("candle's CPU kernels".into());
            Err(why.join(", "))
        }
        Kernels::Portable(_) => Err(why.join(", ")),
    }
}

/// The features of this CPU that machine-specific kernels may pick code paths by.
fn cpu_features() -> String {
    let mut f = vec![std::env::consts::ARCH.to_string()];
    #[cfg(target_arch = "x86_64")]
    for (name, on) in [
        ("avx2", std::is_x86_feature_detected!("avx2")),
        ("fma", std::is_x86_feature_detected!("fma")),
        ("avx512f", std::is_x86_feature_detected!("avx512f")),
        ("f16c", std::is_x86_feature_detected!("f16c")),
    ] {
        if on {
            f.push(name.to_string());
        }
    }
    f.join(" ")
}

fn device() -> Result<Device> {
    if cfg!(feature = "cuda") {
        Ok(Device::cuda_if_available(0)?)
    } else {
        Ok(Device::Cpu)
    }
}

fn lock_err<T>(_: T) -> ExecutorError {
    ExecutorError::EngineStopped("a lock was poisoned by a panic".into())
}

impl Executor {
    /// Hashes and loads every configured model and registers the adapters found.
    pub async fn start(config: ExecutorConfig) -> Result<Self> {
        if config.models.is_empty() && config.fetch_models.is_empty() {
            return Err(ExecutorError::Config("no model given".into()));
        }
        let (hardware_class, kernel_path) = match hardware_class(&config) {
            Ok(class) => class,
            Err(why) if config.allow_machine_specific => {
                tracing::warn!("serving machine-specific outputs ({why}): only executors on identical machines will agree");
                (format!("machine-specific: {why}; {}", cpu_features()), String::new())
            }
            Err(why) => {
                return Err(ExecutorError::Kernel(format!(
                    "this configuration ({why}) gives outputs that depend on the machine, and a validator that disagrees \
                     with the others is slashed, so the executor refuses to serve in it; use the defaults (OpenLoRA on \
                     the portable CPU kernels, f32) or pass --allow-machine-specific"
                )))
            }
        };
        tracing::info!(
            "hardware class {hardware_class}{}",
            if kernel_path.is_empty() { String::new() } else { format!(", kernel path {kernel_path}") }
        );
        let mut paths = config.models.clone();
        for hash in &config.fetch_models {
            paths.push(Self::obtain_model(hash, &config).await?);
        }
        let mut models = HashMap::new();
        let mut order = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            let entry = Self::load_model(path, &config).await?;
            let hash = entry.source.hash.clone();
            if let Some(wanted) = i.checked_sub(config.models.len()).and_then(|j| config.fetch_models.get(j)) {
                if *wanted != hash {
                    return Err(ExecutorError::HashMismatch {
                        what: format!("model {}", path.display()),
                        expected: wanted.clone(),
                        found: hash,
                    });
                }
            }
            tracing::info!("model {} ready: hash {hash}, context {} tokens", entry.source.name, entry.context_length);
            if models.insert(hash.clone(), entry).is_some() {
                return Err(ExecutorError::Config(format!("model {hash} given twice")));
            }
            order.push(hash);
        }
        let exec = Self {
            models,
            order,
            adapters: RwLock::new(HashMap::new()),
            cache: Mutex::new(AdapterCache::new(config.limits.adapter_cache_bytes, config.limits.max_cached_adapters)),
            limits: config.limits,
            in_flight: Semaphore::new(config.limits.max_in_flight.max(1)),
            served: AtomicU64::new(0),
            adapter_store: config.adapter_store.clone(),
            peers: config.peers.clone(),
            fetching: tokio::sync::Mutex::new(()),
            training: Semaphore::new(1),
            train_results: Mutex::new(BTreeMap::new()),
            hardware_class,
            kernel_path,
        };
        let first = exec.order[0].clone();
        for dir in &config.adapter_dirs {
            let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| ExecutorError::io(dir, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("adapter_config.json").is_file())
                .collect();
            subdirs.sort();
            for sub in subdirs {
                let hash = exec.register_adapter(&first, &sub)?;
                tracing::info!("adapter {} registered: {hash}", sub.display());
            }
        }
        Ok(exec)
    }

    /// The local path of base model `hash`: in the store already, or fetched from the first peer
    /// that serves bytes with that hash.
    async fn obtain_model(hash: &str, config: &ExecutorConfig) -> Result<PathBuf> {
        let hash = parse_hash(hash)?;
        let store = config.adapter_store.as_ref().ok_or_else(|| ExecutorError::Config("fetching a model needs --adapter-store".into()))?;
        let dir = store.join("models").join(&hash);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let files: Vec<String> = entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
            if !files.is_empty() {
                return Ok(crate::artifact::model_path_in(&dir, &files));
            }
        }
        let mut reasons = Vec::new();
        for peer in &config.peers {
            tracing::info!("fetching base model {hash} from {peer}");
            match crate::artifact::fetch_model(peer, &hash, store, config.max_model_fetch_bytes).await {
                Ok(path) => {
                    tracing::info!("base model {hash} fetched from {peer}");
                    return Ok(path);
                }
                Err(e) => {
                    tracing::warn!("base model {hash} from {peer}: {e}");
                    reasons.push(format!("{peer}: {e}"));
                }
            }
        }
        Err(ExecutorError::UnknownModel(format!("{hash} (no peer could provide it: {})", reasons.join("; "))))
    }

    async fn load_model(path: &Path, config: &ExecutorConfig) -> Result<ModelEntry> {
        let p = path.to_path_buf();
        let source =
            tokio::task::spawn_blocking(move || ModelSource::open(&p)).await.map_err(|e| ExecutorError::EngineStopped(e.to_string()))??;
        let (tokenizer, llama_cfg) = match source.format {
            ModelFormat::Safetensors => (TextTokenizer::from_dir(&source.path)?, LlamaConfig::from_hf_dir(&source.path).ok()),
            ModelFormat::Gguf => {
                let mut f = std::fs::File::open(&source.path).map_err(|e| ExecutorError::io(&source.path, e))?;
                let content = candle_core::quantized::gguf_file::Content::read(&mut f)
                    .map_err(|e| ExecutorError::InvalidModel { path: source.path.clone(), reason: e.to_string() })?;
                (TextTokenizer::from_gguf(&content)?, LlamaConfig::from_gguf(&source.path, &content).ok())
            }
        };
        let dtype = config.dtype;
        let mistral = if config.base_engine == BaseEngine::Mistral {
            Some(
                MistralEngine::load(&source.path, source.format == ModelFormat::Gguf, MistralSettings::deterministic(dtype.candle()))
                    .await?,
            )
        } else {
            None
        };
        let openlora = if config.openlora || config.base_engine == BaseEngine::OpenLora {
            let (p, fmt) = (source.path.clone(), source.format);
            let kernels = config.kernels;
            let model = tokio::task::spawn_blocking(move || -> Result<LlamaModel> {
                let dev = device()?;
                let mut model = match fmt {
                    ModelFormat::Safetensors => LlamaModel::load_hf_dir(&p, dtype.candle(), &dev),
                    ModelFormat::Gguf => LlamaModel::load_gguf(&p, dtype.candle(), &dev),
                }?;
                if model.set_kernels(kernels).is_ok() {
                    model.self_check()?;
                    tracing::info!(
                        "{}: self-check passed ({} at {} threads = the scalar definition)",
                        p.display(),
                        kernels.describe(),
                        rayon::current_num_threads()
                    );
                }
                Ok(model)
            })
            .await
            .map_err(|e| ExecutorError::EngineStopped(e.to_string()))??;
            Some(OpenLoraEngine::start(Arc::new(model), config.limits.max_batch, config.limits.max_in_flight)?)
        } else {
            None
        };
        let mut context_length =
            llama_cfg.as_ref().map(|c| c.max_positions).or(mistral.as_ref().and_then(|m| m.max_sequence_length())).unwrap_or(0);
        if let Some(m) = mistral.as_ref().and_then(|m| m.max_sequence_length()) {
            context_length = context_length.min(m);
        }
        if context_length == 0 {
            return Err(ExecutorError::InvalidModel { path: source.path.clone(), reason: "unknown context length".into() });
        }
        Ok(ModelEntry { source, tokenizer: Arc::new(tokenizer), context_length, dtype, mistral, openlora })
    }

    /// Registers the adapter directory `dir` for `model` without loading its tensors; returns its
    /// content hash. The tensors are loaded (and checked against the hash again) on first use.
    pub fn register_adapter(&self, model: &str, dir: &Path) -> Result<String> {
        let model = parse_hash(model)?;
        if !self.models.contains_key(&model) {
            return Err(ExecutorError::UnknownModel(model));
        }
        let hash = adapter_hash(dir, &self.limits.adapter)?;
        let mut reg = self.adapters.write().map_err(lock_err)?;
        if let Some(existing) = reg.get(&hash) {
            if existing.model != model {
                return Err(ExecutorError::AdapterModelMismatch {
                    adapter: hash,
                    registered_for: existing.model.clone(),
                    requested: model,
                });
            }
            return Ok(hash);
        }
        if reg.len() >= self.limits.max_registered_adapters {
            return Err(ExecutorError::ResourceExhausted(format!("{} adapters registered already", reg.len())));
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        reg.insert(hash.clone(), AdapterEntry { path: dir.to_path_buf(), name, model });
        Ok(hash)
    }

    /// Registers, validates and caches an adapter (the LoadAdapter RPC).
    pub async fn load_adapter(&self, model: &str, dir: &Path) -> Result<AdapterSummary> {
        let model_hash = parse_hash(model)?;
        let entry = self.models.get(&model_hash).ok_or_else(|| ExecutorError::UnknownModel(model_hash.clone()))?;
        let engine = entry.openlora.as_ref().ok_or_else(|| ExecutorError::Config("OpenLoRA is disabled for this model".into()))?;
        if !dir.is_dir() {
            return Err(ExecutorError::InvalidRequest(format!("{} is not a directory", dir.display())));
        }
        let (m, d, lim) = (engine.model().clone(), dir.to_path_buf(), self.limits.adapter);
        let adapter = tokio::task::spawn_blocking(move || LoraAdapter::load(&d, &m, &lim))
            .await
            .map_err(|e| ExecutorError::EngineStopped(e.to_string()))??;
        let hash = self.register_adapter(&model_hash, dir)?;
        if hash != adapter.hash {
            return Err(ExecutorError::HashMismatch {
                what: format!("adapter {}", dir.display()),
                expected: hash,
                found: adapter.hash.clone(),
            });
        }
        let adapter = self.cache.lock().map_err(lock_err)?.insert(Arc::new(adapter))?;
        Ok(AdapterSummary { hash, bytes: adapter.bytes(), rank: adapter.rank as u32, targets: adapter.targets.clone() })
    }

    async fn resolve_adapter(&self, hash: &str, model_hash: &str, engine: &OpenLoraEngine) -> Result<Arc<LoraAdapter>> {
        let entry =
            self.adapters.read().map_err(lock_err)?.get(hash).cloned().ok_or_else(|| ExecutorError::UnknownAdapter(hash.to_string()))?;
        if entry.model != model_hash {
            return Err(ExecutorError::AdapterModelMismatch {
                adapter: hash.to_string(),
                registered_for: entry.model,
                requested: model_hash.to_string(),
            });
        }
        if let Some(a) = self.cache.lock().map_err(lock_err)?.get(hash) {
            return Ok(a);
        }
        let (m, d, lim, h) = (engine.model().clone(), entry.path.clone(), self.limits.adapter, hash.to_string());
        let adapter = tokio::task::spawn_blocking(move || LoraAdapter::load_expecting(&d, &m, &lim, Some(&h)))
            .await
            .map_err(|e| ExecutorError::EngineStopped(e.to_string()))??;
        self.cache.lock().map_err(lock_err)?.insert(Arc::new(adapter))
    }

    /// Runs one request. Every check happens before any compute; a refused request leaves the
    /// executor as it was.
    pub async fn execute(&self, req: ExecuteParams) -> Result<ExecuteOutput> {
        let profile = DeterminismProfile::from_proto(req.profile.as_ref())?;
        let model_hash = parse_hash(&req.model)?;
        let entry = self.models.get(&model_hash).ok_or_else(|| ExecutorError::UnknownModel(model_hash.clone()))?;
        if profile.dtype != entry.dtype {
            return Err(ExecutorError::UnsupportedProfile(format!(
                "dtype {} but model {} is loaded in {}",
                profile.dtype.as_str(),
                entry.source.name,
                entry.dtype.as_str()
            )));
        }
        let adapter_hash = if req.adapter.trim().is_empty() { None } else { Some(parse_hash(&req.adapter)?) };
        if let Some(h) = &adapter_hash {
            self.ensure_adapter(h, &model_hash).await?;
        }
        let prompt_bytes = if req.messages.is_empty() {
            req.prompt.len()
        } else if !req.prompt.is_empty() {
            return Err(ExecutorError::InvalidRequest("set either prompt or messages, not both".into()));
        } else {
            req.messages.iter().fold(0usize, |n, m| n.saturating_add(m.content.len()))
        };
        if prompt_bytes == 0 {
            return Err(ExecutorError::InvalidRequest("empty prompt".into()));
        }
        if prompt_bytes > self.limits.max_prompt_bytes {
            return Err(ExecutorError::InvalidRequest(format!(
                "prompt of {prompt_bytes} bytes exceeds the limit of {}",
                self.limits.max_prompt_bytes
            )));
        }
        let limit = if profile.max_tokens > 0 { profile.max_tokens.min(self.limits.max_tokens) } else { self.limits.max_tokens };
        if req.max_tokens == 0 || req.max_tokens > limit {
            return Err(ExecutorError::InvalidRequest(format!("max_tokens {} out of range 1..={limit}", req.max_tokens)));
        }
        let _permit = self.in_flight.try_acquire().map_err(|_| ExecutorError::ResourceExhausted("too many requests in flight".into()))?;
        let prompt = if req.messages.is_empty() {
            entry.tokenizer.encode(&req.prompt)?
        } else {
            entry.tokenizer.encode_chat(&entry.source.name, &req.messages, &req.chat_template_hash)?
        };
        if prompt.is_empty() {
            return Err(ExecutorError::InvalidRequest("prompt encodes to no tokens".into()));
        }
        let max_tokens = req.max_tokens as usize;
        if prompt.len() + max_tokens > entry.context_length {
            return Err(ExecutorError::ContextOverflow { prompt_tokens: prompt.len(), max_tokens, context_length: entry.context_length });
        }
        let selector = TokenSelector::new(profile.sampling, req.seed);
        let eos = entry.tokenizer.eos_ids().to_vec();
        let prompt_tokens = prompt.len() as u32;
        let (mut tokens, engine) = match (&adapter_hash, &entry.mistral) {
            (None, Some(m)) => (m.generate(prompt, max_tokens, selector).await?, "mistralrs"),
            _ => {
                let ol = entry.openlora.as_ref().ok_or_else(|| ExecutorError::Config("OpenLoRA is disabled for this model".into()))?;
                let adapter = match &adapter_hash {
                    Some(h) => Some(self.resolve_adapter(h, &model_hash, ol).await?),
                    None => None,
                };
                let g = GenerationRequest {
                    prompt,
                    max_tokens,
                    selector,
                    adapter,
                    sequential: profile.batching == BatchingMode::Sequential,
                    eos: eos.clone(),
                };
                (ol.generate(g).await?, "openlora")
            }
        };
        let finish_reason = match tokens.iter().position(|t| eos.contains(t)) {
            Some(i) => {
                tokens.truncate(i);
                "stop"
            }
            None if tokens.len() < max_tokens => "stop",
            None => "length",
        };
        let text = entry.tokenizer.decode(&tokens)?;
        self.served.fetch_add(1, Ordering::Relaxed);
        Ok(ExecuteOutput {
            output_hash: output_hash(&tokens, &text),
            tokens,
            text,
            prompt_tokens,
            finish_reason: finish_reason.to_string(),
            profile_hash: profile.hash(),
            engine: engine.to_string(),
        })
    }

    /// Executes and measures (for the CLI): the output and the generation seconds.
    pub async fn execute_timed(&self, req: ExecuteParams) -> Result<(ExecuteOutput, f64)> {
        let t = Instant::now();
        let out = self.execute(req).await?;
        Ok((out, t.elapsed().as_secs_f64()))
    }

    /// The ListModels answer.
    pub fn list(&self) -> Result<pb::ListModelsResponse> {
        let models = self
            .order
            .iter()
            .filter_map(|h| self.models.get(h))
            .map(|m| pb::ModelInfo {
                hash: m.source.hash.clone(),
                name: m.source.name.clone(),
                format: m.source.format.as_str().to_string(),
                context_length: m.context_length as u32,
                dtype: m.dtype.as_str().to_string(),
                max_tokens_limit: self.limits.max_tokens,
                chat_template_hash: m.tokenizer.chat_template().map(|t| t.hash().to_string()).unwrap_or_default(),
            })
            .collect();
        let cache = self.cache.lock().map_err(lock_err)?;
        let mut adapters: Vec<pb::AdapterInfo> = self
            .adapters
            .read()
            .map_err(lock_err)?
            .iter()
            .map(|(h, a)| pb::AdapterInfo { hash: h.clone(), name: a.name.clone(), model: a.model.clone(), cached: cache.contains(h) })
            .collect();
        adapters.sort_by(|a, b| a.name.cmp(&b.name).then(a.hash.cmp(&b.hash)));
        Ok(pb::ListModelsResponse { models, adapters })
    }

    /// The Health answer.
    pub fn health(&self) -> Result<pb::HealthResponse> {
        let cache = self.cache.lock().map_err(lock_err)?;
        Ok(pb::HealthResponse {
            status: "SERVING".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            models: self.models.len() as u32,
            adapters_registered: self.adapters.read().map_err(lock_err)?.len() as u32,
            adapters_cached: cache.len() as u32,
            adapter_cache_bytes: cache.bytes(),
            adapter_cache_budget_bytes: cache.budget_bytes(),
            requests_served: self.served.load(Ordering::Relaxed),
            hardware_class: self.hardware_class.clone(),
            kernel_path: self.kernel_path.clone(),
        })
    }

    /// Makes adapter `hash` available for `model`: registered already, or fetched from a peer
    /// just in time (checked against its hash, then registered). Without peers or store, or when
    /// no peer has it, the request fails with the reasons.
    pub async fn ensure_adapter(&self, hash: &str, model: &str) -> Result<()> {
        let registered = self.adapters.read().map_err(lock_err)?.get(hash).cloned();
        if let Some(a) = registered {
            if a.model != model {
                return Err(ExecutorError::AdapterModelMismatch {
                    adapter: hash.to_string(),
                    registered_for: a.model,
                    requested: model.to_string(),
                });
            }
            return Ok(());
        }
        let Some(store) = &self.adapter_store else { return Err(ExecutorError::UnknownAdapter(hash.to_string())) };
        if self.peers.is_empty() {
            return Err(ExecutorError::UnknownAdapter(hash.to_string()));
        }
        // One fetch at a time: a burst of requests for a new adapter fetches it once.
        let _guard = self.fetching.lock().await;
        if self.adapters.read().map_err(lock_err)?.contains_key(hash) {
            return Ok(());
        }
        let mut reasons = Vec::new();
        for peer in &self.peers {
            match crate::artifact::fetch_adapter(peer, hash, store, &self.limits.adapter).await {
                Ok((dir, peer_model)) if peer_model == model => {
                    let registered = self.register_adapter(model, &dir)?;
                    if registered != hash {
                        reasons.push(format!("{peer}: stored copy hashes to {registered}"));
                        continue;
                    }
                    tracing::info!("adapter {hash} fetched from {peer}");
                    return Ok(());
                }
                Ok((_, peer_model)) => reasons.push(format!("{peer}: registered for base model {peer_model}, not {model}")),
                Err(e) => {
                    tracing::warn!("adapter {hash} from {peer}: {e}");
                    reasons.push(format!("{peer}: {e}"));
                }
            }
        }
        Err(ExecutorError::UnknownAdapter(format!("{hash} (no peer could provide it: {})", reasons.join("; "))))
    }

    /// The files of an artifact this executor holds (GetArtifact): an adapter's two files, or a
    /// base model's GGUF file or weight files; with the base model hash it belongs to and, for an
    /// adapter, its directory (so its bytes can be re-hashed before they are served).
    pub fn artifact(&self, hash: &str) -> Result<Artifact> {
        let hash = parse_hash(hash)?;
        if let Some(a) = self.adapters.read().map_err(lock_err)?.get(&hash) {
            let files = crate::artifact::ADAPTER_FILES.iter().map(|n| (n.to_string(), a.path.join(n))).collect();
            return Ok(Artifact { model: a.model.clone(), files, adapter_dir: Some(a.path.clone()) });
        }
        if let Some(m) = self.models.get(&hash) {
            let files = match m.source.format {
                ModelFormat::Gguf => vec![(m.source.name.clone(), m.source.path.clone())],
                ModelFormat::Safetensors => crate::source::model_dir_files(&m.source.path)?,
            };
            return Ok(Artifact { model: hash, files, adapter_dir: None });
        }
        Err(ExecutorError::UnknownAdapter(format!("{hash} (neither an adapter nor a base model this executor holds)")))
    }

    /// Checks a training request (model held with OpenLoRA, config, row sizes) before any work.
    pub fn prepare_train(&self, r: pb::TrainRequest) -> Result<PreparedTrain> {
        let model_hash = parse_hash(&r.model)?;
        let entry = self.models.get(&model_hash).ok_or_else(|| ExecutorError::UnknownModel(model_hash.clone()))?;
        let engine = entry
            .openlora
            .as_ref()
            .ok_or_else(|| ExecutorError::Config("training needs the OpenLoRA model, which is disabled for this model".into()))?;
        let store = self
            .adapter_store
            .clone()
            .ok_or_else(|| ExecutorError::Config("no adapter store is configured (--adapter-store): cannot train".into()))?;
        if r.data_root.len() > MAX_DATA_ROOT_BYTES {
            return Err(ExecutorError::InvalidRequest(format!("data root of {} bytes", r.data_root.len())));
        }
        let settings = TrainSettings::from_proto(r.config.as_ref(), &self.limits.train)?;
        train::check_rows(&r.rows, &self.limits.train)?;
        if !r.chat_template_hash.is_empty() {
            let held = entry.tokenizer.chat_template().map(|t| t.hash().to_string()).unwrap_or_default();
            if !held.eq_ignore_ascii_case(&r.chat_template_hash) {
                return Err(ExecutorError::InvalidRequest(format!(
                    "the job pins chat template {}, this model's is {}",
                    r.chat_template_hash,
                    if held.is_empty() { "none" } else { &held }
                )));
            }
        }
        let digest: [u8; 32] = Sha256::digest(r.encode_to_vec()).into();
        Ok(PreparedTrain {
            job: TrainJob {
                job_id: r.job_id,
                model_hash,
                rows: r.rows,
                data_root: r.data_root,
                settings,
                chat_template_hash: r.chat_template_hash,
            },
            digest,
            model: engine.model().clone(),
            tokenizer: entry.tokenizer.clone(),
            store,
        })
    }

    /// Runs a prepared job off the async runtime (one job at a time), registers the adapter for
    /// its base model and returns the outcome; an identical request answered before returns the
    /// kept outcome at once.
    pub async fn train(&self, p: PreparedTrain, mut on_step: impl FnMut(&StepReport) + Send + 'static) -> Result<TrainOutcome> {
        let kept = self.train_results.lock().map_err(lock_err)?.get(&p.digest).cloned();
        if let Some(o) = kept {
            if o.adapter_dir.join("adapter_model.safetensors").is_file() {
                return Ok(o);
            }
        }
        let _permit =
            self.training.try_acquire().map_err(|_| ExecutorError::ResourceExhausted("a training job is already running".into()))?;
        let model_hash = p.job.model_hash.clone();
        let limits = self.limits.train;
        let digest = p.digest;
        tracing::info!("training job {} on model {model_hash}: {} rows", p.job.job_id, p.job.rows.len());
        let outcome =
            tokio::task::spawn_blocking(move || train::train(&p.model, &p.tokenizer, &p.job, &p.store, &limits, &mut |s| on_step(s)))
                .await
                .map_err(|e| ExecutorError::EngineStopped(e.to_string()))??;
        let hash = self.register_adapter(&model_hash, &outcome.adapter_dir)?;
        if hash != outcome.adapter_hash {
            return Err(ExecutorError::HashMismatch { what: "trained adapter".into(), expected: outcome.adapter_hash, found: hash });
        }
        tracing::info!(
            "training done: adapter {} ({} steps, {} tokens, eval loss {})",
            outcome.adapter_hash,
            outcome.steps,
            outcome.tokens,
            f32::from_bits(outcome.eval_loss_bits)
        );
        let mut kept = self.train_results.lock().map_err(lock_err)?;
        while kept.len() >= MAX_KEPT_TRAIN_RESULTS {
            let Some(first) = kept.keys().next().copied() else { break };
            kept.remove(&first);
        }
        kept.insert(digest, outcome.clone());
        Ok(outcome)
    }

    /// The bounds in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Content hashes of the models, in configuration order.
    pub fn model_hashes(&self) -> &[String] {
        &self.order
    }

    /// The OpenLoRA base model of a model hash (benchmarks and memory accounting).
    pub fn openlora_model(&self, model: &str) -> Option<&Arc<LlamaModel>> {
        self.models.get(model).and_then(|m| m.openlora.as_ref()).map(|e| e.model())
    }

    /// The mistral.rs engine of a model hash (benchmarks: the plain mistral.rs baseline runs on it).
    pub fn mistral_engine(&self, model: &str) -> Option<&MistralEngine> {
        self.models.get(model).and_then(|m| m.mistral.as_ref())
    }

    /// The OpenLoRA engine of a model hash.
    pub fn openlora_engine(&self, model: &str) -> Option<&OpenLoraEngine> {
        self.models.get(model).and_then(|m| m.openlora.as_ref())
    }

    /// The tokenizer of a model hash.
    pub fn tokenizer(&self, model: &str) -> Option<&Arc<TextTokenizer>> {
        self.models.get(model).map(|m| &m.tokenizer)
    }

    /// Bytes of cached adapter weights.
    pub fn adapter_cache_bytes(&self) -> u64 {
        self.cache.lock().map(|c| c.bytes()).unwrap_or(0)
    }
}
