//! Reading the configuration layers: defaults → TOML file → `WATCHPOST_*`
//! environment (with `__` between nesting levels and `*_FILE` variants), and
//! the warnings for keys that no section knows.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Value};

use super::{Config, Problem};

const ENV_PREFIX: &str = "WATCHPOST_";
/// `WATCHPOST_*` variables that are read elsewhere and are not config keys.
const NON_KEY_VARS: &[&str] = &["WATCHPOST_CONFIG"];
/// Top-level keys, which have no section (`WATCHPOST_ADMIN_EMAIL`).
const TOP_LEVEL_VARS: &[&str] = &["ADMIN_EMAIL", "ADMIN_PASSWORD", "ADMIN_PASSWORD_FILE"];
/// The file read when neither `--config` nor `WATCHPOST_CONFIG` names one.
const DEFAULT_FILE: &str = "watchpost.toml";

/// Where the layers come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--config PATH` or `WATCHPOST_CONFIG`; it must exist when given.
    pub file: Option<PathBuf>,
    /// Look for `./watchpost.toml` when `file` is `None`.
    pub use_default_file: bool,
    /// The environment, as `(name, value)` pairs.
    pub env: Vec<(String, String)>,
}

impl Sources {
    /// The real process environment and the default file lookup.
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Sources {
            file,
            use_default_file: true,
            env: std::env::vars().collect(),
        }
    }
}

/// A configuration that was read, with the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub file: Option<PathBuf>,
    pub warnings: Vec<String>,
}

pub fn load(sources: &Sources) -> Result<Loaded, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let known = known_keys();
    let mut figment = Figment::from(Serialized::defaults(Config::default()));

    let file = match &sources.file {
        Some(path) if !path.is_file() => {
            problems.push(Problem::new(
                "--config",
                format!(
                    "{} does not exist or is not a file; pass the path of a TOML file",
                    path.display()
                ),
            ));
            None
        }
        Some(path) => Some(path.clone()),
        None if sources.use_default_file && Path::new(DEFAULT_FILE).is_file() => {
            Some(PathBuf::from(DEFAULT_FILE))
        }
        None => None,
    };
    if let Some(path) = &file {
        match std::fs::read_to_string(path) {
            Ok(text) => match text.parse::<toml::Table>() {
                Ok(_) => figment = figment.merge(Toml::string(&text)),
                Err(e) => problems.push(Problem::new(
                    path.display().to_string(),
                    format!("is not valid TOML: {}", e.message()),
                )),
            },
            Err(e) => problems.push(Problem::new(
                path.display().to_string(),
                format!("cannot be read ({e}); check the path and its permissions"),
            )),
        }
    }

    let env = env_layer(&sources.env, &known, &mut problems, &mut warnings);
    figment = figment.merge(Serialized::globals(env));

    match figment.extract::<Value>() {
        Ok(merged) => warnings.extend(unknown_keys(&merged, &known)),
        Err(e) => problems.extend(figment_problems(e)),
    }
    let config = match figment.extract_lossy::<Config>() {
        Ok(config) => Some(config),
        Err(e) => {
            problems.extend(figment_problems(e));
            None
        }
    };
    match config {
        Some(config) if problems.is_empty() => Ok(Loaded {
            config,
            file,
            warnings,
        }),
        _ => Err(problems),
    }
}

/// The environment variables as one nested dictionary. `X_FILE` reads the
/// value of key `x` from the named file (trailing newline removed).
fn env_layer(
    env: &[(String, String)],
    known: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<String>,
) -> Dict {
    let mut layer = Dict::new();
    let mut plain = BTreeSet::new();
    let mut from_files = Vec::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if NON_KEY_VARS.contains(&name.as_str()) {
            continue;
        }
        if !rest.contains("__") && !TOP_LEVEL_VARS.contains(&rest) {
            warnings.push(format!(
                "environment variable {name} is not a config key; keys are WATCHPOST_<SECTION>__<KEY>, e.g. WATCHPOST_SERVER__BIND"
            ));
            continue;
        }
        // A key that itself ends in `_file` (`logging.file`) is a plain value.
        match rest
            .strip_suffix("_FILE")
            .filter(|_| !known.contains(&env_key(rest)))
        {
            Some(base) => from_files.push((name, env_key(base), value)),
            None => {
                plain.insert(env_key(rest));
                merge_into(&mut layer, &env_key(rest), Value::from(value.clone()));
            }
        }
    }
    for (name, key, path) in from_files {
        if plain.contains(&key) {
            problems.push(Problem::new(
                key,
                format!(
                    "is set by both {} and {name}; keep one of them",
                    &name[..name.len() - 5]
                ),
            ));
            continue;
        }
        match std::fs::read_to_string(path) {
            Ok(text) => merge_into(&mut layer, &key, Value::from(text.trim_end_matches(['\r', '\n']).to_string())),
            Err(e) => problems.push(Problem::new(
                key,
                format!("{name} names {path}, which cannot be read ({e}); fix the path or its permissions"),
            )),
        }
    }
    layer
}

/// Every key the configuration defines, dotted (`server.tls.cert`).
fn known_keys() -> BTreeSet<String> {
    fn walk(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
        if let Value::Dict(_, dict) = value {
            for (key, child) in dict {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                walk(child, &path, out);
                out.insert(path);
            }
        }
    }
    let mut out = BTreeSet::new();
    if let Ok(defaults) = Value::serialize(Config::default()) {
        walk(&defaults, "", &mut out);
    }
    out
}

/// `SERVER__BODY_LIMIT__API` → `server.body_limit.api`.
fn env_key(rest: &str) -> String {
    rest.to_ascii_lowercase().replace("__", ".")
}

fn merge_into(dict: &mut Dict, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            dict.insert(key.to_string(), value);
        }
        Some((head, tail)) => {
            let child = dict
                .entry(head.to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = child {
                merge_into(inner, tail, value);
            }
        }
    }
}

fn figment_problems(error: figment::Error) -> Vec<Problem> {
    error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                "config".to_string()
            } else {
                e.path.join(".")
            };
            let source = e
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_default();
            let message = match source.is_empty() {
                true => format!("{}", e.kind),
                false => format!("{} (from {source})", e.kind),
            };
            Problem::new(key, message)
        })
        .collect()
}

/// Keys present in the merged layers that no section defines.
fn unknown_keys(merged: &Value, known: &BTreeSet<String>) -> Vec<String> {
    fn walk(value: &Value, prefix: &str, known: &BTreeSet<String>, out: &mut Vec<String>) {
        let Value::Dict(_, dict) = value else { return };
        for (key, child) in dict {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            if known.contains(&path) {
                walk(child, &path, known, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(merged, "", known, &mut out);
    out.into_iter()
        .map(|key| format!("unknown config key {key} is ignored; check its spelling against the README's configuration table"))
        .collect()
}
