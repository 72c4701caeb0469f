//! The login pages as HTML: each view is a function of its language, CSRF token and data.
//! Every field has a label, errors are tied to their field (`aria-describedby`), and the
//! WebAuthn buttons carry what the script needs in `data-` attributes.

use super::i18n::{Lang, M};
use super::layout::{Csrf, esc};

/// Hidden fields every step form carries.
fn hidden(csrf: &Csrf, flow_id: Option<&str>, rd: Option<&str>, lang: Lang) -> String {
    let mut out = csrf.field();
    if let Some(f) = flow_id {
        out.push_str(&format!(
            r#"<input type="hidden" name="flow_id" value="{}">"#,
            esc(f)
        ));
    }
    if let Some(r) = rd {
        out.push_str(&format!(
            r#"<input type="hidden" name="rd" value="{}">"#,
            esc(r)
        ));
    }
    out.push_str(&format!(
        r#"<input type="hidden" name="lang" value="{}">"#,
        lang.code()
    ));
    out
}

fn error_p(id: &str, text: Option<&str>) -> String {
    match text {
        Some(t) => format!(r#"<p class="error" id="{id}">{}</p>"#, esc(t)),
        None => String::new(),
    }
}

fn described(id: &str, has_error: bool) -> String {
    if has_error {
        format!(r#" aria-describedby="{id}" aria-invalid="true""#)
    } else {
        String::new()
    }
}

/// Messages the script shows, in the page's language.
pub fn script_messages(lang: Lang) -> String {
    format!(
        r#"<div id="messages" hidden data-working="{}" data-refused="{}"></div>"#,
        esc(M::Working.get(lang)),
        esc(M::BrowserRefused.get(lang))
    )
}

pub fn login_form(
    lang: Lang,
    csrf: &Csrf,
    rd: Option<&str>,
    username: &str,
    error: Option<M>,
) -> String {
    let err = error.map(|m| m.get(lang));
    format!(
        r#"<form method="post" action="/login" class="card">
{hidden}
{error}
<label for="username">{u}</label>
<input id="username" name="username" autocomplete="username" required maxlength="256" value="{uv}"{desc}>
<label for="password">{p}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="4096"{desc}>
<button type="submit">{sign_in}</button>
</form>
<p class="or">{or}</p>
<button type="button" data-action="passkey-sign-in" data-rd="{rd}">{passkey}</button>
{msgs}"#,
        hidden = hidden(csrf, None, rd, lang),
        error = error_p("login-error", err),
        u = esc(M::Username.get(lang)),
        uv = esc(username),
        desc = described("login-error", err.is_some()),
        p = esc(M::Password.get(lang)),
        sign_in = esc(M::SignIn.get(lang)),
        or = esc(M::Or.get(lang)),
        rd = esc(rd.unwrap_or("")),
        passkey = esc(M::SignInWithPasskey.get(lang)),
        msgs = script_messages(lang),
    )
}

pub fn second_factor(
    lang: Lang,
    csrf: &Csrf,
    rd: Option<&str>,
    flow_id: &str,
    methods: &[&str],
    error: Option<&str>,
) -> String {
    let mut out = format!(
        "<p>{}</p>{}",
        esc(M::SecondFactorLead.get(lang)),
        error_p("code-error", error)
    );
    if methods.contains(&"totp") || methods.is_empty() {
        out.push_str(&format!(
            r#"<form method="post" action="/login/step" class="card">
{hidden}
<label for="code">{code}</label>
<p class="hint" id="code-hint">{hint}</p>
<input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" pattern="[0-9]{{6}}" maxlength="6" required autofocus aria-describedby="code-hint{err_ref}"{invalid}>
<button type="submit">{verify}</button>
</form>"#,
            hidden = hidden(csrf, Some(flow_id), rd, lang),
            code = esc(M::Code.get(lang)),
            hint = esc(M::CodeHint.get(lang)),
            err_ref = if error.is_some() { " code-error" } else { "" },
            invalid = if error.is_some() { r#" aria-invalid="true""# } else { "" },
            verify = esc(M::Verify.get(lang)),
        ));
    }
    if methods.contains(&"webauthn") {
        out.push_str(&format!(
            r#"<button type="button" data-action="webauthn-second-factor" data-flow-id="{f}" data-rd="{rd}">{label}</button>"#,
            f = esc(flow_id),
            rd = esc(rd.unwrap_or("")),
            label = esc(M::UseSecurityKey.get(lang)),
        ));
    }
    if methods.contains(&"break_glass_code") {
        out.push_str(&format!(
            r#"<form method="post" action="/login/step" class="card">
{hidden}
<p class="warning" role="note">{warn}</p>
<label for="break_glass_code">{label}</label>
<p class="hint" id="break-glass-hint">{hint}</p>
<input id="break_glass_code" name="break_glass_code" autocomplete="off" maxlength="64" required autofocus aria-describedby="break-glass-hint">
<button type="submit">{verify}</button>
</form>"#,
            hidden = hidden(csrf, Some(flow_id), rd, lang),
            warn = esc(M::BreakGlassWarning.get(lang)),
            label = esc(M::BreakGlassCode.get(lang)),
            hint = esc(M::RecoveryHint.get(lang)),
            verify = esc(M::Verify.get(lang)),
        ));
    }
    if methods.contains(&"recovery_code") {
        out.push_str(&format!(
            r#"<details><summary>{title}</summary>
<form method="post" action="/login/step" class="card">
{hidden}
<label for="recovery_code">{label}</label>
<p class="hint" id="recovery-hint">{hint}</p>
<input id="recovery_code" name="recovery_code" autocomplete="off" maxlength="64" required aria-describedby="recovery-hint">
<button type="submit">{verify}</button>
</form></details>"#,
            title = esc(M::UseRecoveryCode.get(lang)),
            hidden = hidden(csrf, Some(flow_id), rd, lang),
            label = esc(M::RecoveryCode.get(lang)),
            hint = esc(M::RecoveryHint.get(lang)),
            verify = esc(M::Verify.get(lang)),
        ));
    }
    out.push_str(&script_messages(lang));
    out
}

pub fn change_password(
    lang: Lang,
    csrf: &Csrf,
    rd: Option<&str>,
    flow_id: &str,
    reason: &str,
    username: &str,
    errors: &[String],
) -> String {
    let lead = match reason {
        "compromised" => M::ChangeCompromised,
        "breached" => M::ChangeBreached,
        _ => M::ChangeMustChange,
    };
    let err_list = if errors.is_empty() {
        String::new()
    } else {
        let items: String = errors
            .iter()
            .map(|e| format!("<li>{}</li>", esc(e)))
            .collect();
        format!(r#"<ul class="error" id="password-errors">{items}</ul>"#)
    };
    format!(
        r#"<p>{lead}</p>
<form method="post" action="/login/step" class="card">
{hidden}
{err_list}
<label for="new_password">{np}</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" required maxlength="4096" data-strength-for="{user}" aria-describedby="strength{err_ref}"{invalid}>
<div id="strength" aria-live="polite"><span>{strength}</span> <meter min="0" max="4" value="0"></meter><ul></ul></div>
<label for="new_password_again">{again}</label>
<input id="new_password_again" name="new_password_again" type="password" autocomplete="new-password" required maxlength="4096">
<button type="submit">{submit}</button>
</form>
{msgs}"#,
        lead = esc(lead.get(lang)),
        hidden = hidden(csrf, Some(flow_id), rd, lang),
        np = esc(M::NewPassword.get(lang)),
        user = esc(username),
        err_ref = if errors.is_empty() {
            ""
        } else {
            " password-errors"
        },
        invalid = if errors.is_empty() {
            ""
        } else {
            r#" aria-invalid="true""#
        },
        strength = esc(M::Strength.get(lang)),
        again = esc(M::NewPasswordAgain.get(lang)),
        submit = esc(M::ChangeAndContinue.get(lang)),
        msgs = script_messages(lang),
    )
}

pub fn enrol_choice(lang: Lang, csrf: &Csrf, rd: Option<&str>, flow_id: &str) -> String {
    format!(
        r#"<p>{lead}</p>
<form method="post" action="/login/enrol/totp" class="card">
{hidden}
<button type="submit">{totp}</button>
</form>
<button type="button" data-action="webauthn-enrol" data-kind="security_key" data-flow-id="{f}" data-rd="{rd}">{key}</button>
<button type="button" data-action="webauthn-enrol" data-kind="passkey" data-flow-id="{f}" data-rd="{rd}">{passkey}</button>
{msgs}"#,
        lead = esc(M::EnrolLead.get(lang)),
        hidden = hidden(csrf, Some(flow_id), rd, lang),
        totp = esc(M::EnrolTotp.get(lang)),
        f = esc(flow_id),
        rd = esc(rd.unwrap_or("")),
        key = esc(M::EnrolSecurityKey.get(lang)),
        passkey = esc(M::EnrolPasskey.get(lang)),
        msgs = script_messages(lang),
    )
}

/// The QR code (inline SVG from our own encoder, not user input) and the manual key are
/// shown only right after the enrolment starts.
pub struct TotpShown<'a> {
    pub qr_svg: &'a str,
    pub secret: &'a str,
}

pub fn totp_confirm(
    lang: Lang,
    csrf: &Csrf,
    rd: Option<&str>,
    flow_id: &str,
    enrolment_id: &str,
    shown: Option<TotpShown<'_>>,
    error: Option<&str>,
) -> String {
    let shown = shown.map_or_else(String::new, |s| {
        format!(
            r#"<p>{scan}</p><figure class="qr">{svg}</figure>
<p>{key_label}: <code id="totp-secret">{secret}</code></p>"#,
            scan = esc(M::TotpScan.get(lang)),
            svg = s.qr_svg,
            key_label = esc(M::TotpKey.get(lang)),
            secret = esc(s.secret),
        )
    });
    format!(
        r#"{shown}
<form method="post" action="/login/enrol/totp" class="card">
{hidden}
<input type="hidden" name="enrolment_id" value="{eid}">
{error}
<label for="code">{label}</label>
<input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" pattern="[0-9]{{6}}" maxlength="6" required{desc}>
<button type="submit">{verify}</button>
</form>"#,
        hidden = hidden(csrf, Some(flow_id), rd, lang),
        eid = esc(enrolment_id),
        error = error_p("code-error", error),
        label = esc(M::TotpConfirm.get(lang)),
        desc = described("code-error", error.is_some()),
        verify = esc(M::Verify.get(lang)),
    )
}

/// `until`: (RFC 3339 for the `datetime` attribute, the JST time people read).
/// TOTP enrolment from the account page: the QR code, the key and the confirming code.
pub fn account_totp(
    lang: Lang,
    csrf: &Csrf,
    enrolment_id: &str,
    qr_svg: &str,
    secret: &str,
) -> String {
    format!(
        r#"<p>{scan}</p><figure class="qr">{qr_svg}</figure>
<p>{key_label}: <code id="totp-secret">{secret}</code></p>
<form method="post" action="/account" class="card">
{csrf}<input type="hidden" name="lang" value="{code}"><input type="hidden" name="op" value="totp">
<input type="hidden" name="enrolment_id" value="{eid}">
<label for="code">{label}</label>
<input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" pattern="[0-9]{{6}}" maxlength="6" required>
<button type="submit">{verify}</button>
</form>"#,
        scan = esc(M::TotpScan.get(lang)),
        key_label = esc(M::TotpKey.get(lang)),
        secret = esc(secret),
        csrf = csrf.field(),
        code = lang.code(),
        eid = esc(enrolment_id),
        label = esc(M::TotpConfirm.get(lang)),
        verify = esc(M::Verify.get(lang)),
    )
}

/// The line that says how the last action went (`?done=` or `?error=`).
pub fn flash(lang: Lang, done: Option<&str>, error: Option<&str>) -> String {
    match (done, error) {
        (_, Some(e)) => format!(r#"<p class="error" role="alert">{}</p>"#, esc(e)),
        (Some(d), None) => format!(
            r#"<p class="notice" role="status">{}: {}</p>"#,
            esc(M::Done.get(lang)),
            esc(d)
        ),
        _ => String::new(),
    }
}

pub fn locked(lang: Lang, until: Option<(&str, &str)>) -> String {
    match until {
        Some((machine, human)) => format!(
            r#"<p>{lead}</p><p><strong>{label}:</strong> <time datetime="{machine}">{human}</time></p>"#,
            lead = esc(M::LockedLead.get(lang)),
            label = esc(M::LockedUntil.get(lang)),
            machine = esc(machine),
            human = esc(human),
        ),
        None => format!(
            "<p>{}</p><p>{}</p>",
            esc(M::LockedLead.get(lang)),
            esc(M::LockedAdmin.get(lang))
        ),
    }
}

/// One row of a two-column facts table: a label and its (escaped) value.
pub fn fact_row(lang: Lang, m: M, value: &str) -> String {
    format!(
        "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
        esc(m.get(lang)),
        esc(value)
    )
}

pub fn message(lang: Lang, m: M, link: Option<(&str, M)>) -> String {
    let link = link.map_or_else(String::new, |(href, label)| {
        format!(
            r#"<p><a href="{}">{}</a></p>"#,
            esc(href),
            esc(label.get(lang))
        )
    });
    format!("<p>{}</p>{link}", esc(m.get(lang)))
}

pub struct SignedIn<'a> {
    pub display: &'a str,
    pub continue_to: Option<&'a str>,
    pub notices: Vec<String>,
}

pub fn signed_in(lang: Lang, csrf: &Csrf, s: SignedIn<'_>) -> String {
    let notices: String = s
        .notices
        .iter()
        .map(|n| format!(r#"<p class="notice">{}</p>"#, esc(n)))
        .collect();
    let cont = s.continue_to.map_or_else(String::new, |url| {
        format!(
            r#"<p><a class="button" href="{}">{}</a></p>"#,
            esc(url),
            esc(M::Continue.get(lang))
        )
    });
    format!(
        r#"<p>{label}: <strong>{who}</strong></p>
{notices}
{cont}
<p><a href="/account?lang={code}">{account}</a> · <a href="/factors/security-keys?lang={code}">{keys}</a></p>
<form method="post" action="/logout">{csrf}<input type="hidden" name="lang" value="{code}"><button type="submit">{out}</button></form>"#,
        label = esc(M::SignedInAs.get(lang)),
        who = esc(s.display),
        code = lang.code(),
        keys = esc(M::SecurityKeysTitle.get(lang)),
        account = esc(M::AccountTitle.get(lang)),
        csrf = csrf.field(),
        out = esc(M::SignOut.get(lang)),
    )
}
