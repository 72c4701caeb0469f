//! `[[access.rules]]` compiled to Cedar `access` policies, so that `policy check`, `policy
//! explain` and the audit log show them under stable ids:
//!
//! | rule policy  | Cedar                                                                      |
//! |--------------|----------------------------------------------------------------------------|
//! | `deny`       | `forbid` `access-rule-N`                                                   |
//! | `one_factor` | `permit` `access-rule-N`                                                   |
//! | `two_factor` | `permit` `access-rule-N`, and `forbid` `access-rule-N-second-factor` with  |
//! |              | `@outcome("second_factor_required")` while fewer than two factor kinds     |
//! | (no match)   | `forbid` `access-rules-no-match`, once any rule exists                     |
//!
//! "The first match wins" becomes: rule N applies when it matches and no earlier rule does.

use crate::config::access::{AccessRule, HostPattern, PathPattern, RulePolicy};

/// The file name policies compiled from the rules are listed under.
pub const RULES_FILE: &str = "[[access.rules]]";

/// A Cedar string literal; in a `like` pattern `*` stays the wildcard.
fn lit(s: &str, pattern: bool) -> String {
    format!("\"{}\"", esc(s, pattern))
}

/// The body of a Cedar string literal.
fn esc(s: &str, pattern: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '*' if !pattern => out.push_str("\\*"),
            c if c == ' ' || c.is_ascii_graphic() => out.push(c),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    out
}

fn list(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| lit(v, false)).collect();
    format!("[{}]", items.join(", "))
}

fn any_of(parts: Vec<String>) -> String {
    format!("({})", parts.join(" || "))
}

/// The condition under which a rule matches a request.
pub fn matcher(rule: &AccessRule) -> String {
    let mut all = Vec::new();
    if !rule.hosts.is_empty() {
        all.push(any_of(
            rule.hosts
                .iter()
                .map(|h| match h {
                    HostPattern::Exact(h) => format!("context.host == {}", lit(h, false)),
                    HostPattern::Subdomains(s) => {
                        format!("context.host like {}", lit(&format!("*{s}"), true))
                    }
                })
                .collect(),
        ));
    }
    if !rule.paths.is_empty() {
        let p = if rule.case_sensitive {
            "context.path"
        } else {
            "context.path_folded"
        };
        all.push(any_of(
            rule.paths
                .iter()
                .map(|pattern| match pattern {
                    PathPattern::Prefix(x) if x.ends_with('/') => {
                        format!("{p} like \"{}*\"", esc(x, false))
                    }
                    PathPattern::Prefix(x) => {
                        let e = esc(x, false);
                        format!("{p} == \"{e}\" || {p} like \"{e}/*\"")
                    }
                    // With or without a trailing slash, as the Rust reading.
                    PathPattern::Glob(g) => {
                        let e = esc(g, true);
                        format!("{p} like \"{e}\" || {p} like \"{e}/\"")
                    }
                })
                .collect(),
        ));
    }
    if !rule.methods.is_empty() {
        all.push(format!("{}.contains(context.method)", list(&rule.methods)));
    }
    if !rule.roles.is_empty() {
        all.push(format!(
            "principal.roles.containsAny({})",
            list(&rule.roles)
        ));
    }
    if !rule.groups.is_empty() {
        all.push(format!(
            "principal.groups.containsAny({})",
            list(&rule.groups)
        ));
    }
    if !rule.zones.is_empty() {
        all.push(format!("{}.contains(context.zone)", list(&rule.zones)));
    }
    if !rule.devices.is_empty() {
        let named: Vec<String> = rule.devices.iter().filter(|d| *d != "*").cloned().collect();
        let mut parts = Vec::new();
        if rule.devices.iter().any(|d| d == "*") {
            parts.push("context.device != \"\"".to_owned());
        }
        if !named.is_empty() {
            parts.push(format!("{}.contains(context.device)", list(&named)));
        }
        all.push(any_of(parts));
    }
    if all.is_empty() {
        "true".to_owned()
    } else {
        all.join(" && ")
    }
}

/// A one-line description of the rule for the comment above its policies.
fn describe(rule: &AccessRule) -> String {
    let mut d = format!("rule {}: {}", rule.number, rule.policy.as_str());
    let mut field = |name: &str, values: Vec<String>| {
        if !values.is_empty() {
            d.push_str(&format!(" {name}={}", values.join(",")));
        }
    };
    field(
        "hosts",
        rule.hosts
            .iter()
            .map(|h| match h {
                HostPattern::Exact(h) => h.clone(),
                HostPattern::Subdomains(s) => format!("*{s}"),
            })
            .collect(),
    );
    field(
        "paths",
        rule.paths.iter().map(|p| p.text().to_owned()).collect(),
    );
    field("methods", rule.methods.clone());
    field("roles", rule.roles.clone());
    field("groups", rule.groups.clone());
    field("zones", rule.zones.clone());
    field("devices", rule.devices.clone());
    // Descriptions may hold any character of a path: keep the comment on one line.
    d.replace(['\n', '\r'], " ")
}

const HEAD: &str = "(principal, action == Sekimori::Action::\"access\", resource)";

/// The Cedar text of the rules; empty when there are none.
pub fn compile(rules: &[AccessRule]) -> String {
    if rules.is_empty() {
        return String::new();
    }
    let matchers: Vec<String> = rules.iter().map(matcher).collect();
    let mut out = String::from(
        "// Compiled from [[access.rules]] in the configuration; the first matching rule wins.\n",
    );
    for (i, rule) in rules.iter().enumerate() {
        let mut when = format!("({})", matchers[i]);
        for earlier in &matchers[..i] {
            when.push_str(&format!(" && !({earlier})"));
        }
        let n = rule.number;
        out.push_str(&format!("\n// {}\n", describe(rule)));
        match rule.policy {
            RulePolicy::Deny => {
                out.push_str(&format!(
                    "@id(\"access-rule-{n}\")\nforbid {HEAD}\nwhen {{ {when} }};\n"
                ));
            }
            RulePolicy::OneFactor => {
                out.push_str(&format!(
                    "@id(\"access-rule-{n}\")\npermit {HEAD}\nwhen {{ {when} }};\n"
                ));
            }
            RulePolicy::TwoFactor => {
                out.push_str(&format!(
                    "@id(\"access-rule-{n}\")\npermit {HEAD}\nwhen {{ {when} }};\n\
                     @id(\"access-rule-{n}-second-factor\")\n@outcome(\"second_factor_required\")\n\
                     @satisfy(\"possession,inherence\")\nforbid {HEAD}\n\
                     when {{ {when} && context.factor_kind_count < 2 }};\n"
                ));
            }
        }
    }
    let none: Vec<String> = matchers.iter().map(|m| format!("!({m})")).collect();
    out.push_str(&format!(
        "\n// Once rules exist, a request that no rule matches is denied.\n\
         @id(\"access-rules-no-match\")\nforbid {HEAD}\nwhen {{ {} }};\n",
        none.join(" && ")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_what_cedar_reads_specially() {
        assert_eq!(lit("/a\"b", false), "\"/a\\\"b\"");
        assert_eq!(lit("/a*b", false), "\"/a\\*b\"");
        assert_eq!(lit("/a*b", true), "\"/a*b\"");
        assert_eq!(lit("/カ", false), "\"/\\u{30ab}\"");
    }
}
