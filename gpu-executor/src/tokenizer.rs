//! The executor's tokenizer. Both engines receive token ids from here and their outputs are
//! decoded here, so a model's tokenization is one piece of code whichever engine runs it.
//!
//! A model directory brings its `tokenizer.json`; a GGUF file carries a GPT-2 style byte-level BPE
//! in its metadata (`tokenizer.ggml.*`), which is rebuilt here with the `tokenizers` crate.

use std::path::Path;

use candle_core::quantized::gguf_file;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

use crate::chat::ChatTemplate;
use crate::error::{ExecutorError, Result};
use crate::pb;

/// A model's tokenizer with its end-of-sequence ids and its chat template.
pub struct TextTokenizer {
    inner: Tokenizer,
    eos_ids: Vec<u32>,
    bos_id: Option<u32>,
    add_bos: bool,
    chat_template: Option<ChatTemplate>,
}

fn tok_err(e: impl std::fmt::Display) -> ExecutorError {
    ExecutorError::Tokenizer(e.to_string())
}

fn json_ids(v: Option<&serde_json::Value>) -> Vec<u32> {
    match v {
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|x| u32::try_from(x).ok()).into_iter().collect(),
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_u64()).filter_map(|x| u32::try_from(x).ok()).collect(),
        _ => Vec::new(),
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json` from a model directory; end-of-sequence ids come from `config.json`
    /// (`eos_token_id`, a number or a list) and `generation_config.json` when present.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let inner = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(tok_err)?;
        let mut eos_ids = Vec::new();
        let mut bos_id = None;
        for name in ["config.json", "generation_config.json"] {
            let path = dir.join(name);
            if !path.exists() {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| ExecutorError::io(&path, e))?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| ExecutorError::InvalidModel { path: path.clone(), reason: e.to_string() })?;
            eos_ids.extend(json_ids(v.get("eos_token_id")));
            bos_id = bos_id.or_else(|| json_ids(v.get("bos_token_id")).first().copied());
        }
        eos_ids.sort_unstable();
        eos_ids.dedup();
        // A directory's tokenizer.json adds BOS through its own post-processor if the model wants it.
        let template = ChatTemplate::source_from_dir(dir)?;
        Self { inner, eos_ids, bos_id, add_bos: false, chat_template: None }.with_chat_template(template)
    }

    /// Attaches the model's chat template (its BOS / EOS strings from this vocabulary).
    fn with_chat_template(mut self, source: Option<String>) -> Result<Self> {
        if let Some(source) = source {
            let token = |id: Option<u32>| id.and_then(|i| self.inner.id_to_token(i)).unwrap_or_default();
            let (bos, eos) = (token(self.bos_id), token(self.eos_ids.first().copied()));
            self.chat_template = Some(ChatTemplate::new(source, bos, eos)?);
        }
        Ok(self)
    }

    /// Rebuilds the byte-level BPE tokenizer a GGUF file describes.
    pub fn from_gguf(content: &gguf_file::Content) -> Result<Self> {
        let md = &content.metadata;
        let get = |k: &str| md.get(k).ok_or_else(|| ExecutorError::Tokenizer(format!("GGUF metadata lacks {k}")));
        let model = get("tokenizer.ggml.model")?.to_string().map_err(tok_err)?.clone();
        if model != "gpt2" {
            return Err(ExecutorError::Tokenizer(format!("GGUF tokenizer model {model:?} is not supported (byte-level BPE \"gpt2\" is)")));
        }
        let tokens: Vec<String> =
            get("tokenizer.ggml.tokens")?.to_vec().map_err(tok_err)?.iter().map(|v| v.to_string().cloned()).collect::<Result<_, _>>()?;
        let merges: Vec<(String, String)> = get("tokenizer.ggml.merges")?
            .to_vec()
            .map_err(tok_err)?
            .iter()
            .map(|v| {
                let s = v.to_string()?;
                let (a, b) = s.split_once(' ').ok_or_else(|| candle_core::Error::Msg(format!("bad merge {s:?}")))?;
                Ok((a.to_string(), b.to_string()))
            })
            .collect::<Result<_, candle_core::Error>>()?;
        let types: Vec<i32> = match md.get("tokenizer.ggml.token_type") {
            Some(v) => v.to_vec().map_err(tok_err)?.iter().map(|x| x.to_i32()).collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let vocab: tokenizers::models::bpe::Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(tok_err)?;
        let mut inner = Tokenizer::new(bpe);
        let byte_level = ByteLevel::new(false, true, true);
        let pre = md.get("tokenizer.ggml.pre").and_then(|v| v.to_string().ok()).cloned().unwrap_or_default();
        if pre == "smollm" {
            let seq = Sequence::new(vec![PreTokenizerWrapper::Digits(Digits::new(true)), PreTokenizerWrapper::ByteLevel(byte_level)]);
            inner.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(seq)));
        } else {
            inner.with_pre_tokenizer(Some(byte_level));
        }
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        // Control tokens (type 3) are special: never split, skipped when decoding.
        let specials: Vec<AddedToken> = types
            .iter()
            .enumerate()
            .filter(|(_, &t)| t == 3)
            .filter_map(|(i, _)| tokens.get(i))
            .map(|t| AddedToken::from(t.clone(), true))
            .collect();
        inner.add_special_tokens(&specials);
        let id = |k: &str| md.get(k).and_then(|v| v.to_u32().ok());
        let eos_ids = id("tokenizer.ggml.eos_token_id").into_iter().collect();
        let bos_id = id("tokenizer.ggml.bos_token_id");
        let add_bos = md.get("tokenizer.ggml.add_bos_token").and_then(|v| v.to_bool().ok()).unwrap_or(false);
        let template = md.get("tokenizer.chat_template").and_then(|v| v.to_string().ok()).cloned();
        Self { inner, eos_ids, bos_id, add_bos, chat_template: None }.with_chat_template(template)
    }

    /// The model's chat template, when it ships one.
    pub fn chat_template(&self) -> Option<&ChatTemplate> {
        self.chat_template.as_ref()
    }

    /// Token ids of a conversation rendered with the model's chat template, which must hash to
    /// `pinned_hash` (the hash the chain pinned in the request).
    pub fn encode_chat(&self, model: &str, messages: &[pb::ChatMessage], pinned_hash: &str) -> Result<Vec<u32>> {
        let template = self.chat_template.as_ref().ok_or_else(|| ExecutorError::NoChatTemplate(model.to_string()))?;
        self.encode(&template.render(messages, pinned_hash)?)
    }

    /// Token ids of a prompt (BOS prepended when the model asks for it).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.inner.encode(text, true).map_err(tok_err)?;
        let mut ids = enc.get_ids().to_vec();
        if self.add_bos {
            if let Some(b) = self.bos_id {
                if ids.first() != Some(&b) {
                    ids.insert(0, b);
                }
            }
        }
        Ok(ids)
    }

    /// Text of generated ids, special tokens skipped.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, true).map_err(tok_err)
    }

    /// End-of-sequence ids: generation stops at the first one.
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos_ids
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_tokenizer_round_trips_text() {
        let dir = tempfile::tempdir().unwrap();
        crate::fixtures::write_tokenizer(dir.path()).unwrap();
        std::fs::write(dir.path().join("config.json"), r#"{"eos_token_id": 256, "bos_token_id": 257}"#).unwrap();
        let t = TextTokenizer::from_dir(dir.path()).unwrap();
        let ids = t.encode("héllo, world 42").unwrap();
        assert_eq!(t.decode(&ids).unwrap(), "héllo, world 42");
        assert_eq!(t.eos_ids(), &[256]);
        // Special tokens are skipped in decoded text.
        let mut with_eos = ids.clone();
        with_eos.push(256);
        assert_eq!(t.decode(&with_eos).unwrap(), "héllo, world 42");
    }
}
