//! One libFuzzer entry point per fuzz target of `openledger-fuzz`: each binary under `src/bin/`
//! builds its target once per process and hands every input to [`run`], which turns a failed
//! invariant into a panic (libFuzzer then saves the input as a crash).

use std::cell::RefCell;

use openledger_fuzz::targets::{build, Target};

thread_local! {
    static TARGET: RefCell<Option<Box<dyn Target>>> = const { RefCell::new(None) };
}

/// Runs `input` through the target `name` (built on first use); panics on a failed invariant.
pub fn run(name: &str, input: &[u8]) {
    TARGET.with(|cell| {
        let mut slot = cell.borrow_mut();
        let target = slot.get_or_insert_with(|| build(name).unwrap_or_else(|| panic!("unknown target {name}")));
        if input.len() > target.max_len() {
            return;
        }
        if let Err(failure) = target.run(input) {
            panic!("{name}: {failure}");
        }
    });
}
