//! The driver finds a planted bug behind a protobuf field from one seed, and saves an input
//! that reproduces it (its own test binary: the quiet panic hook is process-wide).

use std::time::Duration;

use openledger_fuzz::driver::{fuzz, quiet_panics, run_one, Budget};
use openledger_fuzz::mutate::Shape;
use openledger_fuzz::targets::Target;

/// Panics (like an unchecked `as i64`) when a tx of the block starts with a varint ≥ 2^63.
struct Planted;

impl Target for Planted {
    fn shape(&self) -> Shape {
        Shape::Proto
    }
    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        use prost::Message;
        let Ok(req) = tendermint_proto::v0_38::abci::RequestFinalizeBlock::decode(input) else { return Ok("no".into()) };
        for tx in &req.txs {
            let mut bytes = tx.as_ref();
            if let Ok(v) = prost::encoding::decode_varint(&mut bytes) {
                assert!(i64::try_from(v).is_ok(), "planted bug: {v} does not fit an i64");
            }
        }
        Ok(format!("{} txs", req.txs.len()))
    }
}

#[test]
fn the_driver_finds_a_planted_bug_and_saves_its_input() {
    use prost::Message;
    let seed = tendermint_proto::v0_38::abci::RequestFinalizeBlock { txs: vec![b"a tx".to_vec().into()], height: 3, ..Default::default() }
        .encode_to_vec();
    let artifacts = std::env::temp_dir().join(format!("openledger-fuzz-test-{}", std::process::id()));
    let budget = Budget { inputs: 200_000, time: Duration::from_secs(60) };
    quiet_panics();
    let report = fuzz("planted", &mut Planted, vec![seed], 1, budget, &artifacts);
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert!(report.failures[0].message.contains("planted bug"), "{report:?}");
    let saved = std::fs::read(report.failures[0].artifact.as_ref().expect("saved")).expect("artifact");
    assert!(run_one(&mut Planted, &saved).is_err(), "the saved input reproduces the failure");
    std::fs::remove_dir_all(&artifacts).ok();
}
