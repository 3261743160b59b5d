//! Account keys: BIP-39 mnemonics, HD derivation on the Cosmos path m/44'/118'/0'/0/0,
//! secp256k1 signing, and the keyring with the Cosmos SDK's two on-disk backends:
//! `test` (`$OPEN_HOME/keyring-test/<name>.json`, the mnemonic in plain text, mode 0600: for
//! local chains only) and `file` (`$OPEN_HOME/keyring-file/<name>.json`, the mnemonic encrypted
//! with a passphrase: scrypt, then ChaCha20-Poly1305; what a mainnet validator uses).

use std::path::{Path, PathBuf};

use bip32::{DerivationPath, Language, Mnemonic, XPrv};
use k256::ecdsa::signature::Signer as _;
use k256::ecdsa::{Signature, SigningKey};
use openledger_core::Address;
use serde::{Deserialize, Serialize};

/// The Cosmos HD path (coin type 118).
pub const HD_PATH: &str = "m/44'/118'/0'/0/0";

/// A secp256k1 account key.
#[derive(Clone)]
pub struct AccountKey {
    key: SigningKey,
}

impl std::fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountKey").field("address", &self.address().to_bech32()).finish()
    }
}

impl AccountKey {
    /// Derives the key of a BIP-39 mnemonic on [`HD_PATH`] (empty passphrase).
    pub fn from_mnemonic(phrase: &str) -> anyhow::Result<Self> {
        // BIP-39 parsing accepts 12-24 words (wallets such as Keplr create 12 or 24).
        let normalized = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
        let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &normalized)
            .map_err(|e| anyhow::anyhow!("invalid mnemonic: {e}"))?;
        let seed = mnemonic.to_seed("");
        let path: DerivationPath = HD_PATH.parse().map_err(|e| anyhow::anyhow!("bad HD path: {e}"))?;
        let xprv = XPrv::derive_from_path(seed, &path).map_err(|e| anyhow::anyhow!("derivation failed: {e}"))?;
        let key = SigningKey::from_bytes(&xprv.private_key().to_bytes()).map_err(|e| anyhow::anyhow!("bad key: {e}"))?;
        Ok(Self { key })
    }

    /// A fresh random mnemonic (24 words).
    pub fn generate_mnemonic() -> String {
        Mnemonic::random(rand_core::OsRng, Language::English).phrase().to_string()
    }

    /// A key from raw secret bytes (tests, benchmarks).
    pub fn from_secret(bytes: &[u8; 32]) -> anyhow::Result<Self> {
        Ok(Self { key: SigningKey::from_bytes(bytes.into()).map_err(|e| anyhow::anyhow!("bad key: {e}"))? })
    }

    /// Compressed public key (33 bytes).
    pub fn public_key(&self) -> Vec<u8> {
        self.key.verifying_key().to_encoded_point(true).as_bytes().to_vec()
    }

    /// The account address.
    pub fn address(&self) -> Address {
        Address::from_secp256k1_pubkey(&self.public_key())
    }

    /// Signs `msg` (sha256 inside), returning the 64-byte low-S `r‖s` signature.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(msg);
        let sig = sig.normalize_s().unwrap_or(sig);
        sig.to_bytes().to_vec()
    }
}

/// A key with its mnemonic (what `add` stores and `signer` derives from).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKey {
    /// Key name.
    pub name: String,
    /// Bech32 address.
    pub address: String,
    /// BIP-39 mnemonic.
    pub mnemonic: String,
}

/// What `list` and `show` read without the passphrase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// Key name.
    pub name: String,
    /// Bech32 address.
    pub address: String,
}

/// Writes `contents` to `path` with mode 0600 (created or replaced).
pub fn write_private_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut file = opts.open(path)?;
    file.write_all(contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Environment variable holding the `file` backend's passphrase.
pub const PASSPHRASE_ENV: &str = "OPEN_KEYRING_PASSPHRASE";
/// Environment variable holding the passphrase of `keys export` / `keys import` files.
pub const EXPORT_PASSPHRASE_ENV: &str = "OPEN_EXPORT_PASSPHRASE";

/// The keyring's on-disk backend (`--keyring-backend`, as in the Cosmos SDK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum KeyringBackend {
    /// Plain mnemonics in `keyring-test/` (local chains only).
    #[default]
    Test,
    /// Passphrase-encrypted keys in `keyring-file/` (mainnet).
    File,
}

/// Where a passphrase comes from: a file's first line, an environment variable, or the terminal.
#[derive(Debug, Clone)]
pub enum Passphrase {
    /// Given directly (tests, and after it was read once).
    Given(String),
    /// The first line of this file; else the environment variable; else the terminal.
    Sources {
        /// `--…-passphrase-file`.
        file: Option<PathBuf>,
        /// Environment variable name.
        env: &'static str,
    },
}

impl Passphrase {
    /// Reads the passphrase; `confirm` asks twice on the terminal (a new key or export).
    pub fn read(&self, what: &str, confirm: bool) -> anyhow::Result<String> {
        let pass = match self {
            Self::Given(p) => p.clone(),
            Self::Sources { file: Some(path), .. } => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read passphrase file {}: {e}", path.display()))?;
                text.lines().next().unwrap_or_default().to_string()
            }
            Self::Sources { file: None, env } => match std::env::var(env) {
                Ok(p) => p,
                Err(_) => {
                    let p = rpassword::prompt_password(format!("Enter {what} passphrase: ")).map_err(|e| {
                        anyhow::anyhow!("no {what} passphrase: give a passphrase file, set {env}, or run on a terminal ({e})")
                    })?;
                    if confirm && rpassword::prompt_password(format!("Re-enter {what} passphrase: "))? != p {
                        anyhow::bail!("the passphrases differ");
                    }
                    p
                }
            },
        };
        if pass.len() < 8 {
            anyhow::bail!("the {what} passphrase must have at least 8 characters");
        }
        Ok(pass)
    }
}

/// `--keyring-backend` and `--keyring-passphrase-file`: every command that reads keys.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KeyringFlags {
    /// Keyring backend: test (plain, local chains) or file (encrypted with a passphrase).
    #[arg(long, value_enum, default_value = "test")]
    pub keyring_backend: KeyringBackend,
    /// File whose first line is the `file` backend's passphrase (default: $OPEN_KEYRING_PASSPHRASE, else a prompt).
    #[arg(long)]
    pub keyring_passphrase_file: Option<PathBuf>,
}

impl KeyringFlags {
    /// The keyring these flags name under `home`.
    pub fn open(&self, home: &Path) -> Keyring {
        match self.keyring_backend {
            KeyringBackend::Test => Keyring::new(home),
            KeyringBackend::File => {
                Keyring::file(home, Passphrase::Sources { file: self.keyring_passphrase_file.clone(), env: PASSPHRASE_ENV })
            }
        }
    }
}

/// scrypt cost of new files: log2(N) = 17, r = 8, p = 1 (128 MiB, the scrypt crate's recommendation).
const SCRYPT_LOG_N: u8 = 17;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
/// Highest log2(N) accepted from a file (bounds the memory a crafted file can make us use).
const SCRYPT_MAX_LOG_N: u8 = 20;
/// Associated data prefix: binds a ciphertext to its name and address.
const AAD_PREFIX: &[u8] = b"openledger-keyring-v1";

/// scrypt parameters as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScryptParams {
    /// log2(N).
    pub log_n: u8,
    /// Block size.
    pub r: u32,
    /// Parallelism.
    pub p: u32,
}

/// A mnemonic sealed with a passphrase: scrypt(passphrase, salt) → ChaCha20-Poly1305 key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedSecret {
    /// Always "scrypt".
    pub kdf: String,
    /// scrypt cost.
    pub kdfparams: ScryptParams,
    /// Hex, 32 random bytes.
    pub salt: String,
    /// Always "chacha20poly1305".
    pub cipher: String,
    /// Hex, 12 random bytes.
    pub nonce: String,
    /// Hex ciphertext with its 16-byte tag.
    pub ciphertext: String,
}

fn aad(name: &str, address: &str) -> Vec<u8> {
    [AAD_PREFIX, b"\0", name.as_bytes(), b"\0", address.as_bytes()].concat()
}

fn derive_key(pass: &str, salt: &[u8], params: ScryptParams) -> anyhow::Result<[u8; 32]> {
    if params.log_n > SCRYPT_MAX_LOG_N || params.r == 0 || params.r > 32 || params.p == 0 || params.p > 16 {
        anyhow::bail!("unsupported scrypt parameters {params:?}");
    }
    let p = scrypt::Params::new(params.log_n, params.r, params.p, 32).map_err(|e| anyhow::anyhow!("scrypt parameters: {e}"))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(pass.as_bytes(), salt, &p, &mut key).map_err(|e| anyhow::anyhow!("scrypt: {e}"))?;
    Ok(key)
}

impl SealedSecret {
    /// Encrypts `secret` under `pass` with a fresh random salt and nonce; `aad` is authenticated.
    pub fn seal(secret: &[u8], pass: &str, aad: &[u8]) -> anyhow::Result<Self> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        use rand_core::RngCore;
        let params = ScryptParams { log_n: SCRYPT_LOG_N, r: SCRYPT_R, p: SCRYPT_P };
        let mut salt = [0u8; 32];
        let mut nonce = [0u8; 12];
        rand_core::OsRng.fill_bytes(&mut salt);
        rand_core::OsRng.fill_bytes(&mut nonce);
        let key = derive_key(pass, &salt, params)?;
        let cipher = chacha20poly1305::ChaCha20Poly1305::new((&key).into());
        let ciphertext = cipher.encrypt((&nonce).into(), Payload { msg: secret, aad }).map_err(|_| anyhow::anyhow!("encryption failed"))?;
        Ok(Self {
            kdf: "scrypt".into(),
            kdfparams: params,
            salt: hex::encode(salt),
            cipher: "chacha20poly1305".into(),
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(ciphertext),
        })
    }

    /// Decrypts; a wrong passphrase (or a changed file) fails the AEAD tag and yields nothing.
    pub fn open(&self, pass: &str, aad: &[u8]) -> anyhow::Result<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        if self.kdf != "scrypt" || self.cipher != "chacha20poly1305" {
            anyhow::bail!("unsupported encryption {}/{}", self.kdf, self.cipher);
        }
        let salt = hex::decode(&self.salt)?;
        let nonce: [u8; 12] = hex::decode(&self.nonce)?.try_into().map_err(|_| anyhow::anyhow!("bad nonce length"))?;
        let ciphertext = hex::decode(&self.ciphertext)?;
        let key = derive_key(pass, &salt, self.kdfparams)?;
        let cipher = chacha20poly1305::ChaCha20Poly1305::new((&key).into());
        cipher
            .decrypt((&nonce).into(), Payload { msg: &ciphertext, aad })
            .map_err(|_| anyhow::anyhow!("wrong passphrase (or a damaged key file): decryption failed its authentication check"))
    }
}

/// A key file of the `file` backend: name and address in clear, the mnemonic sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EncryptedKeyFile {
    name: String,
    address: String,
    crypto: SealedSecret,
}

/// First and last lines of a `keys export` armor.
const ARMOR_BEGIN: &str = "-----BEGIN OPENLEDGER PRIVATE KEY-----";
const ARMOR_END: &str = "-----END OPENLEDGER PRIVATE KEY-----";

/// The keyring under a node home, on one backend.
#[derive(Debug, Clone)]
pub struct Keyring {
    dir: PathBuf,
    backend: KeyringBackend,
    passphrase: Passphrase,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Keyring {
    /// The `test` keyring of `home` (`keyring-test/`, plain text).
    pub fn new(home: &Path) -> Self {
        Self { dir: home.join("keyring-test"), backend: KeyringBackend::Test, passphrase: Passphrase::Given(String::new()) }
    }

    /// The `file` keyring of `home` (`keyring-file/`, encrypted under `passphrase`).
    pub fn file(home: &Path, passphrase: Passphrase) -> Self {
        Self { dir: home.join("keyring-file"), backend: KeyringBackend::File, passphrase }
    }

    /// This keyring's backend.
    pub fn backend(&self) -> KeyringBackend {
        self.backend
    }

    /// The path of `name`'s file.
    pub fn path(&self, name: &str) -> anyhow::Result<PathBuf> {
        if !valid_name(name) {
            anyhow::bail!("invalid key name {name:?}: use 1-64 letters, digits, '-' or '_'");
        }
        Ok(self.dir.join(format!("{name}.json")))
    }

    fn create_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        #[cfg(unix)]
        if self.backend == KeyringBackend::File {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }

    /// Stores a key from a mnemonic; fails if the name exists.
    pub fn add(&self, name: &str, mnemonic: &str) -> anyhow::Result<StoredKey> {
        let path = self.path(name)?;
        if path.exists() {
            anyhow::bail!("key {name} already exists");
        }
        let key = AccountKey::from_mnemonic(mnemonic)?;
        let stored = StoredKey { name: name.to_string(), address: key.address().to_bech32(), mnemonic: mnemonic.trim().to_string() };
        let text = match self.backend {
            KeyringBackend::Test => serde_json::to_string_pretty(&stored)?,
            KeyringBackend::File => {
                let pass = self.passphrase.read("keyring", true)?;
                let crypto = SealedSecret::seal(stored.mnemonic.as_bytes(), &pass, &aad(name, &stored.address))?;
                serde_json::to_string_pretty(&EncryptedKeyFile { name: stored.name.clone(), address: stored.address.clone(), crypto })?
            }
        };
        self.create_dir()?;
        write_private_file(&path, text.as_bytes())?;
        Ok(stored)
    }

    fn read_text(&self, name: &str) -> anyhow::Result<String> {
        let path = self.path(name)?;
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("key {name} not found in {}: {e}", self.dir.display()))
    }

    /// A key's name and address (no passphrase needed).
    pub fn info(&self, name: &str) -> anyhow::Result<KeyInfo> {
        Ok(serde_json::from_str(&self.read_text(name)?)?)
    }

    /// Reads a stored key with its mnemonic (the `file` backend decrypts it).
    pub fn get(&self, name: &str) -> anyhow::Result<StoredKey> {
        let text = self.read_text(name)?;
        match self.backend {
            KeyringBackend::Test => Ok(serde_json::from_str(&text)?),
            KeyringBackend::File => {
                let file: EncryptedKeyFile = serde_json::from_str(&text)?;
                let pass = self.passphrase.read("keyring", false)?;
                let plain = file.crypto.open(&pass, &aad(&file.name, &file.address))?;
                let mnemonic = String::from_utf8(plain).map_err(|_| anyhow::anyhow!("key {name}: decrypted secret is not text"))?;
                let key = AccountKey::from_mnemonic(&mnemonic)?;
                if key.address().to_bech32() != file.address {
                    anyhow::bail!("key {name}: the decrypted key does not match the stored address");
                }
                Ok(StoredKey { name: file.name, address: file.address, mnemonic })
            }
        }
    }

    /// The signing key of a stored key.
    pub fn signer(&self, name: &str) -> anyhow::Result<AccountKey> {
        AccountKey::from_mnemonic(&self.get(name)?.mnemonic)
    }

    /// Every stored key, by name (no passphrase needed).
    pub fn list(&self) -> anyhow::Result<Vec<KeyInfo>> {
        let mut out = Vec::new();
        if !self.dir.exists() {
            return Ok(out);
        }
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                out.push(serde_json::from_str(&std::fs::read_to_string(&path)?)?);
            }
        }
        out.sort_by(|a: &KeyInfo, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes a key's file.
    pub fn delete(&self, name: &str) -> anyhow::Result<()> {
        let path = self.path(name)?;
        std::fs::remove_file(&path).map_err(|e| anyhow::anyhow!("key {name} not found in {}: {e}", self.dir.display()))
    }

    /// The key as an armored text block: its mnemonic sealed under `export_pass` (scrypt +
    /// ChaCha20-Poly1305, see [`SealedSecret`]), base64 between BEGIN/END lines.
    pub fn export_armor(&self, name: &str, export_pass: &Passphrase) -> anyhow::Result<String> {
        use base64::Engine as _;
        let stored = self.get(name)?;
        let pass = export_pass.read("export", true)?;
        let crypto = SealedSecret::seal(stored.mnemonic.as_bytes(), &pass, &aad("export", &stored.address))?;
        let body = serde_json::to_vec(&EncryptedKeyFile { name: stored.name, address: stored.address.clone(), crypto })?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(body);
        let mut out = format!("{ARMOR_BEGIN}\nkdf: scrypt\ncipher: chacha20poly1305\naddress: {}\n\n", stored.address);
        for chunk in encoded.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk)?);
            out.push('\n');
        }
        out.push_str(ARMOR_END);
        out.push('\n');
        Ok(out)
    }

    /// Imports an armored export as `name` (decrypted with `export_pass`, stored on this backend).
    pub fn import_armor(&self, name: &str, armor: &str, export_pass: &Passphrase) -> anyhow::Result<StoredKey> {
        use base64::Engine as _;
        let inner = armor
            .trim()
            .strip_prefix(ARMOR_BEGIN)
            .and_then(|rest| rest.strip_suffix(ARMOR_END))
            .ok_or_else(|| anyhow::anyhow!("not an OpenLedger key export (no BEGIN/END lines)"))?;
        // Headers end at the first blank line; the rest is base64.
        let body: String = inner.split("\n\n").nth(1).unwrap_or_default().split_whitespace().collect();
        let file: EncryptedKeyFile = serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(body)?)?;
        let pass = export_pass.read("export", false)?;
        let plain = file.crypto.open(&pass, &aad("export", &file.address))?;
        let mnemonic = String::from_utf8(plain).map_err(|_| anyhow::anyhow!("the exported secret is not text"))?;
        let stored = self.add(name, &mnemonic)?;
        if stored.address != file.address {
            self.delete(name)?;
            anyhow::bail!("the imported key does not match the export's address");
        }
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_matches_the_cosmos_test_vector() {
        // The well-known "abandon … about" mnemonic derives cosmos1…
        // on m/44'/118'/0'/0/0: address bytes are prefix-independent.
        let phrase = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
        let key = AccountKey::from_mnemonic(phrase).unwrap();
        let cosmos = bech32::encode::<bech32::Bech32>(bech32::Hrp::parse_unchecked("cosmos"), key.address().as_bytes()).unwrap();
        assert_eq!(cosmos, "cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4");
        assert!(key.address().to_bech32().starts_with("open1"));
        let sig = key.sign(b"hello");
        assert_eq!(sig.len(), 64);
        assert!(openledger_node::ante::verify_secp256k1(&key.public_key(), b"hello", &sig));
        assert!(!openledger_node::ante::verify_secp256k1(&key.public_key(), b"hellO", &sig));
    }

    #[test]
    fn keyring_files_are_private_and_names_checked() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::new(dir.path());
        let m = AccountKey::generate_mnemonic();
        assert_eq!(m.split_whitespace().count(), 24);
        let stored = ring.add("alice", &m).unwrap();
        assert!(ring.add("alice", &m).is_err());
        assert!(ring.add("../evil", &m).is_err());
        assert_eq!(ring.get("alice").unwrap().address, stored.address);
        assert_eq!(ring.list().unwrap().len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("keyring-test/alice.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    fn file_ring(dir: &Path, pass: &str) -> Keyring {
        Keyring::file(dir, Passphrase::Given(pass.into()))
    }

    #[test]
    fn file_backend_round_trips_and_keeps_no_secret_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let ring = file_ring(dir.path(), "correct horse battery");
        let m = AccountKey::generate_mnemonic();
        let expected = AccountKey::from_mnemonic(&m).unwrap();
        let stored = ring.add("val", &m).unwrap();
        assert_eq!(stored.address, expected.address().to_bech32());
        // Round trip: the same signing key comes back.
        let signer = ring.signer("val").unwrap();
        assert_eq!(signer.public_key(), expected.public_key());
        assert_eq!(ring.get("val").unwrap().mnemonic, m);
        // list and show need no passphrase.
        let locked = file_ring(dir.path(), "not the passphrase");
        assert_eq!(locked.list().unwrap(), vec![KeyInfo { name: "val".into(), address: stored.address.clone() }]);
        assert_eq!(locked.info("val").unwrap().address, stored.address);
        // On disk: neither a mnemonic word nor the private key, in any encoding we could leak.
        let path = dir.path().join("keyring-file/val.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        // Compare tokens of the values: the key "salt" is a BIP-39 word too, and hex can hold
        // a short word as a substring.
        fn values(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::String(s) => out.push(s.clone()),
                serde_json::Value::Object(o) => o.values().for_each(|x| values(x, out)),
                _ => {}
            }
        }
        let mut strings = Vec::new();
        values(&doc, &mut strings);
        for token in strings.iter().flat_map(|s| s.split(|c: char| !c.is_ascii_alphanumeric())) {
            assert!(!m.split_whitespace().any(|w| w == token), "mnemonic word {token} in {text}");
        }
        assert!(!text.contains(&m));
        let secret_hex = hex::encode(expected.key.to_bytes());
        assert!(!text.to_lowercase().contains(&secret_hex));
        let mut keys: Vec<_> = doc.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["address", "crypto", "name"]);
        assert_eq!(doc["crypto"]["kdf"], "scrypt");
        assert_eq!(doc["crypto"]["kdfparams"]["log_n"], 17);
        assert_eq!(hex::decode(doc["crypto"]["salt"].as_str().unwrap()).unwrap().len(), 32);
        // A second key gets its own salt and nonce.
        ring.add("val2", &m).unwrap();
        let other: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("keyring-file/val2.json")).unwrap()).unwrap();
        assert_ne!(other["crypto"]["salt"], doc["crypto"]["salt"]);
        assert_ne!(other["crypto"]["nonce"], doc["crypto"]["nonce"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(dir.path().join("keyring-file")).unwrap().permissions().mode() & 0o777, 0o700);
        }
        // The test backend does not see file keys.
        assert!(Keyring::new(dir.path()).get("val").is_err());
    }

    #[test]
    fn file_backend_refuses_a_wrong_passphrase_and_a_tampered_file() {
        let dir = tempfile::tempdir().unwrap();
        let m = AccountKey::generate_mnemonic();
        file_ring(dir.path(), "the right passphrase").add("val", &m).unwrap();
        let err = file_ring(dir.path(), "the wrong passphrase").signer("val").unwrap_err().to_string();
        assert!(err.contains("wrong passphrase"), "{err}");
        assert!(file_ring(dir.path(), "short").signer("val").unwrap_err().to_string().contains("at least 8"));
        // The address is authenticated with the ciphertext: relabelling the file is refused.
        let path = dir.path().join("keyring-file/val.json");
        let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        doc["address"] = AccountKey::from_mnemonic(&AccountKey::generate_mnemonic()).unwrap().address().to_bech32().into();
        std::fs::write(&path, doc.to_string()).unwrap();
        assert!(file_ring(dir.path(), "the right passphrase").signer("val").unwrap_err().to_string().contains("wrong passphrase"));
    }

    #[test]
    fn passphrase_comes_from_the_first_line_of_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pass.txt");
        std::fs::write(&file, "line one passphrase\nsecond line\n").unwrap();
        let pass = Passphrase::Sources { file: Some(file), env: "OPEN_TEST_UNSET_PASSPHRASE_VARIABLE" };
        assert_eq!(pass.read("keyring", true).unwrap(), "line one passphrase");
    }

    #[test]
    fn export_import_round_trip_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let m = AccountKey::generate_mnemonic();
        let ring = file_ring(dir.path(), "keyring passphrase");
        let stored = ring.add("val", &m).unwrap();
        let export_pass = Passphrase::Given("export passphrase".into());
        let armor = ring.export_armor("val", &export_pass).unwrap();
        assert!(armor.starts_with(ARMOR_BEGIN) && armor.trim_end().ends_with(ARMOR_END), "{armor}");
        assert!(!armor.contains(&m));
        let secret_hex = hex::encode(AccountKey::from_mnemonic(&m).unwrap().key.to_bytes());
        assert!(!armor.contains(&secret_hex));
        // Import into another home's test keyring, and into this file keyring under a new name.
        let other = tempfile::tempdir().unwrap();
        let test_ring = Keyring::new(other.path());
        assert!(test_ring.import_armor("moved", &armor, &Passphrase::Given("wrong export pass".into())).is_err());
        assert!(test_ring.get("moved").is_err(), "a failed import stores nothing");
        assert_eq!(test_ring.import_armor("moved", &armor, &export_pass).unwrap().address, stored.address);
        assert_eq!(test_ring.signer("moved").unwrap().public_key(), ring.signer("val").unwrap().public_key());
        ring.import_armor("copy", &armor, &export_pass).unwrap();
        assert_eq!(ring.signer("copy").unwrap().address().to_bech32(), stored.address);
        // Delete removes the file; the key is gone, the other stays.
        ring.delete("val").unwrap();
        assert!(!dir.path().join("keyring-file/val.json").exists());
        assert!(ring.get("val").is_err());
        assert!(ring.delete("val").is_err());
        assert_eq!(ring.list().unwrap().len(), 1);
    }
}
