//! The self-service account page (`/account`): one's own second factors (add an
//! authenticator app, a security key or passkey; rename; remove after re-entering the
//! password, never the last one needed; new recovery codes shown once), one's own live
//! sessions with device and address (end any of them), and one's recent sign-ins. Every
//! change is a form with the CSRF token (`POST /account` with an `op`), audited like the API.

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::i18n::{Lang, M};
use super::layout::{Csrf, console, document, esc, form_is_ours, html, q};
use super::views;
use crate::app::AppState;
use crate::audit::EventKind;
use crate::crypto::SecretString;
use crate::http::api::factors::{remove_own, signed_in};
use crate::store::AuditQuery;

#[derive(Debug, Default, Deserialize)]
pub struct AccountQuery {
    lang: Option<String>,
    done: Option<String>,
    error: Option<String>,
}

fn to_login(state: &AppState) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            format!(
                "/login?rd={}",
                q(&format!("{}/account", state.config.server.public_url))
            ),
        )],
    )
        .into_response()
}

fn hidden(csrf: &Csrf, lang: Lang, op: &str) -> String {
    format!(
        r#"{}<input type="hidden" name="lang" value="{}"><input type="hidden" name="op" value="{op}">"#,
        csrf.field(),
        lang.code()
    )
}

pub async fn get_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(aq): Query<AccountQuery>,
) -> Response {
    let lang = Lang::choose(aq.lang.as_deref(), &headers);
    let csrf = Csrf::for_request(&state, &headers);
    let Ok((session, account)) = signed_in(&state, &headers).await else {
        return to_login(&state);
    };
    let t = |m: M| esc(m.get(lang));
    let factors = state
        .stores
        .factors
        .list_factors(account.id)
        .await
        .unwrap_or_default();
    let recovery = factors.iter().filter(|f| f.kind == "recovery").count();
    let factor_rows: String = factors
        .iter()
        .filter(|f| f.kind != "recovery")
        .map(|f| {
            format!(
                r#"<tr><td>{kind}</td><td>{label}</td><td>{created}</td><td>{used}</td>
<td><form method="post" action="/account" class="inline">{h}<input type="hidden" name="id" value="{id}"><label for="label-{id}">{name_l}</label><input id="label-{id}" name="label" value="{label}" maxlength="64"><button type="submit">{rename}</button></form>
<form method="post" action="/account" class="inline">{h2}<input type="hidden" name="id" value="{id}"><label for="pw-{id}">{pw_l}</label><input id="pw-{id}" name="password" type="password" autocomplete="current-password" required><button type="submit">{remove}</button></form></td></tr>"#,
                kind = esc(&super::labels::factor_kind(lang, &f.kind)),
                label = esc(&f.label),
                created = esc(&crate::clock::to_jst_display(f.created_at)),
                used = esc(&f.last_used_at.map(crate::clock::to_jst_display).unwrap_or_else(|| "-".into())),
                h = hidden(&csrf, lang, "rename"),
                h2 = hidden(&csrf, lang, "remove"),
                id = f.id,
                name_l = t(M::KeyName),
                rename = t(M::Rename),
                pw_l = t(M::Password),
                remove = t(M::Remove),
            )
        })
        .collect();
    let sessions = state
        .sessions
        .list(&account.id.to_string())
        .await
        .unwrap_or_default();
    let session_rows: String = sessions
        .iter()
        .map(|s| {
            let this = if s.sid == session.sid {
                format!(" ({})", M::ThisSession.get(lang))
            } else {
                String::new()
            };
            format!(
                r#"<tr><td>{start}{this}</td><td>{until}</td><td>{ua}</td><td>{ip}</td><td>{amr}</td>
<td><form method="post" action="/account">{h}<input type="hidden" name="sid" value="{sid}"><button type="submit">{end}</button></form></td></tr>"#,
                start = esc(&crate::clock::to_jst_display(s.created_at)),
                this = esc(&this),
                until = esc(&crate::clock::to_jst_display(s.absolute_expiry)),
                ua = esc(&s.user_agent),
                ip = esc(&s.ip),
                amr = esc(&s.amr.join(", ")),
                h = hidden(&csrf, lang, "revoke"),
                sid = esc(&s.sid),
                end = t(M::EndSession),
            )
        })
        .collect();
    let history = state
        .stores
        .audit
        .query_audit(&AuditQuery {
            subject: Some(account.username.as_str().to_owned()),
            kind: Some(EventKind::LoginAttempt.as_str().to_owned()),
            newest_first: true,
            limit: Some(20),
            ..AuditQuery::default()
        })
        .await
        .unwrap_or_default();
    let history_rows: String = history
        .iter()
        .map(|r| {
            let e = &r.event;
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&crate::clock::to_jst_display(r.at)),
                esc(&super::labels::outcome(lang, e.outcome)),
                esc(e.ip.as_deref().unwrap_or("")),
                esc(e
                    .detail
                    .get("reason")
                    .or_else(|| e.detail.get("result"))
                    .and_then(|v| v.as_str())
                    .unwrap_or("")),
            )
        })
        .collect();
    let flash = views::flash(lang, aq.done.as_deref(), aq.error.as_deref());
    let body = format!(
        r#"{flash}
<p>{signed_in}: <strong>{who}</strong></p>
<h2>{factors_h}</h2>
<div class="table"><table><thead><tr><th scope="col">{kind_h}</th><th scope="col">{label_h}</th><th scope="col">{enrolled_h}</th><th scope="col">{used_h}</th><th scope="col"></th></tr></thead><tbody>{factor_rows}</tbody></table></div>
<p>{rec_h}: {recovery}</p>
<form method="post" action="/account" class="inline">{h_totp}<button type="submit">{add_totp}</button></form>
<form method="post" action="/account" class="inline">{h_rec}<button type="submit">{new_codes}</button></form>
<p><a href="/factors/security-keys?lang={code}">{keys}</a></p>
<h2>{sessions_h}</h2>
<div class="table"><table><thead><tr><th scope="col">{start_h}</th><th scope="col">{until_h}</th><th scope="col">{device_h}</th><th scope="col">{ip_h}</th><th scope="col">{amr_h}</th><th scope="col"></th></tr></thead><tbody>{session_rows}</tbody></table></div>
<h2>{history_h}</h2>
<div class="table"><table><thead><tr><th scope="col">{time_h}</th><th scope="col">{outcome_h}</th><th scope="col">{ip_h}</th><th scope="col">{detail_h}</th></tr></thead><tbody>{history_rows}</tbody></table></div>"#,
        signed_in = t(M::SignedInAs),
        who = esc(account.username.as_str()),
        factors_h = t(M::Factors),
        kind_h = t(M::EventType),
        label_h = t(M::KeyName),
        enrolled_h = t(M::Enrolled),
        used_h = t(M::LastUsed),
        rec_h = t(M::RecoveryCodesLeft),
        h_totp = hidden(&csrf, lang, "totp"),
        add_totp = t(M::EnrolTotp),
        h_rec = hidden(&csrf, lang, "recovery-codes"),
        new_codes = t(M::NewRecoveryCodes),
        code = lang.code(),
        keys = t(M::SecurityKeysTitle),
        sessions_h = t(M::Sessions),
        start_h = t(M::Started),
        until_h = t(M::Until),
        device_h = t(M::Device),
        ip_h = t(M::IpAddress),
        amr_h = t(M::Methods),
        history_h = t(M::RecentSignIns),
        time_h = t(M::Time),
        outcome_h = t(M::Outcome),
        detail_h = t(M::Detail),
    );
    html(
        StatusCode::OK,
        console(lang, M::AccountTitle, "/account", &session.roles, &body),
        &csrf,
    )
}

#[derive(Debug, Deserialize)]
pub struct AccountForm {
    csrf: String,
    op: String,
    lang: Option<String>,
    id: Option<i64>,
    label: Option<String>,
    password: Option<SecretString>,
    sid: Option<String>,
    enrolment_id: Option<String>,
    code: Option<String>,
}

pub async fn post_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Response {
    let lang = Lang::choose(form.lang.as_deref(), &headers);
    let csrf = Csrf::for_request(&state, &headers);
    if !form_is_ours(&state, &headers, &form.csrf) {
        let body = format!("<p>{}</p>", esc(M::FormExpired.get(lang)));
        return html(
            StatusCode::FORBIDDEN,
            document(lang, M::AccountTitle, "/account", &body),
            &csrf,
        );
    }
    let Ok((session, account)) = signed_in(&state, &headers).await else {
        return to_login(&state);
    };
    let back = |r: Result<&str, String>| {
        let loc = match r {
            Ok(done) => format!("/account?lang={}&done={}", lang.code(), q(done)),
            Err(e) => format!("/account?lang={}&error={}", lang.code(), q(&e)),
        };
        (StatusCode::SEE_OTHER, [(header::LOCATION, loc)]).into_response()
    };
    let api_err = |e: crate::http::error::ApiError| e.message.clone();
    match form.op.as_str() {
        "rename" => {
            let (Some(id), Some(label)) = (form.id, form.label.as_deref()) else {
                return back(Err(M::ActionFailed.get(lang).to_owned()));
            };
            match crate::http::api::factors::rename_own(&state, &account, id, label).await {
                Ok(()) => back(Ok(M::Rename.get(lang))),
                _ => back(Err(M::ActionFailed.get(lang).to_owned())),
            }
        }
        "remove" => {
            let (Some(id), Some(pw)) = (form.id, form.password.as_ref()) else {
                return back(Err(M::ActionFailed.get(lang).to_owned()));
            };
            match remove_own(&state, &session, &account, id, pw).await {
                Ok(()) => back(Ok(M::Remove.get(lang))),
                Err(e) if e.code == "reauthentication_failed" => {
                    back(Err(M::PasswordWrong.get(lang).to_owned()))
                }
                Err(e) if e.code == "last_factor" => back(Err(M::LastFactor.get(lang).to_owned())),
                Err(e) => back(Err(api_err(e))),
            }
        }
        "revoke" => {
            let Some(sid) = form.sid.as_deref() else {
                return back(Err(M::ActionFailed.get(lang).to_owned()));
            };
            let mine = state
                .sessions
                .list(&account.id.to_string())
                .await
                .unwrap_or_default()
                .iter()
                .any(|s| s.sid == sid);
            if !mine {
                return back(Err(M::ActionFailed.get(lang).to_owned()));
            }
            match state.sessions.revoke(&account.id.to_string(), sid).await {
                Ok(_) => back(Ok(M::EndSession.get(lang))),
                Err(_) => back(Err(M::ServiceUnavailable.get(lang).to_owned())),
            }
        }
        "recovery-codes" => {
            let r =
                crate::http::api::factors::issue_recovery_codes(&state, &session, &account).await;
            match r {
                Ok(codes) => {
                    let items: String = codes
                        .iter()
                        .map(|c| format!("<li><code>{}</code></li>", esc(c.expose())))
                        .collect();
                    let body = format!(
                        r#"<p class="notice">{}</p><ol id="recovery-codes">{items}</ol><p><a href="/account?lang={}">{}</a></p>"#,
                        esc(M::RecoveryShownOnce.get(lang)),
                        lang.code(),
                        esc(M::Continue.get(lang)),
                    );
                    html(
                        StatusCode::OK,
                        console(lang, M::AccountTitle, "/account", &session.roles, &body),
                        &csrf,
                    )
                }
                Err(e) => back(Err(api_err(e))),
            }
        }
        "totp" => {
            let Some(totp) = state.totp.as_ref() else {
                return back(Err(M::ServiceUnavailable.get(lang).to_owned()));
            };
            if crate::http::api::factors::refuse_emergency(&account).is_err() {
                return back(Err(M::EmergencyNoFactors.get(lang).to_owned()));
            }
            let now = state.clock.now();
            match (&form.enrolment_id, &form.code) {
                (Some(id), Some(code)) => {
                    let result = totp.confirm(&account, id, code, "", now).await;
                    let who = crate::http::api::factors::Enroller::Session(session, account);
                    let event = match &result {
                        Ok(Ok(factor)) => {
                            who.event(&state, "totp", true).detail("factor_id", *factor)
                        }
                        _ => who
                            .event(&state, "totp", false)
                            .detail("reason", "invalid_code"),
                    };
                    if state.auditor.record(event).await.is_err() {
                        return back(Err(M::ServiceUnavailable.get(lang).to_owned()));
                    }
                    match result {
                        Ok(Ok(_)) => back(Ok(M::EnrolTotp.get(lang))),
                        _ => back(Err(M::CodeWrong.get(lang).to_owned())),
                    }
                }
                _ => match totp.begin(&account, now).await {
                    Ok(e) => {
                        let svg = crate::totp::qr_svg(e.otpauth_uri.expose()).unwrap_or_default();
                        let body = views::account_totp(
                            lang,
                            &csrf,
                            e.id.expose(),
                            &svg,
                            e.secret_base32.expose(),
                        );
                        html(
                            StatusCode::OK,
                            console(lang, M::EnrolTitle, "/account", &session.roles, &body),
                            &csrf,
                        )
                    }
                    Err(_) => back(Err(M::ServiceUnavailable.get(lang).to_owned())),
                },
            }
        }
        _ => back(Err(M::ActionFailed.get(lang).to_owned())),
    }
}
