//! Replays the fuzzing seeds and every input the fuzzers once crashed on
//! (`fuzz/seeds/<target>/`) through the same harness the fuzz targets run, so a fixed
//! crash stays fixed in ordinary `cargo test`.

#[path = "../../../../fuzz/harness.rs"]
mod harness;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds/").to_owned() + target;
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
        .map(|e| {
            let path = e.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_verify_token_corpus_replays_without_panicking() {
    assert!(
        harness::fixture_is_allowed(),
        "the harness starts from a valid token"
    );
    let inputs = inputs("verify_token");
    assert!(inputs.len() >= 5, "the seeds are there");
    for (name, data) in inputs {
        eprintln!("{name}");
        harness::verify_input(&data);
    }
}

#[test]
fn the_grant_json_corpus_replays_without_panicking() {
    let inputs = inputs("grant_json");
    assert!(inputs.len() >= 4, "the seeds are there");
    for (name, data) in inputs {
        eprintln!("{name}");
        harness::grant_input(&data);
    }
}
