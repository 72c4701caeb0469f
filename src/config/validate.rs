//! Turning the merged raw values into a validated [`Config`], collecting every problem.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::Value;

use super::gateway;
use super::raw::RawConfig;
use super::url::{is_local_host, url_host};
use super::{
    Config, ConfigErrors, FacilityConfig, LogConfig, LogFormat, PasswordConfig, Problem,
    ServerConfig, StateBackend,
};
use crate::account::FacilityId;
use crate::crypto::SecretString;
use crate::crypto::hash::{self, HashParams};
use crate::crypto::secret::SecretBytes;
use crate::password::hasher::HashPriority;
use crate::password::rules::{Composition, PasswordPolicy};

/// Keys some products use for periodic password rotation. Guideline 7.0 deleted it, and
/// Sekimori has no such setting: these are refused with that explanation, not as typos.
const ROTATION_KEYS: &[&str] = &[
    "max_password_age",
    "password_max_age",
    "password_expiry_days",
    "password_expiration_days",
    "password_expires_after",
    "password_lifetime",
    "password_rotation_days",
    "rotation_days",
    "max_age_days",
    "expire_days",
    "expiry_days",
];

const ROTATION_MESSAGE: &str = "periodic password rotation was removed by the MHLW guideline 7.0 \
     (定期的なパスワード変更は第7.0版で削除されました); Sekimori never expires passwords by age";
const ROTATION_FIX: &str = "delete this key; a change is forced only on evidence of compromise \
     (`sekimori user mark-compromised`) or a breach-filter hit";

pub(super) use super::problem::problem;

/// Remove every rotation key anywhere in the tree, reporting each.
fn strip_rotation_keys(value: &mut Value, path: &str, problems: &mut Vec<Problem>) {
    if let Value::Object(map) = value {
        let keys: Vec<String> = map.keys().cloned().collect();
        for k in keys {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if ROTATION_KEYS.contains(&k.to_ascii_lowercase().as_str()) {
                map.remove(&k);
                problems.push(problem(&here, ROTATION_MESSAGE, ROTATION_FIX));
            } else if let Some(child) = map.get_mut(&k) {
                strip_rotation_keys(child, &here, problems);
            }
        }
    }
}

fn remove_path(value: &mut Value, segments: &[String]) -> bool {
    match segments {
        [] => false,
        [last] => value
            .as_object_mut()
            .is_some_and(|m| m.remove(last).is_some()),
        [first, rest @ ..] => value.get_mut(first).is_some_and(|v| remove_path(v, rest)),
    }
}

/// Deserialise, and on each error record it, remove the offending key and try again, so one
/// run reports every unknown key and wrongly typed value.
fn deserialize_collecting(mut value: Value, problems: &mut Vec<Problem>) -> RawConfig {
    for _ in 0..64 {
        match serde_path_to_error::deserialize::<_, RawConfig>(value.clone()) {
            Ok(raw) => return raw,
            Err(err) => {
                let segments: Vec<String> = err
                    .path()
                    .iter()
                    .map(|s| s.to_string())
                    .filter(|s| s != "?")
                    .collect();
                let inner = err.inner().to_string();
                let mut segs = segments.clone();
                let (key, fix) = if let Some(rest) = inner.strip_prefix("unknown field `") {
                    let name = rest.split('`').next().unwrap_or_default().to_owned();
                    let expected: Vec<&str> = rest.split("expected ").nth(1).map_or(vec![], |e| {
                        e.split(['`', ',', ' '])
                            .filter(|s| !s.is_empty() && *s != "one" && *s != "of" && *s != "or")
                            .collect()
                    });
                    // serde_path_to_error already ends the path with the unknown key.
                    if segs.last() != Some(&name) {
                        segs.push(name.clone());
                    }
                    let suggestion = closest(&name, &expected)
                        .map(|s| format!("did you mean `{s}`? "))
                        .unwrap_or_default();
                    (
                        segs.join("."),
                        format!(
                            "{suggestion}remove the key or use one of: {}",
                            expected.join(", ")
                        ),
                    )
                } else {
                    (
                        segs.join("."),
                        "use a value of the type shown in config/sekimori.example.toml".to_owned(),
                    )
                };
                let key = if key.is_empty() {
                    "(root)".to_owned()
                } else {
                    key
                };
                problems.push(problem(&key, inner, fix));
                if !remove_path(&mut value, &segs) {
                    break;
                }
            }
        }
    }
    RawConfig::default()
}

fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (levenshtein(name, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn read_pepper(path: &Path, problems: &mut Vec<Problem>) -> Option<SecretBytes> {
    let key = "password.pepper_file";
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                problems.push(problem(
                    key,
                    format!(
                        "{} is readable by group or others (mode {:o})",
                        path.display(),
                        m.permissions().mode() & 0o777
                    ),
                    format!("chmod 600 {}", path.display()),
                ));
                return None;
            }
            Ok(_) => {}
            Err(e) => {
                problems.push(problem(
                    key,
                    format!("cannot read {}: {e}", path.display()),
                    "point it at an existing file",
                ));
                return None;
            }
        }
    }
    match std::fs::read(path) {
        Ok(mut bytes) => {
            while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                bytes.pop();
            }
            if bytes.len() < 16 {
                problems.push(problem(
                    key,
                    "the pepper is shorter than 16 bytes",
                    "head -c 32 /dev/urandom | base64 > FILE",
                ));
                None
            } else {
                Some(SecretBytes::new(bytes))
            }
        }
        Err(e) => {
            problems.push(problem(
                key,
                format!("cannot read {}: {e}", path.display()),
                "point it at an existing file",
            ));
            None
        }
    }
}

fn check_file(key: &str, path: &Option<std::path::PathBuf>, problems: &mut Vec<Problem>) {
    if let Some(p) = path
        && !p.is_file()
    {
        problems.push(problem(
            key,
            format!("{} does not exist", p.display()),
            "create the file or remove the key",
        ));
    }
}

pub(super) fn validate(mut value: Value, source: &str) -> Result<Config, ConfigErrors> {
    let mut problems = Vec::new();
    strip_rotation_keys(&mut value, "", &mut problems);
    let raw = deserialize_collecting(value, &mut problems);

    let listen = raw.server.listen.parse::<SocketAddr>().map_err(|e| {
        problems.push(problem(
            "server.listen",
            format!("`{}` is not an address: {e}", raw.server.listen),
            "use IP:PORT, e.g. 127.0.0.1:8080",
        ));
    });
    let (scheme, public_host) = url_host(&raw.server.public_url).unwrap_or_else(|| {
        problems.push(problem(
            "server.public_url",
            format!("`{}` is not an absolute http(s) URL", raw.server.public_url),
            "use the URL people type, e.g. https://auth.clinic.example",
        ));
        (String::new(), String::new())
    });
    if !scheme.is_empty() && scheme != "http" && scheme != "https" {
        problems.push(problem(
            "server.public_url",
            format!("scheme `{scheme}` is not http or https"),
            "use https://…",
        ));
    }
    if raw.server.danger_insecure_cookies && !public_host.is_empty() && !is_local_host(&public_host)
    {
        problems.push(problem(
            "server.danger_insecure_cookies",
            format!("insecure (non-Secure) cookies are allowed only for localhost, but public_url host is `{public_host}`"),
            "set danger_insecure_cookies = false and serve over https",
        ));
    }
    // Plain http is only for localhost (browsers accept Secure cookies there too).
    if scheme == "http" && !is_local_host(&public_host) && !public_host.is_empty() {
        problems.push(problem(
            "server.public_url",
            "a non-local public URL must use https",
            "use https://…",
        ));
    }
    if !(1024..=1024 * 1024).contains(&raw.server.max_body_bytes) {
        problems.push(problem(
            "server.max_body_bytes",
            "must be between 1024 and 1048576",
            "the default is 16384",
        ));
    }
    let store = super::store::store(&raw.store, &mut problems);
    let state =
        match raw.state.backend.as_str() {
            "memory" => StateBackend::Memory,
            "redis" => {
                // The URL may carry a password: it can come from a file (`redis_url_file`).
                let from_file = raw.state.redis_url_file.as_ref().and_then(|p| {
                    match std::fs::read_to_string(p) {
                        Ok(s) => Some(s.trim().to_owned()),
                        Err(e) => {
                            problems.push(problem(
                                "state.redis_url_file",
                                format!("cannot read {}: {e}", p.display()),
                                "point it at a readable file",
                            ));
                            None
                        }
                    }
                });
                match from_file.or_else(|| raw.state.redis_url.clone()) {
                    Some(url)
                        if url.starts_with("redis://")
                            || url.starts_with("rediss://")
                            || url.starts_with("unix://") =>
                    {
                        StateBackend::Redis {
                            url: SecretString::new(url),
                        }
                    }
                    Some(_) => {
                        problems.push(problem(
                            "state.redis_url",
                            "is not a redis:// URL",
                            "e.g. redis://127.0.0.1:6379/0",
                        ));
                        StateBackend::Memory
                    }
                    None => {
                        problems.push(problem(
                            "state.redis_url",
                            "backend \"redis\" needs a URL",
                            "set state.redis_url or state.redis_url_file",
                        ));
                        StateBackend::Memory
                    }
                }
            }
            other => {
                problems.push(problem(
                    "state.backend",
                    format!("unknown state backend `{other}`"),
                    "use \"memory\" (one gateway) or \"redis\" (several replicas)",
                ));
                StateBackend::Memory
            }
        };
    let fid = raw.facility.id.trim();
    if fid.is_empty()
        || fid.len() > 64
        || !fid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        problems.push(problem(
            "facility.id",
            format!("`{fid}` is not a valid id"),
            "use 1-64 characters a-z, 0-9, - or _",
        ));
    }
    let p = &raw.password;
    let composition = match p.profile.as_str() {
        "mhlw" => Composition::Mhlw,
        "nist" => Composition::Nist,
        other => {
            problems.push(problem(
                "password.profile",
                format!("unknown profile `{other}`"),
                "use \"mhlw\" (letters and digits) or \"nist\" (no composition rules)",
            ));
            Composition::Mhlw
        }
    };
    if p.min_length_with_second_factor < 8 {
        problems.push(problem(
            "password.min_length_with_second_factor",
            "guideline 7.0 requires at least 8 characters with two-factor authentication",
            "set 8 or more",
        ));
    }
    if p.min_length_without_second_factor < 13 {
        problems.push(problem(
            "password.min_length_without_second_factor",
            "guideline 7.0 requires at least 13 characters without two-factor authentication",
            "set 13 or more (the default is 15, as NIST SP 800-63B-4)",
        ));
    }
    if p.max_length < 64 || p.max_length > 1024 {
        problems.push(problem(
            "password.max_length",
            "NIST SP 800-63B requires accepting at least 64 characters",
            "set 64-1024 (the default is 128)",
        ));
    }
    if p.max_length
        < p.min_length_without_second_factor
            .max(p.min_length_with_second_factor)
    {
        problems.push(problem(
            "password.max_length",
            "is below a minimum length",
            "raise max_length",
        ));
    }
    if !(3..=4).contains(&p.min_strength) {
        problems.push(problem(
            "password.min_strength",
            format!("{} allows guessable passwords", p.min_strength),
            "use 3 or 4 (zxcvbn score)",
        ));
    }
    if !(1..=24).contains(&p.history_depth) {
        problems.push(problem(
            "password.history_depth",
            "must be between 1 and 24",
            "the default is 5",
        ));
    }
    let hashing = HashParams {
        memory_kib: p.hashing.memory_kib,
        iterations: p.hashing.iterations,
        parallelism: p.hashing.parallelism,
    };
    if let Err(e) = hash::validate_params(hashing) {
        problems.push(problem(
            "password.hashing",
            e.to_string(),
            "use memory_kib >= 8 * parallelism, iterations >= 1",
        ));
    } else if hashing.memory_kib < 7 * 1024 && hashing.iterations < 5 {
        problems.push(problem(
            "password.hashing.memory_kib",
            "below OWASP's argon2id minimums (19 MiB with t=2, or 7 MiB with t=5)",
            "use memory_kib = 19456, iterations = 2",
        ));
    }
    if p.hashing.max_concurrent > 64 {
        problems.push(problem(
            "password.hashing.max_concurrent",
            "must be between 0 (automatic) and 64",
            "use 0: one worker per core",
        ));
    }
    let hash_priority = HashPriority::parse(&p.hashing.priority).unwrap_or_else(|| {
        problems.push(problem(
            "password.hashing.priority",
            format!("unknown priority {:?}", p.hashing.priority),
            "use \"idle\" (hash only on cores nothing else wants), \"low\" (nice 19) or \"normal\"",
        ));
        HashPriority::default()
    });
    check_file("password.blocklist_file", &p.blocklist_file, &mut problems);
    check_file(
        "password.breach_filter_file",
        &p.breach_filter_file,
        &mut problems,
    );
    let pepper = p
        .pepper_file
        .as_deref()
        .and_then(|path| read_pepper(path, &mut problems));
    if let Some(dir) = &raw.policy.dir
        && !dir.is_dir()
    {
        problems.push(problem(
            "policy.dir",
            format!("{} is not a directory", dir.display()),
            "create it or remove the key",
        ));
    }
    let systems = super::systems::validate(&raw.systems, &mut problems);
    let access_rules = super::access::validate(&raw.access, &systems, &mut problems);
    let session = gateway::session(&raw.session, &mut problems);
    let lockout = gateway::lockout(&raw.lockout, &mut problems);
    let network = gateway::network(&raw.network, &mut problems);
    let data_dir = raw
        .store
        .sqlite_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let keys = gateway::keys(&raw.keys, &data_dir, &mut problems);
    let factors = super::factors::factors(&raw.factors, &keys.dir);
    let webauthn = super::factors::webauthn(&raw.webauthn, &raw.server.public_url, &mut problems);
    let accounts = super::accounts::accounts(&raw.accounts, &mut problems);
    let emergency = super::accounts::emergency(&raw.emergency, &mut problems);
    let audit = super::audit::audit(&raw.audit, &data_dir, &mut problems);
    let metrics = super::metrics::metrics(&raw.metrics, &mut problems);
    let format = match raw.log.format.as_str() {
        "json" => LogFormat::Json,
        "pretty" => LogFormat::Pretty,
        other => {
            problems.push(problem(
                "log.format",
                format!("unknown format `{other}`"),
                "use \"json\" or \"pretty\"",
            ));
            LogFormat::Json
        }
    };
    if tracing_subscriber::EnvFilter::try_new(&raw.log.level).is_err() {
        problems.push(problem(
            "log.level",
            format!("`{}` is not a log filter", raw.log.level),
            "use error, warn, info, debug or trace",
        ));
    }

    match (problems.is_empty(), listen) {
        (true, Ok(listen)) => Ok(Config {
            server: ServerConfig {
                listen,
                public_url: raw.server.public_url.trim_end_matches('/').to_owned(),
                public_host,
                danger_insecure_cookies: raw.server.danger_insecure_cookies,
                max_body_bytes: raw.server.max_body_bytes,
                shutdown_grace_seconds: raw.server.shutdown_grace_seconds,
                control_socket: raw
                    .server
                    .control_socket
                    .clone()
                    .unwrap_or_else(|| data_dir.join("control.sock")),
            },
            state,
            store,
            facility: FacilityConfig {
                id: FacilityId(fid.to_owned()),
                name: raw.facility.name,
            },
            password: PasswordConfig {
                policy: PasswordPolicy {
                    composition,
                    min_length_with_second_factor: p.min_length_with_second_factor,
                    min_length_without_second_factor: p.min_length_without_second_factor,
                    max_length: p.max_length,
                    min_score: p.min_strength,
                    history_depth: p.history_depth,
                },
                hashing,
                max_concurrent_hashes: match p.hashing.max_concurrent {
                    // Every core: the workers run below the request threads' priority, so
                    // forward-auth latency does not depend on how many people sign in.
                    0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                    n => n,
                },
                hash_priority,
                blocklist_file: p.blocklist_file.clone(),
                breach_filter_file: p.breach_filter_file.clone(),
                pepper,
            },
            policy_dir: raw.policy.dir.clone(),
            systems,
            access_rules,
            session,
            lockout,
            network,
            keys,
            factors,
            webauthn,
            accounts,
            emergency,
            audit,
            metrics,
            log: LogConfig {
                format,
                level: raw.log.level,
            },
            source: source.to_owned(),
        }),
        _ => Err(ConfigErrors {
            source: source.to_owned(),
            problems,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    fn problems(toml: &str) -> Vec<(String, String)> {
        match Config::from_toml_str(toml) {
            Ok(_) => vec![],
            Err(e) => e
                .problems
                .into_iter()
                .map(|p| (p.key, p.message + " | " + &p.fix))
                .collect(),
        }
    }

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::from_toml_str("").unwrap();
        assert_eq!(c.password.policy.min_length_with_second_factor, 8);
        assert_eq!(c.password.policy.min_length_without_second_factor, 15);
        assert_eq!(c.password.hashing.memory_kib, 19456);
        assert!(c.server.danger_insecure_cookies);
    }

    #[test]
    fn rotation_keys_are_refused_with_the_guideline() {
        let p =
            problems("[password]\nmax_password_age = 90\n[server]\npassword_expiry_days = 30\n");
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].0, "password.max_password_age");
        assert!(p[0].1.contains("7.0"));
        assert_eq!(p[1].0, "server.password_expiry_days");
    }

    #[test]
    fn every_unknown_key_and_bad_type_is_reported_with_a_suggestion() {
        let p = problems(
            "[password]\nmin_lenght_with_second_factor = 8\nhistory_depth = \"five\"\n[srever]\nx = 1\n",
        );
        let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            keys.contains(&"password.min_lenght_with_second_factor"),
            "{p:?}"
        );
        assert!(keys.contains(&"password.history_depth"), "{p:?}");
        assert!(keys.contains(&"srever"), "{p:?}");
        let typo = p
            .iter()
            .find(|(k, _)| k == "password.min_lenght_with_second_factor")
            .unwrap();
        assert!(
            typo.1
                .contains("did you mean `min_length_with_second_factor`"),
            "{typo:?}"
        );
        let server = p.iter().find(|(k, _)| k == "srever").unwrap();
        assert!(server.1.contains("did you mean `server`"), "{server:?}");
    }

    #[test]
    fn guideline_floors_are_enforced() {
        let p = problems(
            "[password]\nmin_length_with_second_factor = 7\nmin_length_without_second_factor = 12\nmin_strength = 1\n",
        );
        let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "password.min_length_with_second_factor",
                "password.min_length_without_second_factor",
                "password.min_strength"
            ]
        );
    }

    #[test]
    fn insecure_cookies_only_on_localhost() {
        let p = problems(
            "[server]\npublic_url = \"https://auth.clinic.example\"\ndanger_insecure_cookies = true\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "server.danger_insecure_cookies");
        assert!(problems("[server]\npublic_url = \"https://auth.clinic.example\"\ndanger_insecure_cookies = false\n").is_empty());
        assert_eq!(problems("[server]\npublic_url = \"http://auth.clinic.example\"\ndanger_insecure_cookies = false\n")[0].0, "server.public_url");
    }

    #[test]
    fn redis_state_needs_a_url() {
        assert_eq!(
            problems("[state]\nbackend = \"redis\"\n")[0].0,
            "state.redis_url"
        );
        assert_eq!(
            problems("[state]\nbackend = \"redis\"\nredis_url = \"http://x\"\n")[0].0,
            "state.redis_url"
        );
        assert_eq!(
            problems("[state]\nbackend = \"memcached\"\n")[0].0,
            "state.backend"
        );
        let c = Config::from_toml_str(
            "[state]\nbackend = \"redis\"\nredis_url = \"redis://:pw@127.0.0.1:6379/0\"\n",
        )
        .unwrap();
        assert!(!format!("{c:?}").contains(":pw@"), "the URL is a secret");
    }

    #[test]
    fn malformed_toml_is_a_problem_not_a_panic() {
        assert!(!problems("[password\nx=").is_empty());
    }
}
