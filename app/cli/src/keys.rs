//! Account keys: BIP-39 mnemonics, HD derivation on the Cosmos path m/44'/118'/0'/0/0,
//! secp256k1 signing, and a file keyring (`$OPEN_HOME/keyring-test/<name>.json`, mode 0600,
//! like the SDK's `test` backend: for development chains, not for mainnet funds).

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

/// A key as stored in the file keyring.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKey {
    /// Key name.
    pub name: String,
    /// Bech32 address.
    pub address: String,
    /// BIP-39 mnemonic.
    pub mnemonic: String,
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

/// The file keyring under a node home.
#[derive(Debug, Clone)]
pub struct Keyring {
    dir: PathBuf,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Keyring {
    /// The keyring of `home`.
    pub fn new(home: &Path) -> Self {
        Self { dir: home.join("keyring-test") }
    }

    fn path(&self, name: &str) -> anyhow::Result<PathBuf> {
        if !valid_name(name) {
            anyhow::bail!("invalid key name {name:?}: use 1-64 letters, digits, '-' or '_'");
        }
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Stores a key from a mnemonic; fails if the name exists.
    pub fn add(&self, name: &str, mnemonic: &str) -> anyhow::Result<StoredKey> {
        let path = self.path(name)?;
        if path.exists() {
            anyhow::bail!("key {name} already exists");
        }
        let key = AccountKey::from_mnemonic(mnemonic)?;
        let stored = StoredKey { name: name.to_string(), address: key.address().to_bech32(), mnemonic: mnemonic.trim().to_string() };
        write_private_file(&path, serde_json::to_string_pretty(&stored)?.as_bytes())?;
        Ok(stored)
    }

    /// Reads a stored key.
    pub fn get(&self, name: &str) -> anyhow::Result<StoredKey> {
        let path = self.path(name)?;
        let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("key {name} not found in {}: {e}", self.dir.display()))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// The signing key of a stored key.
    pub fn signer(&self, name: &str) -> anyhow::Result<AccountKey> {
        AccountKey::from_mnemonic(&self.get(name)?.mnemonic)
    }

    /// Every stored key, by name.
    pub fn list(&self) -> anyhow::Result<Vec<StoredKey>> {
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
        out.sort_by(|a: &StoredKey, b| a.name.cmp(&b.name));
        Ok(out)
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
}
