//! `[[access.rules]]`: access rules people can write without Cedar, in the spirit of
//! Authelia's `access_control`. Each rule matches on hosts, paths, methods, roles, groups,
//! zones and registered terminals (any value of a list, every list given) and says `deny`,
//! `one_factor` or `two_factor`. The first matching rule wins, and once any rule exists a
//! request that no rule matches is denied. `policy::rules` compiles them to Cedar with stable
//! ids (`access-rule-3`); this module validates them and finds rules an earlier one shadows.

use serde::{Deserialize, Serialize};

use super::Problem;
use super::problem::problem;
use super::systems::{SystemConfig, valid_host_name};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawAccess {
    pub rules: Vec<RawAccessRule>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawAccessRule {
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    pub case_sensitive: bool,
    pub methods: Vec<String>,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub zones: Vec<String>,
    pub devices: Vec<String>,
    pub policy: String,
}

/// What a matching rule asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulePolicy {
    Deny,
    OneFactor,
    TwoFactor,
}

impl RulePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RulePolicy::Deny => "deny",
            RulePolicy::OneFactor => "one_factor",
            RulePolicy::TwoFactor => "two_factor",
        }
    }
}

/// `emr.clinic.example` or `*.clinic.example` (any subdomain, at any depth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    /// The suffix with its leading dot: `.clinic.example`.
    Subdomains(String),
}

impl HostPattern {
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => h == host,
            HostPattern::Subdomains(s) => host.ends_with(s.as_str()),
        }
    }

    fn covers(&self, other: &HostPattern) -> bool {
        match (self, other) {
            (HostPattern::Exact(a), HostPattern::Exact(b)) => a == b,
            (HostPattern::Subdomains(s), HostPattern::Exact(h) | HostPattern::Subdomains(h)) => {
                h.ends_with(s.as_str())
            }
            (HostPattern::Exact(_), HostPattern::Subdomains(_)) => false,
        }
    }
}

/// A path pattern on the canonical path: a prefix at segment boundaries (`/admin` matches
/// `/admin`, `/admin/` and `/admin/users`, not `/administration`), or a glob where `*` stands
/// for any run of characters, `/` included. A glob matches a path with a trailing slash as it
/// matches the path without one: servers serve `/x/` and `/x` alike (the differential test
/// found the gap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    Prefix(String),
    Glob(String),
}

impl PathPattern {
    pub fn text(&self) -> &str {
        match self {
            PathPattern::Prefix(p) | PathPattern::Glob(p) => p,
        }
    }
}

/// `*` matches any run of characters (Cedar's `like`).
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    if parts.len() == 1 {
        return pattern == text;
    }
    if !text.starts_with(first) || !text.ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix.ends_with('/') {
        path.starts_with(prefix)
    } else {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

impl PathPattern {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathPattern::Prefix(p) => prefix_matches(p, path),
            PathPattern::Glob(g) => {
                glob_matches(g, path)
                    || path
                        .strip_suffix('/')
                        .is_some_and(|p| !p.is_empty() && glob_matches(g, p))
            }
        }
    }

    /// Does every path `other` matches also match `self`? (Conservative: `false` when
    /// unsure, so a shadow warning is never wrong.)
    fn covers(&self, other: &PathPattern) -> bool {
        match (self, other) {
            (PathPattern::Prefix(p), PathPattern::Prefix(q)) => prefix_matches(p, q),
            // Everything the glob matches starts with its fixed stem.
            (PathPattern::Prefix(p), PathPattern::Glob(q)) => {
                let stem = q.split('*').next().unwrap_or_default();
                let dir = if p.ends_with('/') {
                    p.clone()
                } else {
                    format!("{p}/")
                };
                stem.starts_with(&dir)
            }
            // A glob ending in `*` that matches a string matches every extension of it.
            (PathPattern::Glob(g), PathPattern::Prefix(q)) => {
                g.ends_with('*') && glob_matches(g, q)
            }
            // `q`'s stars can only be taken up by `g`'s stars, which take up anything.
            (PathPattern::Glob(g), PathPattern::Glob(q)) => glob_matches(g, q),
        }
    }
}

/// A validated rule; `number` is its 1-based place, the `N` of `access-rule-N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    pub number: usize,
    pub hosts: Vec<HostPattern>,
    pub paths: Vec<PathPattern>,
    pub case_sensitive: bool,
    pub methods: Vec<String>,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub zones: Vec<String>,
    /// Registered terminals by name; `*` is any registered terminal.
    pub devices: Vec<String>,
    pub policy: RulePolicy,
}

/// A request as a rule sees it.
#[derive(Debug, Clone, Copy)]
pub struct RuleInput<'a> {
    pub host: &'a str,
    pub path: &'a str,
    pub folded: &'a str,
    pub method: &'a str,
    pub roles: &'a [String],
    pub groups: &'a [String],
    pub zone: &'a str,
    pub device: &'a str,
}

fn any_or_empty<T>(list: &[T], f: impl Fn(&T) -> bool) -> bool {
    list.is_empty() || list.iter().any(f)
}

fn superset(a: &[String], b: &[String]) -> bool {
    a.is_empty() || (!b.is_empty() && b.iter().all(|x| a.contains(x)))
}

impl AccessRule {
    /// The Rust reading of the rule (the Cedar text compiled from it reads the same; the
    /// policy tests check that they agree). Used by `policy explain` and the shadow check.
    pub fn matches(&self, r: &RuleInput<'_>) -> bool {
        let path = if self.case_sensitive {
            r.path
        } else {
            r.folded
        };
        any_or_empty(&self.hosts, |h| h.matches(r.host))
            && any_or_empty(&self.paths, |p| p.matches(path))
            && any_or_empty(&self.methods, |m| m == r.method)
            && any_or_empty(&self.roles, |x| r.roles.contains(x))
            && any_or_empty(&self.groups, |x| r.groups.contains(x))
            && any_or_empty(&self.zones, |z| z == r.zone)
            && any_or_empty(&self.devices, |d| {
                (d == "*" && !r.device.is_empty()) || d == r.device
            })
    }

    /// Does every request this other rule matches also match `self`?
    pub fn covers(&self, other: &AccessRule) -> bool {
        let hosts = self.hosts.is_empty()
            || (!other.hosts.is_empty()
                && other
                    .hosts
                    .iter()
                    .all(|o| self.hosts.iter().any(|h| h.covers(o))));
        // A case-sensitive pattern does not cover what a case-insensitive one matches.
        let paths = self.paths.is_empty()
            || (!other.paths.is_empty()
                && (!self.case_sensitive || other.case_sensitive)
                && other.paths.iter().all(|o| {
                    let o = if self.case_sensitive {
                        o.clone()
                    } else {
                        fold(o)
                    };
                    self.paths.iter().any(|p| p.covers(&o))
                }));
        let devices = self.devices.is_empty()
            || (!other.devices.is_empty()
                && other
                    .devices
                    .iter()
                    .all(|d| self.devices.contains(d) || (self.devices.iter().any(|x| x == "*"))));
        hosts
            && paths
            && devices
            && superset(&self.methods, &other.methods)
            && superset(&self.roles, &other.roles)
            && superset(&self.groups, &other.groups)
            && superset(&self.zones, &other.zones)
    }
}

fn fold(p: &PathPattern) -> PathPattern {
    match p {
        PathPattern::Prefix(s) => PathPattern::Prefix(s.to_ascii_lowercase()),
        PathPattern::Glob(s) => PathPattern::Glob(s.to_ascii_lowercase()),
    }
}

/// Pairs (shadowed rule, the earlier rule that shadows it), by rule number.
pub fn shadowed(rules: &[AccessRule]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (j, later) in rules.iter().enumerate() {
        if let Some(earlier) = rules[..j].iter().find(|e| e.covers(later)) {
            out.push((later.number, earlier.number));
        }
    }
    out
}

fn tokens(
    key: &str,
    values: &[String],
    parse: impl Fn(&str) -> Result<String, String>,
    problems: &mut Vec<Problem>,
) -> Vec<String> {
    let mut out = Vec::new();
    for v in values {
        match parse(v) {
            Ok(t) if !out.contains(&t) => out.push(t),
            Ok(_) => {}
            Err(fix) => problems.push(problem(key, format!("`{v}` is not valid here"), fix)),
        }
    }
    out
}

fn host_pattern(
    key: &str,
    h: &str,
    systems: &[SystemConfig],
    problems: &mut Vec<Problem>,
) -> Option<HostPattern> {
    let h = h.trim().to_ascii_lowercase();
    let pattern = match h.strip_prefix("*.") {
        Some(rest) if valid_host_name(rest) => HostPattern::Subdomains(format!(".{rest}")),
        None if valid_host_name(&h) => HostPattern::Exact(h.clone()),
        _ => {
            problems.push(problem(
                key,
                format!("`{h}` is not a host name or *.domain"),
                "use e.g. \"emr.clinic.example\" or \"*.clinic.example\"",
            ));
            return None;
        }
    };
    let known = systems
        .iter()
        .flat_map(|s| s.hosts.iter())
        .any(|sh| pattern.matches(sh));
    if !known {
        problems.push(problem(
            key,
            format!("no [systems.*] has a host that `{h}` matches, so the rule can never apply"),
            "add the host to a system's hosts, or correct the rule",
        ));
    }
    Some(pattern)
}

fn path_pattern(key: &str, raw: &str, problems: &mut Vec<Problem>) -> Option<PathPattern> {
    match crate::canon::canonical_pattern(raw.trim()) {
        Ok(p) if p.contains('*') => Some(PathPattern::Glob(p)),
        Ok(p) => Some(PathPattern::Prefix(p)),
        Err(r) => {
            problems.push(problem(
                key,
                format!("`{raw}` can never match: requests spelt so are refused ({})", r.code),
                "write the path as the canonical form a request is read as: it starts with /, without //, ;, :, escapes of / . \\ or characters outside ASCII, kana and kanji",
            ));
            None
        }
    }
}

pub(super) fn validate(
    raw: &RawAccess,
    systems: &[SystemConfig],
    problems: &mut Vec<Problem>,
) -> Vec<AccessRule> {
    let mut rules = Vec::new();
    for (i, r) in raw.rules.iter().enumerate() {
        let key = |field: &str| format!("access.rules[{i}].{field}");
        let policy = match r.policy.as_str() {
            "deny" => RulePolicy::Deny,
            "one_factor" => RulePolicy::OneFactor,
            "two_factor" => RulePolicy::TwoFactor,
            other => {
                problems.push(problem(
                    &key("policy"),
                    format!("`{other}` is not a rule policy"),
                    "use \"deny\", \"one_factor\" or \"two_factor\"",
                ));
                RulePolicy::Deny
            }
        };
        let hosts = r
            .hosts
            .iter()
            .filter_map(|h| host_pattern(&key("hosts"), h, systems, problems))
            .collect();
        let paths = r
            .paths
            .iter()
            .filter_map(|p| path_pattern(&key("paths"), p, problems))
            .map(|p| if r.case_sensitive { p } else { fold(&p) })
            .collect();
        let methods = tokens(
            &key("methods"),
            &r.methods,
            |m| {
                let up = m.trim().to_ascii_uppercase();
                crate::canon::method(up.as_bytes())
                    .map_err(|_| "use HTTP methods such as \"GET\", \"POST\"".to_owned())
            },
            problems,
        );
        let account_token =
            |what| move |x: &str| crate::account::parse_token(x, what).map_err(|e| e.to_string());
        let roles = tokens(&key("roles"), &r.roles, account_token("role"), problems);
        let groups = tokens(&key("groups"), &r.groups, account_token("group"), problems);
        let zones = tokens(
            &key("zones"),
            &r.zones,
            |z| match z.trim() {
                "trusted" | "external" => Ok(z.trim().to_owned()),
                _ => Err(
                    "use \"trusted\" (registered terminals, clinic networks) or \"external\""
                        .into(),
                ),
            },
            problems,
        );
        let devices = tokens(
            &key("devices"),
            &r.devices,
            |d| {
                let d = d.trim();
                let ok = d == "*"
                    || (!d.is_empty()
                        && d.len() <= 64
                        && d.bytes().all(|b| {
                            b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
                        }));
                if ok {
                    Ok(d.to_owned())
                } else {
                    Err(
                        "name a registered terminal (`sekimori device list`), or \"*\" for any"
                            .into(),
                    )
                }
            },
            problems,
        );
        rules.push(AccessRule {
            number: i + 1,
            hosts,
            paths,
            case_sensitive: r.case_sensitive,
            methods,
            roles,
            groups,
            zones,
            devices,
            policy,
        });
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const SYSTEMS: &str =
        "[systems.emr]\nkind = \"web\"\nhosts = [\"emr.clinic.example\", \"lab.clinic.example\"]\n";

    fn rules(toml: &str) -> Vec<AccessRule> {
        Config::from_toml_str(&format!("{SYSTEMS}{toml}"))
            .unwrap()
            .access_rules
    }

    fn problems(toml: &str) -> Vec<String> {
        match Config::from_toml_str(&format!("{SYSTEMS}{toml}")) {
            Ok(_) => vec![],
            Err(e) => e.problems.into_iter().map(|p| p.key).collect(),
        }
    }

    fn input<'a>(path: &'a str, folded: &'a str, roles: &'a [String]) -> RuleInput<'a> {
        RuleInput {
            host: "emr.clinic.example",
            path,
            folded,
            method: "GET",
            roles,
            groups: &[],
            zone: "external",
            device: "",
        }
    }

    #[test]
    fn paths_match_at_segment_boundaries_in_any_case() {
        let r = rules("[[access.rules]]\npaths = [\"/Admin\"]\npolicy = \"deny\"\n");
        let none: Vec<String> = vec![];
        for (p, want) in [
            ("/admin", true),
            ("/ADMIN/users", true),
            ("/admin/", true),
            ("/administration", false),
            ("/x/admin", false),
        ] {
            let f = p.to_ascii_lowercase();
            assert_eq!(r[0].matches(&input(p, &f, &none)), want, "{p}");
        }
        let cs = rules(
            "[[access.rules]]\npaths = [\"/Admin\"]\ncase_sensitive = true\npolicy = \"deny\"\n",
        );
        assert!(cs[0].matches(&input("/Admin", "/admin", &none)));
        assert!(!cs[0].matches(&input("/admin", "/admin", &none)));
    }

    #[test]
    fn globs_and_subjects() {
        let r = rules(
            "[[access.rules]]\nhosts = [\"*.clinic.example\"]\npaths = [\"/api/*/export\"]\nroles = [\"doctor\", \"nurse\"]\nmethods = [\"get\"]\npolicy = \"two_factor\"\n",
        );
        assert_eq!(r[0].methods, vec!["GET"]);
        let doctor = vec!["doctor".to_owned()];
        let clerk = vec!["clerk".to_owned()];
        assert!(r[0].matches(&input("/api/v1/x/export", "/api/v1/x/export", &doctor)));
        assert!(!r[0].matches(&input("/api/v1/x/export", "/api/v1/x/export", &clerk)));
        assert!(!r[0].matches(&input("/api/export", "/api/export", &doctor)));
    }

    #[test]
    fn rules_that_can_never_match_are_problems() {
        let keys = problems(
            "[[access.rules]]\nhosts = [\"other.example\", \"bad host\"]\npaths = [\"/ａｄｍｉｎ\", \"admin\", \"/a;b\"]\nmethods = [\"G ET\"]\nzones = [\"inside\"]\nroles = [\"1x\"]\npolicy = \"allow\"\n",
        );
        for k in [
            "access.rules[0].hosts",
            "access.rules[0].paths",
            "access.rules[0].methods",
            "access.rules[0].zones",
            "access.rules[0].roles",
            "access.rules[0].policy",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} missing in {keys:?}");
        }
        assert_eq!(keys.iter().filter(|k| k.ends_with("hosts")).count(), 2);
        assert_eq!(keys.iter().filter(|k| k.ends_with("paths")).count(), 3);
    }

    #[test]
    fn the_shipped_examples_load_without_shadowed_rules() {
        let c =
            Config::from_toml_str(include_str!("../../config/access-rules.example.toml")).unwrap();
        assert_eq!(c.access_rules.len(), 11);
        assert!(shadowed(&c.access_rules).is_empty());
        // The reference file's commented rules, uncommented, load too.
        let reference = include_str!("../../config/sekimori.example.toml");
        let rules: String = reference
            .lines()
            .skip_while(|l| !l.starts_with("# [[access.rules]]"))
            .take_while(|l| l.starts_with('#'))
            .map(|l| l.trim_start_matches('#').trim_start())
            .map(|l| format!("{l}\n"))
            .collect();
        let c = Config::from_toml_str(&format!("{SYSTEMS}{rules}")).unwrap();
        assert_eq!(c.access_rules.len(), 3);
        assert!(Config::from_toml_str(reference).is_ok());
    }

    #[test]
    fn shadowed_rules_are_found() {
        let r = rules(
            "[[access.rules]]\npaths = [\"/admin\"]\npolicy = \"deny\"\n\
             [[access.rules]]\npaths = [\"/admin/users\"]\ngroups = [\"admins\"]\npolicy = \"two_factor\"\n\
             [[access.rules]]\npaths = [\"/public\"]\npolicy = \"one_factor\"\n\
             [[access.rules]]\npaths = [\"/public/*\"]\nmethods = [\"GET\"]\npolicy = \"deny\"\n\
             [[access.rules]]\npaths = [\"/reports\"]\nroles = [\"doctor\"]\npolicy = \"one_factor\"\n\
             [[access.rules]]\npaths = [\"/reports\"]\npolicy = \"deny\"\n\
             [[access.rules]]\nhosts = [\"*.clinic.example\"]\npolicy = \"one_factor\"\n\
             [[access.rules]]\nhosts = [\"lab.clinic.example\"]\npaths = [\"/x\"]\npolicy = \"deny\"\n",
        );
        assert_eq!(shadowed(&r), vec![(2, 1), (4, 3), (8, 7)]);
        assert!(glob_matches("/a/*", "/a/b/c"));
        assert!(!glob_matches("/a/*b", "/a/c"));
        assert!(glob_matches("*", ""));
    }
}
