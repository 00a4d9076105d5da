//! Configuration: layering, `*_FILE`, unknown keys, validation messages.

use std::path::Path;

use watchpost::config::{Config, Problem, Sources};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(
    file: Option<&Path>,
    vars: &[(&str, &str)],
) -> Result<watchpost::config::Loaded, Vec<Problem>> {
    Config::load(&Sources {
        file: file.map(Path::to_path_buf),
        use_default_file: false,
        env: env(vars),
    })
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn defaults_alone_are_valid_and_safe() {
    let config = load(None, &[]).unwrap().config;
    assert_eq!(
        config.server.bind, "127.0.0.1:8080",
        "binds loopback unless told otherwise"
    );
    assert_eq!(config.storage.data_dir, Path::new("./data"));
    assert!(config.validate().is_empty());
}

#[test]
fn the_first_admin_comes_from_top_level_variables() {
    let dir = tempfile::tempdir().unwrap();
    let secret = write(
        dir.path(),
        "pw",
        "violet tractor hums beneath granite skies\n",
    );
    let loaded = load(
        None,
        &[
            ("WATCHPOST_ADMIN_EMAIL", "root@example.com"),
            ("WATCHPOST_ADMIN_PASSWORD_FILE", secret.to_str().unwrap()),
        ],
    )
    .unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(
        loaded.config.admin_email.as_deref(),
        Some("root@example.com")
    );
    let password = loaded.config.admin_password.unwrap();
    assert_eq!(
        password.expose().trim_end(),
        "violet tractor hums beneath granite skies"
    );
}

#[test]
fn environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "w.toml",
        "[server]\nbind = \"127.0.0.1:7000\"\npublic_url = \"https://from-file.example\"\n",
    );
    let loaded = load(
        Some(&file),
        &[
            ("WATCHPOST_SERVER__BIND", "127.0.0.1:9000"),
            ("WATCHPOST_STORAGE__DATA_DIR", "/srv/wp"),
        ],
    )
    .unwrap();
    assert_eq!(loaded.config.server.bind, "127.0.0.1:9000");
    assert_eq!(loaded.config.storage.data_dir, Path::new("/srv/wp"));
    assert_eq!(
        loaded.config.server.public_url.as_deref(),
        Some("https://from-file.example"),
        "file values stay where env is silent"
    );
    assert_eq!(loaded.file.as_deref(), Some(file.as_path()));
}

#[test]
fn env_values_are_typed_like_file_values() {
    let loaded = load(
        None,
        &[
            ("WATCHPOST_LOGGING__FILE_COUNT", "7"),
            ("WATCHPOST_LOGGING__JSON", "true"),
            ("WATCHPOST_SERVER__BODY_LIMIT__API", "2 MiB"),
        ],
    )
    .unwrap();
    assert_eq!(loaded.config.logging.file_count, 7);
    assert!(loaded.config.logging.json);
    assert_eq!(
        loaded.config.server.body_limit.api.as_u64(),
        2 * 1024 * 1024
    );
}

#[test]
fn keys_that_end_in_file_are_plain_values_not_file_references() {
    let loaded = load(None, &[("WATCHPOST_LOGGING__FILE", "false")]).unwrap();
    assert!(!loaded.config.logging.file);
}

#[test]
fn trusted_proxies_come_as_a_list_or_comma_separated() {
    let loaded = load(
        None,
        &[("WATCHPOST_SERVER__TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")],
    )
    .unwrap();
    assert_eq!(
        loaded.config.server.trusted_proxies,
        vec!["10.0.0.0/8", "127.0.0.1"]
    );
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "w.toml",
        "[server]\ntrusted_proxies = [\"192.168.0.0/16\"]\n",
    );
    assert_eq!(
        load(Some(&file), &[])
            .unwrap()
            .config
            .server
            .trusted_proxies,
        vec!["192.168.0.0/16"]
    );
}

#[test]
fn file_variants_read_the_value_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let secret = write(dir.path(), "url", "https://watch.example.com\n");
    let loaded = load(
        None,
        &[(
            "WATCHPOST_SERVER__PUBLIC_URL_FILE",
            secret.to_str().unwrap(),
        )],
    )
    .unwrap();
    assert_eq!(
        loaded.config.server.public_url.as_deref(),
        Some("https://watch.example.com"),
        "trailing newline dropped"
    );

    let problems = load(
        None,
        &[("WATCHPOST_SERVER__PUBLIC_URL_FILE", "/nonexistent/x")],
    )
    .unwrap_err();
    assert_eq!(problems[0].key, "server.public_url");
    assert!(
        problems[0].message.contains("/nonexistent/x")
            && problems[0].message.contains("cannot be read")
    );

    let problems = load(
        None,
        &[
            ("WATCHPOST_SERVER__PUBLIC_URL", "https://a.example"),
            (
                "WATCHPOST_SERVER__PUBLIC_URL_FILE",
                secret.to_str().unwrap(),
            ),
        ],
    )
    .unwrap_err();
    assert!(
        problems[0].message.contains("keep one of them"),
        "{problems:?}"
    );
}

#[test]
fn unknown_keys_are_warned_about_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "w.toml",
        "[server]\nbnid = \"127.0.0.1:1\"\n[nonsense]\nx = 1\n",
    );
    let loaded = load(
        Some(&file),
        &[
            ("WATCHPOST_LOGGING__LEVLE", "debug"),
            ("WATCHPOST_SERVERBIND", "x"),
            ("WATCHPOST_CONFIG", "ignored"),
        ],
    )
    .unwrap();
    let all = loaded.warnings.join("\n");
    for name in [
        "server.bnid",
        "nonsense",
        "logging.levle",
        "WATCHPOST_SERVERBIND",
    ] {
        assert!(all.contains(name), "no warning names {name}: {all}");
    }
    assert!(!all.contains("WATCHPOST_CONFIG"), "{all}");
    assert!(
        !all.contains("server.tls") && !all.contains("public_url"),
        "known keys are not reported: {all}"
    );
}

#[test]
fn every_validation_problem_is_reported_at_once_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = write(dir.path(), "plainfile", "x");
    let file = write(
        dir.path(),
        "bad.toml",
        &format!(
            r#"
[server]
bind = "0.0.0.0:80x"
public_url = "ftp:/nope"
trusted_proxies = ["10.0.0.0/8", "not-an-ip"]
tls = {{ cert = "/nonexistent/cert.pem" }}
body_limit = {{ pages = 0 }}
[storage]
data_dir = "{}"
[logging]
level = "loud"
file_max_size = 10
file_count = 5000
[health]
min_free_disk = "lots"
"#,
            not_a_dir.display()
        ),
    );
    let config = load(Some(&file), &[]).unwrap().config;
    let problems = config.validate();
    let expect = [
        ("server.bind", "\"0.0.0.0:80x\" is not HOST:PORT"),
        ("server.public_url", "is not an http(s) URL"),
        (
            "server.trusted_proxies[1]",
            "\"not-an-ip\" is not an IP address or CIDR",
        ),
        ("server.tls", "set both cert and key"),
        ("server.body_limit.pages", "between 1 B and 1 GiB"),
        ("storage.data_dir", "is not a directory"),
        ("logging.level", "is not a log filter"),
        ("logging.file_max_size", "at least 64 KiB"),
        ("logging.file_count", "at most 1000"),
        ("health.min_free_disk", "is not a size or a percentage"),
    ];
    for (key, text) in expect {
        let p = problems
            .iter()
            .find(|p| p.key == key)
            .unwrap_or_else(|| panic!("no problem for {key}: {problems:#?}"));
        assert!(
            p.message.contains(text),
            "{key}: {:?} lacks {text:?}",
            p.message
        );
    }
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
    assert!(
        problems[0].to_string().contains("e.g. 127.0.0.1:8080"),
        "messages say what to do"
    );
}

#[test]
fn tls_files_must_exist_and_hold_pem() {
    let dir = tempfile::tempdir().unwrap();
    let cert = write(dir.path(), "cert.pem", "not pem");
    let file = write(
        dir.path(),
        "w.toml",
        &format!(
            "[server.tls]\ncert = \"{}\"\nkey = \"/nonexistent/key.pem\"\n",
            cert.display()
        ),
    );
    let problems = load(Some(&file), &[]).unwrap().config.validate();
    assert!(
        problems
            .iter()
            .any(|p| p.key == "server.tls.cert" && p.message.contains("PEM")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.key == "server.tls.key" && p.message.contains("/nonexistent/key.pem")),
        "{problems:?}"
    );
}

#[test]
fn wrong_types_and_bad_toml_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "w.toml", "[logging]\nfile_count = \"many\"\n");
    let problems = load(Some(&file), &[]).unwrap_err();
    assert!(
        problems.iter().any(|p| p.key == "logging.file_count"),
        "{problems:?}"
    );

    let file = write(dir.path(), "broken.toml", "[server\nbind = 1\n");
    let problems = load(Some(&file), &[]).unwrap_err();
    assert!(
        problems[0].message.contains("not valid TOML"),
        "{problems:?}"
    );

    let problems = load(Some(Path::new("/nonexistent/watchpost.toml")), &[]).unwrap_err();
    assert_eq!(problems[0].key, "--config");
}

#[test]
fn dump_shows_the_effective_configuration() {
    let loaded = load(None, &[("WATCHPOST_SERVER__BIND", "127.0.0.1:9999")]).unwrap();
    let text = loaded.config.dump().unwrap();
    assert!(text.contains("bind = \"127.0.0.1:9999\""), "{text}");
    assert!(
        text.contains("[logging]") && text.contains("min_free_disk"),
        "{text}"
    );
}
