//! Every error code the API answers with, and its status: the table in the description and
//! on the docs page, the `code` enum of the error body, and a test that finds each code the
//! source can answer with in the table.

/// Every error code the API answers with, and its status.
pub const ERROR_CODES: &[(u16, &str, &str)] = &[
    (
        400,
        "invalid_json",
        "The body is not JSON (or holds lone surrogates).",
    ),
    (
        400,
        "ambiguous_request",
        "Forward-auth (Traefik, Caddy): a request description read two ways (the reason in details). The nginx endpoint answers the same refusal 403, with the reason in Sekimori-Refusal.",
    ),
    (
        400,
        "invalid_forwarded_header",
        "X-Forwarded-For from a trusted proxy is not a list of addresses.",
    ),
    (400, "bad_request", "The body could not be read."),
    (
        401,
        "invalid_credentials",
        "Unknown user, wrong password or disabled account: one answer.",
    ),
    (
        401,
        "flow_invalid",
        "The login flow is unknown, expired or used.",
    ),
    (401, "no_session", "No valid session."),
    (401, "invalid_code", "A wrong or already used code."),
    (
        401,
        "device_unauthorized",
        "The device credential is wrong.",
    ),
    (
        401,
        "second_factor_required",
        "A step-up is needed (forward-auth JSON answers).",
    ),
    (
        401,
        "reauthentication_failed",
        "The password typed to confirm a change is wrong.",
    ),
    (
        401,
        "enrolment_invalid",
        "The enrolment flow is unknown, expired or used.",
    ),
    (
        401,
        "registration_invalid",
        "The security-key registration is unknown, expired or used.",
    ),
    (
        401,
        "wrong_origin",
        "The security key answered for another site.",
    ),
    (
        401,
        "wrong_rp_id",
        "The security key answered for another relying party.",
    ),
    (
        401,
        "challenge_mismatch",
        "The answer belongs to another attempt.",
    ),
    (
        401,
        "user_verification_required",
        "The key did not verify the person (PIN or fingerprint).",
    ),
    (
        401,
        "counter_regression",
        "The key's counter went back: it may be a copy.",
    ),
    (
        401,
        "attestation_not_allowed",
        "This model of security key is not allowed here.",
    ),
    (
        401,
        "unknown_credential",
        "The key is not registered for this account.",
    ),
    (
        401,
        "webauthn_verification_failed",
        "The key's answer was not accepted.",
    ),
    (403, "denied", "The access policy refuses a session here."),
    (
        403,
        "access_denied",
        "Forward-auth: the access policy refuses the request.",
    ),
    (
        403,
        "cross_site_request",
        "A state-changing request the browser marked Sec-Fetch-Site cross-site or same-site.",
    ),
    (
        403,
        "not_an_administrator",
        "The session lacks the it_admin role.",
    ),
    (403, "passwordless_disabled", "Passkey sign-in is off."),
    (
        403,
        "proxy_not_trusted",
        "Forward-auth from a peer outside network.trusted_proxies.",
    ),
    (
        403,
        "unknown_host",
        "Forward-auth for a host no system claims.",
    ),
    (
        403,
        "metrics_forbidden",
        "Metrics from a network outside [metrics] allow.",
    ),
    (404, "not_found", "No such endpoint."),
    (404, "account_not_found", "No such account."),
    (404, "factor_not_found", "No such factor."),
    (404, "device_not_found", "No such device."),
    (
        404,
        "device_code_invalid",
        "An unknown or expired device-flow code.",
    ),
    (
        405,
        "method_not_allowed",
        "The endpoint does not take that method.",
    ),
    (
        409,
        "last_factor",
        "The last factor the account needs cannot be removed.",
    ),
    (409, "no_security_key", "No security key is registered."),
    (
        409,
        "not_an_active_terminal",
        "Enrolment links are for active terminals.",
    ),
    (
        409,
        "enrolment_link_invalid",
        "The link is unknown, expired or used.",
    ),
    (
        409,
        "emergency_account",
        "Emergency accounts do not enrol factors.",
    ),
    (
        409,
        "no_second_factor",
        "The account has no second factor to act on.",
    ),
    (
        409,
        "step_up_not_needed",
        "The session already has the factors the policy asks for.",
    ),
    (
        409,
        "challenge_required",
        "Ask for a security-key challenge first.",
    ),
    (409, "account_exists", "An account with that name exists."),
    (
        409,
        "credential_already_registered",
        "This security key is already registered.",
    ),
    (
        413,
        "payload_too_large",
        "The body is over [server] max_body_bytes.",
    ),
    (
        414,
        "target_too_long",
        "Forward-auth (Traefik, Caddy): the request target is too long (the nginx endpoint: 403).",
    ),
    (
        415,
        "unsupported_media_type",
        "The body is not application/json (state-changing API requests need it even without a body).",
    ),
    (
        422,
        "invalid_field",
        "A field is missing, unknown or invalid (named in the message).",
    ),
    (
        422,
        "password_rejected",
        "The password breaks a rule (reasons in details).",
    ),
    (
        422,
        "reason_required",
        "An administrative change needs a reason.",
    ),
    (
        422,
        "invalid_return_to",
        "`return_to` is not on a protected host.",
    ),
    (
        422,
        "invalid_input",
        "A value is not acceptable (named in the message).",
    ),
    (
        422,
        "malformed_credential",
        "The security key's answer could not be read.",
    ),
    (422, "username_empty", "The username is empty."),
    (422, "username_too_long", "The username is too long."),
    (
        422,
        "username_control_character",
        "The username holds a control character.",
    ),
    (422, "username_whitespace", "The username holds a space."),
    (
        422,
        "username_forbidden_character",
        "The username holds a character that is not allowed.",
    ),
    (422, "code_empty", "The code is empty."),
    (422, "code_has_spaces", "The code holds spaces."),
    (422, "code_full_width", "The code is in full-width digits."),
    (
        422,
        "code_not_digits",
        "The code holds characters other than digits.",
    ),
    (422, "code_wrong_length", "A code has exactly 6 digits."),
    (
        422,
        "recovery_code_malformed",
        "A recovery code has 12 letters and digits.",
    ),
    (
        429,
        "login_temporarily_blocked",
        "Too many failures: try after Retry-After.",
    ),
    (
        429,
        "too_many_attempts",
        "Too many unknown device-flow codes from the address.",
    ),
    (
        500,
        "internal_error",
        "An internal error (details only in the log).",
    ),
    (
        503,
        "store_unavailable",
        "The durable store does not answer; nothing changed.",
    ),
    (
        503,
        "state_unavailable",
        "The state store does not answer; nobody can sign in.",
    ),
    (
        503,
        "factor_unavailable",
        "The factor service is not available.",
    ),
    (
        503,
        "signing_unavailable",
        "The gateway has no signing key loaded.",
    ),
];

/// The statuses every JSON operation may answer with besides its own: input that is not
/// JSON, too large, of the wrong type or invalid; no or the wrong session; a refusal; a lock;
/// a store that does not answer.
pub(super) const COMMON: &[(&str, &str)] = &[
    ("400", "invalid_json"),
    (
        "401",
        "no_session, invalid_credentials, flow_invalid, invalid_code, device_unauthorized",
    ),
    ("403", "denied, not_an_administrator, cross_site_request"),
    (
        "404",
        "not_found, account_not_found, factor_not_found, device_not_found",
    ),
    ("409", "a conflict (see the table)"),
    ("413", "payload_too_large"),
    ("415", "unsupported_media_type"),
    ("422", "invalid_field and the other validation codes"),
    ("429", "login_temporarily_blocked, too_many_attempts"),
    (
        "503",
        "store_unavailable, state_unavailable, factor_unavailable",
    ),
];

#[cfg(test)]
mod tests {
    use super::ERROR_CODES;
    use crate::error::Error;
    use crate::http::error::ApiError;

    fn documented(status: u16, code: &str) -> bool {
        ERROR_CODES
            .iter()
            .any(|(s, c, _)| *s == status && *c == code)
    }

    fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // Whitespace out, so a call spread over lines reads as one.
                let flat: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                out.push((path.display().to_string(), flat));
            }
        }
    }

    /// The string literal at the start of `s`, if it is a code (`lower_snake`).
    fn literal(s: &str) -> Option<&str> {
        let rest = s.strip_prefix('"')?;
        let code = &rest[..rest.find('"')?];
        (!code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .then_some(code)
    }

    /// Every code the source answers with: the literal after a `StatusCode::X,` (with that
    /// status), the `code:` of a refusal (with the status the conversion gives it), and the
    /// code of a step to the portal (401, or 302 for a browser, which the table lists as 401).
    #[test]
    fn every_code_the_source_answers_with_is_in_the_table() {
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut found = Vec::new();
        for (file, flat) in &files {
            if file.contains("openapi") {
                continue;
            }
            for (i, _) in flat.match_indices("StatusCode::") {
                let rest = &flat[i + "StatusCode::".len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                    .unwrap_or(rest.len());
                let (name, after) = rest.split_at(end);
                let Some(after) = after.strip_prefix(',') else {
                    continue;
                };
                let Some(code) = literal(after) else { continue };
                // `StatusCode::X, "a" =>` is a match arm's pattern, not an answer; and the
                // readiness probe's words are a status, not an error code.
                let next = after[code.len() + 2..].chars().next();
                if !matches!(next, Some(',' | ')')) || code == "unavailable" {
                    continue;
                }
                let Ok(status) = axum::http::StatusCode::from_bytes(match name {
                    "BAD_REQUEST" => b"400",
                    "UNAUTHORIZED" => b"401",
                    "FORBIDDEN" => b"403",
                    "NOT_FOUND" => b"404",
                    "CONFLICT" => b"409",
                    "PAYLOAD_TOO_LARGE" => b"413",
                    "URI_TOO_LONG" => b"414",
                    "UNSUPPORTED_MEDIA_TYPE" => b"415",
                    "UNPROCESSABLE_ENTITY" => b"422",
                    "TOO_MANY_REQUESTS" => b"429",
                    "INTERNAL_SERVER_ERROR" => b"500",
                    "SERVICE_UNAVAILABLE" => b"503",
                    "METHOD_NOT_ALLOWED" => b"405",
                    // Readiness words (`ready`, `unavailable`), not error codes.
                    "OK" => continue,
                    "FOUND" | "MOVED_PERMANENTLY" | "SEE_OTHER" => continue,
                    other => panic!("{file}: a status the test does not know: {other}"),
                }) else {
                    continue;
                };
                found.push((file.clone(), status.as_u16(), code.to_owned()));
            }
            for (i, _) in flat.match_indices("Refused{code:") {
                if let Some(code) = literal(&flat[i + "Refused{code:".len()..]) {
                    let status = ApiError::from(Error::Refused {
                        code: Box::leak(code.to_owned().into_boxed_str()),
                        message: "",
                    })
                    .status;
                    found.push((file.clone(), status.as_u16(), code.to_owned()));
                }
            }
            for (i, _) in flat.match_indices("to_portal(") {
                let args: Vec<&str> = flat[i + "to_portal(".len()..].splitn(5, ',').collect();
                if let Some(code) = args.get(3).and_then(|a| literal(a)) {
                    found.push((file.clone(), 401, code.to_owned()));
                }
            }
        }
        for (file, flat) in &files {
            for (i, _) in flat.match_indices(".failed(&state,") {
                let args: Vec<&str> = flat[i + ".failed(&state,".len()..].splitn(3, ',').collect();
                if let Some(code) = args.get(1).and_then(|a| literal(a)) {
                    found.push((file.clone(), 401, code.to_owned()));
                }
            }
            // The codes of refused WebAuthn ceremonies, with the status each is answered with.
            if let Some(start) = flat.find("pubfnrefusal_of(") {
                let body = &flat[start..];
                let body = &body[..body.find("Refusal::new").unwrap_or(body.len())];
                for (i, _) in body.match_indices("=>") {
                    if let Some(code) = literal(&body[i + 2..]) {
                        let code: &'static str = Box::leak(code.to_owned().into_boxed_str());
                        let status = crate::webauthn::Refusal::new(code, "").status();
                        found.push((file.clone(), status, code.to_owned()));
                    }
                }
            }
        }
        // Sanity: the scan sees the common forms at all.
        assert!(found.len() > 40, "the scan found only {found:?}");
        for e in [
            crate::account::UsernameError::Empty,
            crate::account::UsernameError::TooLong { max: 1 },
            crate::account::UsernameError::ControlCharacter,
            crate::account::UsernameError::Whitespace,
            crate::account::UsernameError::Forbidden('x'),
        ] {
            let api = ApiError::from(Error::Username(e));
            found.push(("UsernameError".into(), api.status.as_u16(), api.code.into()));
        }
        use crate::totp::CodeError as C;
        for e in [
            C::Empty,
            C::Spaces,
            C::FullWidth,
            C::NotDigits,
            C::WrongLength,
            C::RecoveryMalformed,
        ] {
            let api = ApiError::from(Error::Code(e));
            found.push(("CodeError".into(), api.status.as_u16(), api.code.into()));
        }
        let missing: Vec<String> = found
            .iter()
            .filter(|(_, s, c)| !documented(*s, c))
            .map(|(f, s, c)| format!("{s} {c} ({f})"))
            .collect();
        assert!(
            missing.is_empty(),
            "answered but not in ERROR_CODES:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn each_code_has_one_status() {
        for (s, c, _) in ERROR_CODES {
            assert!(
                ERROR_CODES.iter().all(|(s2, c2, _)| c2 != c || s2 == s),
                "{c} is listed with two statuses"
            );
        }
    }
}
