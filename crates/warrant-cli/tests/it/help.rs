//! `--help` of every subcommand.

use crate::support::warrant;

#[test]
fn every_subcommand_has_help_with_examples() {
    for sub in ["keygen", "mint", "attenuate", "inspect", "verify"] {
        let run = warrant([sub, "--help"]);
        run.ok().stdout_has("Examples").stdout_has("Usage:");
        assert!(run.stdout.contains(&format!("warrant {sub}")), "{run:?}");
        // `help <sub>` says the same.
        let via_help = warrant(["help", sub]);
        via_help.ok().stdout_has("Examples");
    }
}

#[test]
fn top_level_help_and_version() {
    warrant(["--help"])
        .ok()
        .stdout_has("Exit codes: 0 success or allowed, 1 denied, 2 usage or input error");
    warrant(["--version"]).ok().stdout_has("warrant ");
    // No command at all is a usage error.
    let run = warrant(Vec::<&str>::new());
    run.code(2);
    assert!(run.stdout.is_empty(), "{run:?}");
}
