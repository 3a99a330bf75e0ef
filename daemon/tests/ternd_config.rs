//! `ternd --check-config` and a bad file at start, through the real binary.

use std::process::Command;

fn example() -> std::path::PathBuf {
    fixtures::data_dir().parent().unwrap().join("configs/ternd.toml")
}

#[test]
fn the_documented_example_config_is_valid() {
    let out = Command::new(env!("CARGO_BIN_EXE_ternd"))
        .arg("--check-config")
        .arg(example())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK (3 peers)"));
}

#[test]
fn a_bad_config_is_explained_line_by_line_and_ternd_does_not_start() {
    let dir = std::env::temp_dir().join(format!("ternd-badcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string(example())
        .unwrap()
        .replace("hold_time = 240", "hold_time = 2")
        .replace("address = \"127.0.0.10\"", "address = \"127.0.0.300\"");
    std::fs::write(&bad, &text).unwrap();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for flag in ["--check-config", "--config"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ternd"))
            .arg(flag)
            .arg(&bad)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flag}: {err}");
        assert!(
            err.contains(&format!("bad.toml:{}: peer.hold_time", line_of("hold_time = 2"))),
            "{err}"
        );
        assert!(
            err.contains(&format!("bad.toml:{}: peer.address", line_of("127.0.0.300"))),
            "{err}"
        );
        assert!(err.contains("not starting"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
