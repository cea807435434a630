//! The stable CI check of the fuzz targets (cargo-fuzz itself needs nightly): every committed
//! corpus input (`fuzz/corpus/<target>/`) and every crash regression input
//! (`fuzz/regressions/<target>/`) runs through the same entry point the target's fuzzer calls,
//! and so do the synthetic seeds. A target's panics (a parser crashing, or our own output
//! failing to parse) fail the test with the names of the inputs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use fuzz_harness::{target, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The files of `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input of `dir` through target `name`; returns how many ran.
fn replay(name: &str, dir: &Path) -> usize {
    let run = target(name).expect("a target of that name").run;
    let files = inputs(dir);
    let failed: Vec<String> = files
        .iter()
        .filter(|file| {
            let data = std::fs::read(file).expect("readable input");
            catch_unwind(AssertUnwindSafe(|| run(&data))).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(failed.is_empty(), "target {name} panicked on: {failed:#?}");
    files.len()
}

/// Every target's corpus is committed and replays cleanly.
fn corpus(name: &str) {
    let dir = fuzz_dir().join("corpus").join(name);
    let n = replay(name, &dir);
    assert!(n > 0, "{} holds no corpus inputs", dir.display());
}

macro_rules! corpus_tests {
    ($($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                corpus(stringify!($name));
            }
        )*

        #[test]
        fn every_target_has_a_corpus_test() {
            let tested = [$(stringify!($name)),*];
            for t in TARGETS {
                assert!(tested.contains(&t.name), "no corpus test for target {}", t.name);
            }
        }
    };
}

corpus_tests!(stun, rtp, rtcp, dtls, sdp, wcs, properties, loadbalancing);

/// The inputs of every crash, timeout or OOM the fuzzers found stay fixed.
#[test]
fn regressions() {
    let root = fuzz_dir().join("regressions");
    for dir in inputs_dirs(&root) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(target(&name).is_some(), "{} names no target", dir.display());
        replay(&name, &dir);
    }
}

fn inputs_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .collect()
}

/// The synthetic seeds (built with the production writers) run cleanly too, so the seed
/// generator keeps up with the code.
#[test]
fn synthetic_seeds() {
    for (name, file, data) in fuzz_harness::seeds::synthetic() {
        let run = target(name).expect("seed of a known target").run;
        let result = catch_unwind(AssertUnwindSafe(|| run(&data)));
        assert!(result.is_ok(), "target {name} panicked on seed {file}");
    }
}
