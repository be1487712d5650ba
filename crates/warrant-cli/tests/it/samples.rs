//! Interop with the Biscuit conformance samples (`tests/data/biscuit-samples`).

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use serde_json::Value as J;

use crate::support::{samples_dir, warrant, Run};

#[derive(Debug)]
struct Sample {
    filename: String,
    /// `Err.Format` in any validation: the token's format or signatures are invalid.
    format_error: bool,
    /// `Err.Format.Signature` in any validation.
    signature_error: bool,
    /// The revocation ids of the first validation that lists them.
    revocation_ids: Option<Vec<String>>,
    /// Each block's Datalog and external key, as the samples print them.
    blocks: Vec<(String, Option<String>)>,
}

fn root_public_key_and_samples() -> (String, Vec<Sample>) {
    let text = std::fs::read_to_string(samples_dir().join("samples.json")).unwrap();
    let doc: J = serde_json::from_str(&text).unwrap();
    let root = doc["root_public_key"].as_str().unwrap().to_owned();
    let samples: Vec<Sample> = doc["testcases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let validations: Vec<&J> = t["validations"].as_object().unwrap().values().collect();
            assert!(!validations.is_empty(), "{t:#}");
            let format_error = validations
                .iter()
                .any(|v| v.pointer("/result/Err/Format").is_some());
            let signature_error = validations
                .iter()
                .any(|v| v.pointer("/result/Err/Format/Signature").is_some());
            let revocation_ids = validations.iter().find_map(|v| {
                v["revocation_ids"].as_array().map(|ids| {
                    ids.iter()
                        .map(|id| id.as_str().unwrap().to_owned())
                        .collect()
                })
            });
            let blocks = t["token"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    (
                        b["code"].as_str().unwrap().to_owned(),
                        b["external_key"].as_str().map(str::to_owned),
                    )
                })
                .collect();
            Sample {
                filename: t["filename"].as_str().unwrap().to_owned(),
                format_error,
                signature_error,
                revocation_ids,
                blocks,
            }
        })
        .collect();
    assert!(samples.len() >= 30, "expected the whole sample set");
    assert!(samples.iter().any(|s| s.format_error));
    assert!(samples.iter().any(|s| !s.format_error));
    (root, samples)
}

fn inspect_with_key(root: &str, sample: &Sample) -> Run {
    let path = samples_dir().join(&sample.filename);
    warrant([
        "inspect",
        "--token-file",
        path.to_str().unwrap(),
        "--public-key",
        &format!("ed25519/{root}"),
        "--json",
    ])
}

#[test]
fn every_sample_inspects_with_the_root_key() {
    let (root, samples) = root_public_key_and_samples();
    for sample in &samples {
        let run = inspect_with_key(&root, sample);
        let code = run.exited_with_one_of(&[0, 1]);
        let report = run.json();
        let status = report
            .pointer("/signatures/status")
            .and_then(J::as_str)
            .unwrap_or_else(|| panic!("{}: no signatures.status: {run:?}", sample.filename));
        let expected = if sample.format_error {
            "invalid"
        } else {
            "valid"
        };
        assert_eq!(
            status, expected,
            "{}: expected signatures {expected}: {run:?}",
            sample.filename
        );
        assert_eq!(
            code,
            i32::from(sample.format_error),
            "{}: inspect exits 1 exactly when the signatures are invalid",
            sample.filename
        );
        if sample.format_error {
            continue;
        }
        // A valid token is decoded block by block, with the samples' revocation ids and
        // the third-party keys of its blocks.
        let blocks = report["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), sample.blocks.len(), "{}", sample.filename);
        if let Some(ids) = &sample.revocation_ids {
            let got: Vec<&str> = blocks
                .iter()
                .map(|b| b["revocation_id"].as_str().unwrap())
                .collect();
            assert_eq!(&got, ids, "{}: revocation ids", sample.filename);
        }
        for (i, (block, (_, external))) in blocks.iter().zip(&sample.blocks).enumerate() {
            assert_eq!(
                block["external_key"].as_str(),
                external.as_deref(),
                "{} block {i}",
                sample.filename
            );
            let signed_by = match (i, external) {
                (0, _) => "issuer",
                (_, Some(_)) => "third-party",
                (_, None) => "attenuation",
            };
            assert_eq!(
                block["signed_by"], signed_by,
                "{} block {i}",
                sample.filename
            );
        }
    }
}

/// Regression: for third-party blocks with their own public-key table
/// (test026_public_keys_interning), `inspect` prints the `trusting` keys swapped, because
/// it prints blocks through `UnverifiedBiscuit::print_block_source`.
#[test]
fn every_valid_sample_shows_the_datalog_of_the_samples() {
    let (root, samples) = root_public_key_and_samples();
    let mut wrong = Vec::new();
    for sample in samples.iter().filter(|s| !s.format_error) {
        let run = inspect_with_key(&root, sample);
        run.ok();
        let report = run.json();
        for (i, (block, (code, _))) in report["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&sample.blocks)
            .enumerate()
        {
            let shown = block["datalog"].as_str().unwrap();
            // inspect escapes control characters inside a statement (a tab in a string
            // shows as `\t`), so that a printed value can neither split a line nor carry
            // terminal escapes.
            let expected: String = code
                .chars()
                .map(|c| match c {
                    '\n' => "\n".to_owned(),
                    c if c.is_control() => c.escape_default().to_string(),
                    c => c.to_string(),
                })
                .collect();
            if shown.trim_end() != expected.trim_end() {
                wrong.push(format!(
                    "{} block {i}:\n--- samples.json\n{code}\n--- warrant inspect\n{shown}",
                    sample.filename
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "inspect shows Datalog that differs from the samples:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_sample_inspects_without_a_key() {
    let (_, samples) = root_public_key_and_samples();
    for sample in &samples {
        let path = samples_dir().join(&sample.filename);
        let run = warrant(["inspect", "--token-file", path.to_str().unwrap()]);
        match run.exited_with_one_of(&[0, 2]) {
            0 => {
                run.stdout_has("signatures: not checked")
                    .stdout_has("block 0 (signed by issuer)");
            }
            _ => {
                run.input_error();
            }
        }
        if !sample.format_error {
            run.ok();
        }
    }
}

#[test]
fn verify_never_allows_a_sample() {
    // The samples are valid Biscuit tokens but not warrant tokens (no `warrant_profile(1)`),
    // or have broken signatures: none may be allowed, and none may crash the verifier; a
    // broken signature on a decodable token is a `bad_signature` denial.
    let (root, samples) = root_public_key_and_samples();
    for sample in &samples {
        let bytes = std::fs::read(samples_dir().join(&sample.filename)).unwrap();
        let run = warrant([
            "verify",
            "--token",
            &URL_SAFE.encode(&bytes),
            "--public-key",
            &format!("ed25519/{root}"),
            "--resource",
            "file1",
            "--action",
            "read",
            "--json",
        ]);
        match run.exited_with_one_of(&[1, 2]) {
            1 => {
                let denial = run.json();
                assert_eq!(denial["decision"], "denied", "{}", sample.filename);
                if sample.signature_error {
                    assert_eq!(denial["kind"], "bad_signature", "{}", sample.filename);
                }
            }
            // Exit 2 for a token whose blocks cannot be decoded (test004, a random block)
            // and, as the verifier classifies it, for a block rule with unbound variables
            // (test018). Under --json the error is also a JSON object on stdout.
            _ => {
                run.code(2).stderr_has("warrant: ");
                assert_eq!(run.json()["exit_code"], 2, "{}", sample.filename);
            }
        }
    }
}
