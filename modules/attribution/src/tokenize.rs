//! The chain's canonical, model-independent tokenization (documented in
//! `proto/openledger/attribution/v1/attribution.proto`, which is the normative text):
//!
//! 1. bytes → UTF-8, invalid sequences replaced by U+FFFD (`String::from_utf8_lossy`);
//! 2. Unicode NFC;
//! 3. every char lower-cased with `char::to_lowercase` (locale-independent; may yield several chars);
//! 4. scanning the resulting chars: a maximal run of `char::is_alphanumeric` chars is one word
//!    token, `char::is_whitespace` separates tokens and is dropped, any other char is a
//!    punctuation token by itself.
//!
//! No floats, no locale, no tables beyond the Unicode data compiled into `std` and
//! `unicode-normalization`, so every node (and anyone re-running an attribution) gets the same
//! tokens.

use unicode_normalization::UnicodeNormalization;

/// Calls `f` with each canonical token of `text`, in order.
pub fn for_each_token(text: &str, mut f: impl FnMut(&str)) {
    let mut word = String::new();
    let mut punct = [0u8; 4];
    for c in text.nfc() {
        for lc in c.to_lowercase() {
            if lc.is_alphanumeric() {
                word.push(lc);
                continue;
            }
            if !word.is_empty() {
                f(&word);
                word.clear();
            }
            if !lc.is_whitespace() {
                f(lc.encode_utf8(&mut punct));
            }
        }
    }
    if !word.is_empty() {
        f(&word);
    }
}

/// The canonical tokens of `text`.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_token(text, |t| out.push(t.to_string()));
    out
}

/// The canonical tokens of stored bytes (lossy UTF-8 decoding first).
pub fn tokenize_bytes(bytes: &[u8]) -> Vec<String> {
    tokenize(&String::from_utf8_lossy(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_and_decomposed_forms_give_the_same_tokens() {
        let composed = "Caf\u{e9} cr\u{e8}me";
        let decomposed = "Cafe\u{301} cre\u{300}me";
        assert_ne!(composed, decomposed);
        assert_eq!(tokenize(composed), tokenize(decomposed));
        assert_eq!(tokenize(composed), vec!["caf\u{e9}", "cr\u{e8}me"]);
    }

    #[test]
    fn case_is_folded_and_punctuation_splits() {
        assert_eq!(tokenize("Hello, WORLD!  It's 42."), vec!["hello", ",", "world", "!", "it", "'", "s", "42", "."]);
        assert_eq!(tokenize("a-b_c"), vec!["a", "-", "b", "_", "c"]);
        assert_eq!(tokenize("  \t\n "), Vec::<String>::new());
        assert_eq!(tokenize(""), Vec::<String>::new());
        // Non-Latin scripts: runs of letters are words, CJK punctuation is its own token.
        assert_eq!(tokenize("Привет Мир。東京"), vec!["привет", "мир", "。", "東京"]);
        // Full lower-casing: 'İ' becomes "i" + U+0307 (a combining mark, so punctuation).
        assert_eq!(tokenize("İx"), vec!["i", "\u{307}", "x"]);
        // {"prompt": "2+2"} as a JSON row.
        assert_eq!(tokenize(r#"{"q":"2+2"}"#), vec!["{", "\"", "q", "\"", ":", "\"", "2", "+", "2", "\"", "}"]);
        assert_eq!(tokenize_bytes(b"ab\xffcd"), vec!["ab", "\u{fffd}", "cd"]);
    }
}
