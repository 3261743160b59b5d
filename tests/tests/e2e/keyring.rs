//! The `file` keyring backend through the real `openledgerd` binary against a real node: a key
//! added with a passphrase file is stored encrypted (no mnemonic word on disk, mode 0600), signs
//! a bank send that the chain executes, and a wrong passphrase fails before anything is sent;
//! export/import and delete work across backends.

use std::process::Command;

use openledger_tests::{json, openledgerd_bin, Node};

fn balance(node: &Node, address: &str) -> u128 {
    let out = json(&node.cli(&["query", "bank", "balances", address, "--denom", "uopen", "--node", &node.rpc_url()]));
    out["balance"]["amount"].as_str().unwrap_or("0").parse().expect("amount")
}

/// `keys add` prints the key's JSON, then a blank line and the mnemonic notice.
fn added(output: &str) -> (String, String) {
    let (doc, rest) = output.split_once("\n\n").expect("key JSON, then the mnemonic");
    let address = json(doc)["address"].as_str().expect("address").to_string();
    let mnemonic = rest.lines().map(str::trim).rfind(|l| !l.is_empty()).expect("mnemonic").to_string();
    (address, mnemonic)
}

#[test]
fn file_keyring_signs_a_bank_send_and_a_wrong_passphrase_sends_nothing() {
    let node = Node::start();
    let rpc = node.rpc_url();
    let secrets = tempfile::tempdir().expect("tempdir");
    let pass = secrets.path().join("keyring-pass");
    let wrong = secrets.path().join("wrong-pass");
    std::fs::write(&pass, "a long validator passphrase\n").expect("write");
    std::fs::write(&wrong, "not the validator passphrase\n").expect("write");
    let pass = pass.to_str().expect("utf8");
    let file_backend = ["--keyring-backend", "file", "--keyring-passphrase-file", pass];

    let (val, mnemonic) = added(&node.cli(&[&["keys", "add", "val"][..], &file_backend].concat()));
    // On disk: encrypted, private, no mnemonic word; the test keyring does not hold it.
    let key_file = node.home().join("keyring-file/val.json");
    let text = std::fs::read_to_string(&key_file).expect("key file");
    assert_eq!(mnemonic.split_whitespace().count(), 24, "{mnemonic}");
    // No mnemonic word as a token of any value (keys such as "salt" are BIP-39 words too, and
    // the hex of the salt or ciphertext can hold a short word as a substring: compare tokens).
    fn values(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| values(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| values(x, out)),
            _ => {}
        }
    }
    let mut strings = Vec::new();
    values(&json(&text), &mut strings);
    for token in strings.iter().flat_map(|s| s.split(|c: char| !c.is_ascii_alphanumeric())) {
        assert!(!mnemonic.split_whitespace().any(|w| w == token), "mnemonic word {token:?} in {text}");
    }
    assert!(!text.contains(&mnemonic));
    assert_eq!(json(&text)["crypto"]["cipher"], "chacha20poly1305");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).expect("stat").permissions().mode() & 0o777, 0o600);
    }
    assert!(!node.home().join("keyring-test/val.json").exists());
    // show and list read the address without the passphrase.
    let shown = json(&node.cli(&["keys", "show", "val", "--keyring-backend", "file"]));
    assert_eq!(shown["address"], val.as_str());
    let listed = json(&node.cli(&["keys", "list", "--keyring-backend", "file"]));
    assert_eq!(listed, serde_json::json!([{"name": "val", "address": val}]));

    // Fund it from the dev account (test backend, the default), then send with the file key.
    let (rcpt, _) = added(&node.cli(&["keys", "add", "rcpt"]));
    node.cli(&["tx", "bank", "send", "dev", &val, "5000000uopen", "--node", &rpc]);
    assert_eq!(balance(&node, &val), 5_000_000);
    let out = node.cli(&[&["tx", "bank", "send", "val", &rcpt, "1234uopen", "--node", &rpc][..], &file_backend].concat());
    assert_eq!(json(&out)["code"], 0, "{out}");
    assert_eq!(balance(&node, &rcpt), 1234);
    let val_after_send = balance(&node, &val);
    assert!(val_after_send < 5_000_000 - 1234, "the fee was paid by the file key's account");

    // A wrong passphrase: refused before anything reaches the node.
    let refused = node.cli_raw(&[
        "tx",
        "bank",
        "send",
        "val",
        &rcpt,
        "1000uopen",
        "--node",
        &rpc,
        "--keyring-backend",
        "file",
        "--keyring-passphrase-file",
        wrong.to_str().expect("utf8"),
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a wrong passphrase must fail");
    assert!(stderr.contains("wrong passphrase"), "{stderr}");
    // The same name on the default (test) backend is not found either.
    let missing = node.cli_raw(&["tx", "bank", "send", "val", &rcpt, "1000uopen", "--node", &rpc]);
    assert!(!missing.status.success() && String::from_utf8_lossy(&missing.stderr).contains("not found"));
    // The passphrase from the environment signs too; its tx lands after the refused ones, so
    // the balances below prove those sent nothing.
    let env_send = Command::new(openledgerd_bin())
        .args(["tx", "bank", "send", "val", &rcpt, "100uopen", "--node", &rpc, "--keyring-backend", "file", "--home"])
        .arg(node.home())
        .env("OPEN_KEYRING_PASSPHRASE", "a long validator passphrase")
        .output()
        .expect("run openledgerd");
    assert!(env_send.status.success(), "{}", String::from_utf8_lossy(&env_send.stderr));
    assert_eq!(balance(&node, &rcpt), 1234 + 100);
    assert!(balance(&node, &val) < val_after_send - 100);

    // Export (encrypted with an export passphrase) and import into the test backend: same address.
    let export_pass = secrets.path().join("export-pass");
    std::fs::write(&export_pass, "an export passphrase\n").expect("write");
    let export_pass = export_pass.to_str().expect("utf8");
    let armor = node.cli(&[&["keys", "export", "val", "--export-passphrase-file", export_pass][..], &file_backend].concat());
    assert!(armor.starts_with("-----BEGIN OPENLEDGER PRIVATE KEY-----"), "{armor}");
    assert!(!armor.contains(&mnemonic));
    let armor_file = secrets.path().join("val.armor");
    std::fs::write(&armor_file, &armor).expect("write");
    let imported =
        json(&node.cli(&["keys", "import", "val-copy", armor_file.to_str().expect("utf8"), "--export-passphrase-file", export_pass]));
    assert_eq!(imported["address"], val.as_str());
    let bad_import = node.cli_raw(&["keys", "import", "val-bad", armor_file.to_str().expect("utf8"), "--export-passphrase-file", pass]);
    assert!(!bad_import.status.success() && String::from_utf8_lossy(&bad_import.stderr).contains("wrong passphrase"));

    // Delete with --yes removes the file; the key is gone.
    node.cli(&[&["keys", "delete", "val", "--yes"][..], &file_backend].concat());
    assert!(!key_file.exists());
    assert!(!node.cli_raw(&["keys", "show", "val", "--keyring-backend", "file"]).status.success());
}
