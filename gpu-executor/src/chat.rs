//! Chat templates: how a conversation becomes the prompt a chat model was trained on.
//!
//! An instruct model answers well only when its input looks like its training conversations
//! (`<|im_start|>user\n…<|im_end|>\n<|im_start|>assistant\n` for SmolLM2). The model ships the
//! Jinja template that builds that text: a GGUF file in its `tokenizer.chat_template` metadata, a
//! model directory in `tokenizer_config.json`. The chain pins the template's sha256 in every chat
//! request, and this module renders only with a template of exactly that hash, so every executor
//! turns the same messages into the same text and then the same tokens.
//!
//! Rendering is deterministic: minijinja (the engine mistral.rs and Hugging Face's templates
//! target, with Python string methods from `pycompat`) over plain data; no time, no randomness,
//! no I/O. `raise_exception(msg)` in a template becomes an invalid-request error.

use std::path::Path;

use minijinja::{Environment, ErrorKind};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{ExecutorError, Result};
use crate::pb;

/// Roles a conversation may use.
pub const ROLES: [&str; 3] = ["system", "user", "assistant"];

/// A model's chat template with the special-token strings templates refer to.
#[derive(Clone, Debug)]
pub struct ChatTemplate {
    source: String,
    hash: String,
    bos_token: String,
    eos_token: String,
}

#[derive(Serialize)]
struct Turn<'a> {
    role: &'a str,
    content: &'a str,
}

/// Lower-case hex sha256 of a template's UTF-8 text: the hash the chain pins.
pub fn template_hash(source: &str) -> String {
    hex::encode(Sha256::digest(source.as_bytes()))
}

impl ChatTemplate {
    /// A template from its Jinja source; `bos_token` / `eos_token` are the strings of the model's
    /// BOS and EOS tokens ("" when it has none).
    pub fn new(source: String, bos_token: String, eos_token: String) -> Result<Self> {
        let template = Self { hash: template_hash(&source), source, bos_token, eos_token };
        // Refuse a template that does not even parse at load time, not at the first request.
        template.environment().template_from_str(&template.source).map_err(|e| invalid_template(&e))?;
        Ok(template)
    }

    /// The `chat_template` of a model directory's `tokenizer_config.json` (a string, or a list of
    /// named templates of which "default" is used); None without one.
    pub fn source_from_dir(dir: &Path) -> Result<Option<String>> {
        let path = dir.join("tokenizer_config.json");
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ExecutorError::io(&path, e))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ExecutorError::InvalidModel { path: path.clone(), reason: e.to_string() })?;
        Ok(match v.get("chat_template") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Array(list)) => list
                .iter()
                .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
                .and_then(|t| t.get("template"))
                .and_then(|t| t.as_str())
                .map(str::to_string),
            _ => None,
        })
    }

    /// Lower-case hex sha256 of the template's text.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    fn environment(&self) -> Environment<'static> {
        let mut env = Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> std::result::Result<String, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
        });
        env
    }

    /// Renders a conversation with the assistant's turn opened (`add_generation_prompt`), after
    /// checking the request pins this template and every turn is well formed.
    pub fn render(&self, messages: &[pb::ChatMessage], pinned_hash: &str) -> Result<String> {
        if pinned_hash.is_empty() {
            return Err(ExecutorError::InvalidRequest("a chat request must pin the model's chat_template_hash".into()));
        }
        if !pinned_hash.eq_ignore_ascii_case(&self.hash) {
            return Err(ExecutorError::ChatTemplateMismatch { pinned: pinned_hash.to_string(), held: self.hash.clone() });
        }
        if messages.is_empty() {
            return Err(ExecutorError::InvalidRequest("empty conversation".into()));
        }
        for (i, m) in messages.iter().enumerate() {
            if !ROLES.contains(&m.role.as_str()) {
                return Err(ExecutorError::InvalidRequest(format!("message {i}: role {:?} is not one of {ROLES:?}", m.role)));
            }
        }
        let turns: Vec<(&str, &str)> = messages.iter().map(|m| (m.role.as_str(), m.content.as_str())).collect();
        self.render_turns(&turns, true)
    }

    /// Renders `(role, content)` turns as they are (no pin or role check: the caller checked),
    /// opening the assistant's turn when `add_generation_prompt` is set (inference) and not when
    /// the conversation is complete (a training row).
    pub fn render_turns(&self, turns: &[(&str, &str)], add_generation_prompt: bool) -> Result<String> {
        let turns: Vec<Turn<'_>> = turns.iter().map(|(role, content)| Turn { role, content }).collect();
        let env = self.environment();
        let template = env.template_from_str(&self.source).map_err(|e| invalid_template(&e))?;
        template
            .render(minijinja::context! {
                messages => turns,
                add_generation_prompt => add_generation_prompt,
                bos_token => self.bos_token,
                eos_token => self.eos_token,
            })
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidOperation => ExecutorError::InvalidRequest(format!("the chat template refused the conversation: {e}")),
                _ => invalid_template(&e),
            })
    }
}

fn invalid_template(e: &minijinja::Error) -> ExecutorError {
    ExecutorError::Config(format!("chat template: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are helpful.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    fn turn(role: &str, content: &str) -> pb::ChatMessage {
        pb::ChatMessage { role: role.into(), content: content.into() }
    }

    #[test]
    fn renders_a_conversation_with_the_generation_prompt() {
        let t = ChatTemplate::new(CHATML.into(), String::new(), "<|im_end|>".into()).unwrap();
        let text = t.render(&[turn("user", "What is open data?")], &template_hash(CHATML)).unwrap();
        assert_eq!(
            text,
            "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat is open data?<|im_end|>\n<|im_start|>assistant\n"
        );
        let two = t
            .render(&[turn("system", "Be brief."), turn("user", "Hi"), turn("assistant", "Hello."), turn("user", "Bye")], t.hash())
            .unwrap();
        assert!(two.starts_with("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi"), "{two}");
        assert!(two.ends_with("<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"), "{two}");
    }

    #[test]
    fn refuses_another_template_bad_roles_and_template_errors() {
        let t = ChatTemplate::new(CHATML.into(), String::new(), String::new()).unwrap();
        let e = t.render(&[turn("user", "hi")], &"ab".repeat(32)).unwrap_err();
        assert!(matches!(e, ExecutorError::ChatTemplateMismatch { .. }), "{e}");
        assert!(matches!(t.render(&[turn("user", "hi")], ""), Err(ExecutorError::InvalidRequest(_))));
        assert!(matches!(t.render(&[turn("tool", "hi")], t.hash()), Err(ExecutorError::InvalidRequest(_))));
        assert!(matches!(t.render(&[], t.hash()), Err(ExecutorError::InvalidRequest(_))));
        let strict = "{% if messages[0].role != 'user' %}{{ raise_exception('first turn must be the user') }}{% endif %}{{ messages[0].content.strip() }}";
        let t = ChatTemplate::new(strict.into(), String::new(), String::new()).unwrap();
        assert_eq!(t.render(&[turn("user", "  hi  ")], t.hash()).unwrap(), "hi");
        assert!(matches!(t.render(&[turn("assistant", "x")], t.hash()), Err(ExecutorError::InvalidRequest(_))));
        assert!(ChatTemplate::new("{% for %}".into(), String::new(), String::new()).is_err());
    }
}
