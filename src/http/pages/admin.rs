//! The administrators' console (role `it_admin`): `GET /admin` lists the accounts with their
//! factors and lock state and the second-factor coverage (per account type, and the systems
//! holding an exemption); `GET /admin/accounts/{name}` shows one account with its actions:
//! unlock, reset factors (reason and identity check), disable, roles. Every action is a form
//! with the CSRF token and a mandatory reason, and goes through the same audited use cases
//! as the CLI and the JSON API.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::i18n::{Lang, M};
use super::labels;
use super::layout::{Csrf, esc, q};
use super::views;
use crate::account::{Account, Role};
use crate::app::AppState;

use super::admin_door::{AdminQuery, Console, ConsoleForm, Posted, back, failure};

/// One account's factors and lock, as the list shows them.
struct Row {
    account: Account,
    factors: Vec<String>,
    recovery: usize,
    locked: Option<String>,
}

async fn row(state: &AppState, account: Account, lang: Lang) -> Row {
    let label = |k: &str| labels::factor_kind(lang, k);
    let list = state
        .stores
        .factors
        .list_factors(account.id)
        .await
        .unwrap_or_default();
    let factors = list
        .iter()
        .filter(|f| f.kind != crate::recovery::KIND && f.kind != crate::emergency::KIND)
        .map(|f| label(&f.kind))
        .collect();
    let recovery = list.iter().filter(|f| f.kind == "recovery").count();
    let locked = match state.admin.lock_state(account.username.as_str()).await {
        Ok((_, zones)) => zones.iter().find(|z| z.is_locked()).map(|z| {
            if z.admin_unlock_required {
                M::UntilAdminUnlock.get(lang).to_owned()
            } else {
                format!(
                    "{} ({})",
                    z.locked_until
                        .as_deref()
                        .map(crate::clock::readable)
                        .unwrap_or_default(),
                    labels::zone(lang, z.zone.as_str())
                )
            }
        }),
        Err(_) => None,
    };
    Row {
        account,
        factors,
        recovery,
        locked,
    }
}

pub async fn get_admin(
    State(state): State<AppState>,
    c: Console,
    Query(aq): Query<AdminQuery>,
) -> Response {
    let lang = c.lang;
    let accounts = state.admin.list().await.unwrap_or_default();
    let mut rows = Vec::with_capacity(accounts.len());
    for a in accounts {
        rows.push(row(&state, a, lang).await);
    }
    let t = |m: M| esc(m.get(lang));
    // Coverage: accounts with a second factor, per account type.
    let mut coverage: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in &rows {
        let e = coverage
            .entry(labels::account_type(lang, r.account.account_type))
            .or_default();
        e.1 += 1;
        if !r.factors.is_empty() {
            e.0 += 1;
        }
    }
    let coverage_rows: String = coverage
        .iter()
        .map(|(kind, (with, all))| {
            format!("<tr><td>{}</td><td>{with} / {all}</td></tr>", esc(kind))
        })
        .collect();
    let exemptions: String = state
        .config
        .systems
        .iter()
        .filter_map(|s| {
            s.exemption.as_ref().map(|e| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&s.id),
                    esc(&e.until_text),
                    esc(&e.reason)
                )
            })
        })
        .collect();
    let now = state.clock.now();
    let dormant_days = state.config.accounts.dormant_after_days;
    let account_rows: String = rows
        .iter()
        .map(|r| {
            let a = &r.account;
            let last = a
                .last_login_at
                .map(crate::clock::to_jst_display)
                .unwrap_or_else(|| "-".into());
            let last = if a.status != crate::account::AccountStatus::Disabled
                && a.dormant_since(now, dormant_days)
            {
                format!("{last} ({})", M::Dormant.get(lang))
            } else {
                last
            };
            let expires = a
                .expires_at
                .map(crate::clock::to_jst_display)
                .unwrap_or_else(|| "-".into());
            format!(
                r#"<tr><td><a href="/admin/accounts/{qname}?lang={code}">{name}</a></td><td>{display}</td><td>{kind}</td><td>{status}</td><td>{roles}</td><td>{factors}</td><td>{recovery}</td><td>{locked}</td><td>{last}</td><td>{expires}</td></tr>"#,
                last = esc(&last),
                expires = esc(&expires),
                qname = esc(&q(a.username.as_str())),
                code = lang.code(),
                name = esc(a.username.as_str()),
                display = esc(&a.display_name),
                kind = esc(&labels::account_type(lang, a.account_type)),
                status = esc(&labels::account_status(lang, a.status)),
                roles = esc(&a.role_names().join(", ")),
                factors = esc(&if r.factors.is_empty() {
                    "-".to_owned()
                } else {
                    r.factors.join(", ")
                }),
                recovery = r.recovery,
                locked = esc(r.locked.as_deref().unwrap_or("-")),
            )
        })
        .collect();
    let flash = views::flash(lang, aq.done.as_deref(), aq.error.as_deref());
    let body = format!(
        r#"{flash}
<h2>{cov_h}</h2>
<div class="table"><table><thead><tr><th scope="col">{type_h}</th><th scope="col">{with_h}</th></tr></thead><tbody>{coverage_rows}</tbody></table></div>
<h2>{ex_h}</h2>
<div class="table"><table><thead><tr><th scope="col">{system_h}</th><th scope="col">{until_h}</th><th scope="col">{reason_h}</th></tr></thead><tbody>{exemptions}</tbody></table></div>
<h2>{acc_h}</h2>
<div class="table"><table><thead><tr><th scope="col">{user_h}</th><th scope="col">{name_h}</th><th scope="col">{type_h}</th><th scope="col">{status_h}</th><th scope="col">{roles_h}</th><th scope="col">{factors_h}</th><th scope="col">{recovery_h}</th><th scope="col">{lock_h}</th><th scope="col">{last_h}</th><th scope="col">{expires_h}</th></tr></thead><tbody>{account_rows}</tbody></table></div>"#,
        last_h = t(M::LastSignIn),
        expires_h = t(M::Expires),
        cov_h = t(M::Coverage),
        type_h = t(M::AccountType),
        with_h = t(M::WithSecondFactor),
        ex_h = t(M::Exemptions),
        system_h = t(M::System),
        until_h = t(M::Until),
        reason_h = t(M::Reason),
        acc_h = t(M::Accounts),
        user_h = t(M::Username),
        name_h = t(M::DisplayName),
        status_h = t(M::Status),
        roles_h = t(M::Roles),
        factors_h = t(M::Factors),
        recovery_h = t(M::RecoveryCodesLeft),
        lock_h = t(M::LockState),
    );
    c.page_with_banner(&state, "/admin", &body).await
}

fn action_form(lang: Lang, csrf: &Csrf, name: &str, action: &str, title: M, extra: &str) -> String {
    format!(
        r#"<form method="post" action="/admin/accounts/{qname}/{action}" class="card">
<h2>{title}</h2>
{csrf}<input type="hidden" name="lang" value="{code}">
{extra}
<label for="{action}-reason">{reason}</label>
<input id="{action}-reason" name="reason" required maxlength="500">
<button type="submit">{title}</button>
</form>"#,
        qname = esc(&q(name)),
        title = esc(title.get(lang)),
        csrf = csrf.field(),
        code = lang.code(),
        reason = esc(M::Reason.get(lang)),
    )
}

pub async fn get_account(
    State(state): State<AppState>,
    c: Console,
    Path(name): Path<String>,
    Query(aq): Query<AdminQuery>,
) -> Response {
    let (lang, csrf) = (c.lang, &c.csrf);
    let here = format!("/admin/accounts/{}", q(&name));
    let account = match state.admin.find(&name).await {
        Ok(a) => a,
        Err(_) => {
            return c.page(
                StatusCode::NOT_FOUND,
                &here,
                &format!("<p>{}</p>", c.t(M::NoSuchAccount)),
            );
        }
    };
    let r = row(&state, account, lang).await;
    let a = &r.account;
    let t = |m: M| c.t(m);
    let flash = views::flash(lang, aq.done.as_deref(), aq.error.as_deref());
    let roles_field = format!(
        r#"<label for="roles-roles">{}</label><input id="roles-roles" name="roles" value="{}" required>"#,
        t(M::RolesComma),
        esc(&a.role_names().join(", "))
    );
    let identity = format!(
        r#"<label for="reset-factors-identity">{}</label><input id="reset-factors-identity" name="identity_check" required maxlength="200">"#,
        t(M::IdentityCheck)
    );
    let expiry_field = format!(
        r#"<label for="expiry-date">{}</label><p class="hint" id="expiry-hint">{}</p><input id="expiry-date" name="expires" type="date" value="{}" aria-describedby="expiry-hint">"#,
        t(M::Expires),
        t(M::ExpiryHint),
        a.expires_at
            .map(|e| e
                .with_timezone(&crate::clock::jst())
                .format("%Y-%m-%d")
                .to_string())
            .unwrap_or_default()
    );
    let codes_form = if a.account_type == crate::account::AccountType::Emergency {
        action_form(
            lang,
            csrf,
            a.username.as_str(),
            "break-glass-codes",
            M::IssueBreakGlassCodes,
            "",
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"{flash}
<dl class="card"><dt>{user_h}</dt><dd>{user}</dd><dt>{name_h}</dt><dd>{display}</dd><dt>{status_h}</dt><dd>{status}</dd><dt>{roles_h}</dt><dd>{roles}</dd><dt>{factors_h}</dt><dd>{factors}</dd><dt>{lock_h}</dt><dd id="lock-state">{locked}</dd><dt>{expires_h}</dt><dd id="expires">{expires}</dd><dt>{last_h}</dt><dd>{last}</dd></dl>
{unlock}{reset}{roles_form}{expiry_form}{codes_form}{disable}
<p><a href="/admin?lang={code}">{back}</a></p>"#,
        user_h = t(M::Username),
        user = esc(a.username.as_str()),
        name_h = t(M::DisplayName),
        display = esc(&a.display_name),
        status_h = t(M::Status),
        status = esc(&labels::account_status(lang, a.status)),
        roles_h = t(M::Roles),
        roles = esc(&a.role_names().join(", ")),
        factors_h = t(M::Factors),
        factors = esc(&format!(
            "{} ({} {})",
            if r.factors.is_empty() {
                "-".to_owned()
            } else {
                r.factors.join(", ")
            },
            r.recovery,
            M::RecoveryCodesLeft.get(lang)
        )),
        lock_h = t(M::LockState),
        locked = esc(r.locked.as_deref().unwrap_or("-")),
        unlock = action_form(lang, csrf, a.username.as_str(), "unlock", M::Unlock, ""),
        reset = action_form(
            lang,
            csrf,
            a.username.as_str(),
            "reset-factors",
            M::ResetFactors,
            &identity
        ),
        roles_form = action_form(
            lang,
            csrf,
            a.username.as_str(),
            "roles",
            M::ChangeRoles,
            &roles_field
        ),
        disable = action_form(lang, csrf, a.username.as_str(), "disable", M::Disable, ""),
        expiry_form = action_form(
            lang,
            csrf,
            a.username.as_str(),
            "expiry",
            M::SetExpiry,
            &expiry_field
        ),
        codes_form = codes_form,
        expires_h = t(M::Expires),
        expires = esc(&a
            .expires_at
            .map(crate::clock::to_jst_display)
            .unwrap_or_else(|| M::Never.get(lang).to_owned())),
        last_h = t(M::LastSignIn),
        last = esc(&a
            .last_login_at
            .map(crate::clock::to_jst_display)
            .unwrap_or_else(|| "-".into())),
        code = lang.code(),
        back = t(M::Accounts),
    );
    c.page_with_banner(&state, &here, &body).await
}

/// A new set of an emergency account's codes, on a page of its own (shown once).
async fn break_glass_codes(state: &AppState, c: &Console, name: &str, reason: &str) -> Response {
    let lang = c.lang;
    let issued = async {
        let reason = crate::admin::require_reason(reason)?;
        let account = state.admin.find(name).await?;
        state
            .emergency
            .issue_codes(&account, reason, &c.actor())
            .await
    }
    .await;
    let here = format!("/admin/accounts/{}", q(name));
    match issued {
        Ok(codes) => {
            let items: String = codes
                .iter()
                .map(|code| format!("<li><code>{}</code></li>", esc(code.expose())))
                .collect();
            let body = format!(
                r#"<p class="notice">{}</p><ol id="break-glass-codes">{items}</ol><p><a href="{}?lang={}">{}</a></p>"#,
                c.t(M::BreakGlassShownOnce),
                esc(&here),
                lang.code(),
                c.t(M::Continue),
            );
            c.page(StatusCode::OK, &here, &body)
        }
        Err(e) => back(
            &here,
            lang,
            Err(failure(lang, e, "issuing break-glass codes")),
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    reason: String,
    identity_check: Option<String>,
    roles: Option<String>,
    /// A JST date for `expiry` (empty: none).
    expires: Option<String>,
}

impl ConsoleForm for ActionForm {
    const HERE: &'static str = "/admin";
}

pub async fn post_action(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
    Posted(c, form): Posted<ActionForm>,
) -> Response {
    let (lang, actor) = (c.lang, c.actor());
    let a = &state.admin;
    let result: Result<(), crate::error::Error> = match action.as_str() {
        "unlock" => a.unlock(&name, &form.reason, &actor).await.map(|_| ()),
        "expiry" => {
            let date = form.expires.as_deref().unwrap_or("").trim();
            match crate::config::systems::start_of_jst_day(date) {
                _ if date.is_empty() => a
                    .set_expiry(&name, None, &form.reason, &actor)
                    .await
                    .map(|_| ()),
                Some(at) => a
                    .set_expiry(&name, Some(at), &form.reason, &actor)
                    .await
                    .map(|_| ()),
                None => Err(crate::error::Error::Invalid(format!(
                    "`{date}`: YYYY-MM-DD"
                ))),
            }
        }
        "break-glass-codes" => {
            return break_glass_codes(&state, &c, &name, &form.reason).await;
        }
        "disable" => a.disable(&name, &form.reason, &actor).await.map(|_| ()),
        "reset-factors" => a
            .reset_factors(
                &name,
                &form.reason,
                form.identity_check.as_deref().unwrap_or(""),
                &actor,
            )
            .await
            .map(|_| ()),
        "roles" => {
            let roles: Result<Vec<Role>, _> = form
                .roles
                .as_deref()
                .unwrap_or("")
                .split([',', ' ', '、'])
                .filter(|r| !r.trim().is_empty())
                .map(|r| Role::parse(r.trim()))
                .collect();
            match roles {
                Ok(roles) => a
                    .set_roles(&name, roles, &form.reason, &actor)
                    .await
                    .map(|_| ()),
                Err(e) => Err(e.into()),
            }
        }
        _ => {
            return c.page(
                StatusCode::NOT_FOUND,
                "/admin",
                &format!("<p>{}</p>", c.t(M::NoSuchAccount)),
            );
        }
    };
    let here = format!("/admin/accounts/{}", q(&name));
    back(
        &here,
        lang,
        result
            .map(|()| action.as_str())
            .map_err(|e| failure(lang, e, "an administrator's action")),
    )
}

/// The reason an emergency account's use is acknowledged.
#[derive(Debug, Deserialize)]
pub struct AckForm {
    reason: String,
}

impl ConsoleForm for AckForm {
    const HERE: &'static str = "/admin";
}

/// `POST /admin/break-glass/{id}/acknowledge` (reason required), from the banner on every
/// console page.
pub async fn post_acknowledge(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted(c, form): Posted<AckForm>,
) -> Response {
    let acknowledged = state
        .emergency
        .acknowledge(id, &form.reason, &c.actor())
        .await
        .map(|()| "acknowledged")
        .map_err(|e| failure(c.lang, e, "acknowledging a break-glass use"));
    back("/admin", c.lang, acknowledged)
}
