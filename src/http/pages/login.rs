//! The login portal: server-rendered forms over the same `auth::LoginService` as the JSON
//! API. `GET /login?rd=URL` (where forward-auth sends people), `POST /login` (password),
//! `POST /login/step` (a code, a recovery code or a new password), `POST /login/enrol/totp`
//! and `…/confirm` (a first factor inside the flow), `POST /logout`. Security keys and
//! passkeys go through the JSON API from `static/webauthn.js`. After sign-in the browser
//! returns to `rd` only when it is a configured protected host or the gateway itself.

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::i18n::{Lang, M};
use super::layout::{Csrf, document, form_is_ours, html, q};
use super::views;
use crate::app::AppState;
use crate::auth::{Answer, LoginOutcome, Notice};
use crate::crypto::SecretString;
use crate::error::Error;
use crate::http::api::answers::session_from;
use crate::http::api::factors::Enroller;
use crate::http::authz::{safe_return_url, system_for_host};
use crate::http::client::Client;
use crate::totp::service::Check;

/// Where a page's request stands: its language, CSRF token and return URL.
struct Ctx {
    lang: Lang,
    csrf: Csrf,
    rd: Option<String>,
    /// A step-up page: its language switch must ask for the step-up again.
    step_up: bool,
}

impl Ctx {
    fn new(state: &AppState, headers: &HeaderMap, lang: Option<&str>, rd: Option<&str>) -> Self {
        Self {
            lang: Lang::choose(lang, headers),
            csrf: Csrf::for_request(state, headers),
            rd: rd.and_then(|r| safe_return_url(r, &state.config)),
            step_up: false,
        }
    }

    fn rd(&self) -> Option<&str> {
        self.rd.as_deref()
    }

    /// This page's path and query without `lang`, for the language switch.
    fn here(&self, path: &str) -> String {
        match (&self.rd, self.step_up) {
            (Some(r), true) => format!("{path}?rd={}&step_up=1", q(r)),
            (Some(r), false) => format!("{path}?rd={}", q(r)),
            (None, _) => path.to_owned(),
        }
    }

    fn page(&self, status: StatusCode, title: M, body: &str) -> Response {
        html(
            status,
            document(self.lang, title, &self.here("/login"), body),
            &self.csrf,
        )
    }

    fn login_page(&self, status: StatusCode, username: &str, error: Option<M>) -> Response {
        let body = views::login_form(self.lang, &self.csrf, self.rd(), username, error);
        self.page(status, M::SignIn, &body)
    }
}

/// The system a return URL belongs to (the portal when there is none).
fn system_of(state: &AppState, rd: Option<&str>) -> String {
    rd.and_then(|u| crate::http::authz::target::parse_url(u.as_bytes(), b"GET").ok())
        .and_then(|t| system_for_host(&state.config, &t.host).map(|s| s.id.clone()))
        .unwrap_or_else(|| "portal".to_owned())
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    rd: Option<String>,
    lang: Option<String>,
    /// Set by forward-auth when the page at `rd` needs a second factor the session lacks.
    step_up: Option<String>,
}

pub async fn get_login(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let mut ctx = Ctx::new(&state, &headers, query.lang.as_deref(), query.rd.as_deref());
    ctx.step_up = query.step_up.is_some();
    match session_from(&state, &headers).await {
        // Step-up: ask only for the missing factor; the answer upgrades this session.
        Ok(Some(s))
            if query.step_up.is_some() && crate::policy::factors::kinds(&s.amr).len() < 2 =>
        {
            let system = system_of(&state, ctx.rd());
            let result = state.login.step_up(&s, &system, &client.origin).await;
            outcome(&state, &ctx, result, &s.username).await
        }
        // Nothing to add: back to the page.
        Ok(Some(_)) if query.step_up.is_some() && ctx.rd.is_some() => {
            let to = ctx.rd.clone().unwrap_or_default();
            (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
        }
        Ok(Some(s)) => {
            let display = if s.display_name.is_empty() {
                s.username.clone()
            } else {
                format!("{} ({})", s.display_name, s.username)
            };
            let body = views::signed_in(
                ctx.lang,
                &ctx.csrf,
                views::SignedIn {
                    display: &display,
                    continue_to: ctx.rd(),
                    notices: Vec::new(),
                },
            );
            ctx.page(StatusCode::OK, M::SignedInTitle, &body)
        }
        Ok(None) => ctx.login_page(StatusCode::OK, "", None),
        Err(_) => ctx.page(
            StatusCode::SERVICE_UNAVAILABLE,
            M::SignIn,
            &views::message(ctx.lang, M::ServiceUnavailable, None),
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    csrf: String,
    username: String,
    password: SecretString,
    rd: Option<String>,
    lang: Option<String>,
}

pub async fn post_login(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let ctx = Ctx::new(&state, &headers, form.lang.as_deref(), form.rd.as_deref());
    if !form_is_ours(&state, &headers, &form.csrf) {
        return ctx.login_page(StatusCode::FORBIDDEN, &form.username, Some(M::FormExpired));
    }
    if form.username.is_empty() || form.password.is_empty() || form.password.expose().len() > 4096 {
        return ctx.login_page(
            StatusCode::UNAUTHORIZED,
            &form.username,
            Some(M::InvalidCredentials),
        );
    }
    let system = system_of(&state, ctx.rd());
    let result = state
        .login
        .login(&form.username, &form.password, &system, &client.origin)
        .await;
    outcome(&state, &ctx, result, &form.username).await
}

#[derive(Debug, Deserialize)]
pub struct StepForm {
    csrf: String,
    flow_id: String,
    rd: Option<String>,
    lang: Option<String>,
    code: Option<SecretString>,
    recovery_code: Option<SecretString>,
    break_glass_code: Option<SecretString>,
    new_password: Option<SecretString>,
    new_password_again: Option<SecretString>,
}

pub async fn post_step(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<StepForm>,
) -> Response {
    let ctx = Ctx::new(&state, &headers, form.lang.as_deref(), form.rd.as_deref());
    if !form_is_ours(&state, &headers, &form.csrf) {
        return ctx.login_page(StatusCode::FORBIDDEN, "", Some(M::FormExpired));
    }
    if let Some(new_password) = form.new_password {
        let again = form
            .new_password_again
            .unwrap_or_else(|| SecretString::new(String::new()));
        let peek = crate::auth::flow::peek(state.state.as_ref(), &form.flow_id).await;
        if new_password.expose() != again.expose() {
            return match peek {
                Some(r) => {
                    let reason = match &r.step {
                        crate::auth::flow::FlowStep::ChangePassword { reason } => reason.clone(),
                        _ => String::new(),
                    };
                    let body = views::change_password(
                        ctx.lang,
                        &ctx.csrf,
                        ctx.rd(),
                        &form.flow_id,
                        &reason,
                        &r.username,
                        &[M::PasswordsDiffer.get(ctx.lang).to_owned()],
                    );
                    ctx.page(StatusCode::UNPROCESSABLE_ENTITY, M::ChangeTitle, &body)
                }
                None => ctx.login_page(StatusCode::UNAUTHORIZED, "", Some(M::FlowExpired)),
            };
        }
        let username = peek.map(|r| r.username).unwrap_or_default();
        return match state
            .login
            .change_password(&form.flow_id, &new_password, &client.origin)
            .await
        {
            Ok((o, Some(Error::PasswordRejected(reasons)))) => {
                let errors: Vec<String> = reasons
                    .iter()
                    .map(|r| match ctx.lang {
                        Lang::Ja => r.message_ja(),
                        Lang::En => r.message_en(),
                    })
                    .collect();
                match o {
                    LoginOutcome::PasswordChangeRequired {
                        flow_id, reason, ..
                    } => {
                        let body = views::change_password(
                            ctx.lang,
                            &ctx.csrf,
                            ctx.rd(),
                            flow_id.expose(),
                            &reason,
                            &username,
                            &errors,
                        );
                        ctx.page(StatusCode::UNPROCESSABLE_ENTITY, M::ChangeTitle, &body)
                    }
                    other => outcome(&state, &ctx, Ok(other), &username).await,
                }
            }
            Ok((o, _)) => outcome(&state, &ctx, Ok(o), &username).await,
            Err(e) => outcome(&state, &ctx, Err(e), &username).await,
        };
    }
    let answer = match (form.code, form.recovery_code, form.break_glass_code) {
        (Some(c), None, None) => Answer::Code(c),
        (None, Some(c), None) => Answer::RecoveryCode(c),
        (None, None, Some(c)) => Answer::BreakGlassCode(c),
        _ => return ctx.login_page(StatusCode::UNPROCESSABLE_ENTITY, "", Some(M::FlowExpired)),
    };
    match state
        .login
        .second_factor(&form.flow_id, answer, &client.origin)
        .await
    {
        // A malformed code did not spend the flow: the same page with the reason.
        Err(Error::Code(e)) => {
            let methods = factor_methods(&state, &form.flow_id).await;
            let text = match ctx.lang {
                Lang::Ja => e.message_ja().to_owned(),
                Lang::En => e.to_string(),
            };
            let body = views::second_factor(
                ctx.lang,
                &ctx.csrf,
                ctx.rd(),
                &form.flow_id,
                &methods,
                Some(&text),
            );
            ctx.page(
                StatusCode::UNPROCESSABLE_ENTITY,
                M::SecondFactorTitle,
                &body,
            )
        }
        other => outcome(&state, &ctx, other, "").await,
    }
}

/// The methods of the account a flow belongs to (for re-showing its second-factor page).
async fn factor_methods(state: &AppState, flow_id: &str) -> Vec<&'static str> {
    let Some(record) = crate::auth::flow::peek(state.state.as_ref(), flow_id).await else {
        return vec!["totp"];
    };
    let Ok(id) = uuid::Uuid::parse_str(&record.account_id) else {
        return vec!["totp"];
    };
    match state
        .stores
        .accounts
        .get_account(crate::account::AccountId(id))
        .await
    {
        Ok(a) => crate::auth::factor_facts(&state.stores, &state.config, &a)
            .await
            .map(|f| f.methods)
            .unwrap_or_default(),
        Err(_) => vec!["totp"],
    }
}

#[derive(Debug, Deserialize)]
pub struct EnrolForm {
    csrf: String,
    flow_id: String,
    rd: Option<String>,
    lang: Option<String>,
    enrolment_id: Option<String>,
    code: Option<String>,
}

/// Start (without `enrolment_id`) or confirm (with it) a TOTP enrolment inside the flow.
pub async fn post_enrol_totp(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<EnrolForm>,
) -> Response {
    let ctx = Ctx::new(&state, &headers, form.lang.as_deref(), form.rd.as_deref());
    if !form_is_ours(&state, &headers, &form.csrf) {
        return ctx.login_page(StatusCode::FORBIDDEN, "", Some(M::FormExpired));
    }
    let Some(totp) = state.totp.as_ref() else {
        return ctx.page(
            StatusCode::SERVICE_UNAVAILABLE,
            M::EnrolTitle,
            &views::message(ctx.lang, M::ServiceUnavailable, None),
        );
    };
    let (record, account) = match state.login.take_enrolment(&form.flow_id).await {
        Ok(r) => r,
        Err(e) => return outcome(&state, &ctx, Err(e), "").await,
    };
    let who = Enroller::Flow(Box::new(record), account);
    let now = state.clock.now();
    let (enrolment_id, shown, error) = match (&form.enrolment_id, &form.code) {
        (None, _) => match totp.begin(who.account(), now).await {
            Ok(e) => (
                e.id.expose().to_owned(),
                Some((
                    crate::totp::qr_svg(e.otpauth_uri.expose()).unwrap_or_default(),
                    e.secret_base32.expose().to_owned(),
                )),
                None,
            ),
            Err(e) => return outcome(&state, &ctx, Err(e), "").await,
        },
        (Some(id), Some(code)) => match totp.confirm(who.account(), id, code, "", now).await {
            Ok(Ok(factor)) => {
                let event = who.event(&state, "totp", true).detail("factor_id", factor);
                if let Err(e) = state.auditor.record(event).await {
                    return outcome(&state, &ctx, Err(e.into()), "").await;
                }
                let Enroller::Flow(record, account) = who else {
                    return ctx.login_page(StatusCode::UNAUTHORIZED, "", Some(M::FlowExpired));
                };
                let o = state
                    .login
                    .enrolled(*record, &account, vec!["otp".into()], &client.origin)
                    .await;
                return outcome(&state, &ctx, o, "").await;
            }
            Ok(Err(check)) => {
                // One answer for a used and a wrong code; the audit record tells them apart.
                let m = M::CodeWrong;
                let reason = if check == Check::Replayed {
                    "code_already_used"
                } else {
                    "invalid_code"
                };
                let event = who.event(&state, "totp", false).detail("reason", reason);
                if let Err(e) = state.auditor.record(event).await {
                    return outcome(&state, &ctx, Err(e.into()), "").await;
                }
                (id.clone(), None, Some(m.get(ctx.lang).to_owned()))
            }
            Err(Error::Code(e)) => {
                let text = match ctx.lang {
                    Lang::Ja => e.message_ja().to_owned(),
                    Lang::En => e.to_string(),
                };
                (id.clone(), None, Some(text))
            }
            Err(e) => return outcome(&state, &ctx, Err(e), "").await,
        },
        (Some(id), None) => (
            id.clone(),
            None,
            Some(M::CodeWrong.get(ctx.lang).to_owned()),
        ),
    };
    let flow_id = match who.reopen(&state).await {
        Ok(Some(f)) => f,
        _ => return ctx.login_page(StatusCode::UNAUTHORIZED, "", Some(M::FlowExpired)),
    };
    let body = views::totp_confirm(
        ctx.lang,
        &ctx.csrf,
        ctx.rd(),
        flow_id.expose(),
        &enrolment_id,
        shown.as_ref().map(|(svg, secret)| views::TotpShown {
            qr_svg: svg,
            secret,
        }),
        error.as_deref(),
    );
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    ctx.page(status, M::EnrolTitle, &body)
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: String,
    lang: Option<String>,
}

pub async fn post_logout(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    let ctx = Ctx::new(&state, &headers, form.lang.as_deref(), None);
    if !form_is_ours(&state, &headers, &form.csrf) {
        return ctx.login_page(StatusCode::FORBIDDEN, "", Some(M::FormExpired));
    }
    if let Ok(Some(s)) = session_from(&state, &headers).await {
        let _ = state.login.logout(&s, &client.origin).await;
        if let Some(a) = &state.assertions {
            a.forget(&s.sid);
        }
    }
    let secure = !state.config.server.danger_insecure_cookies;
    let mut res = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("/login?lang={}", ctx.lang.code()))],
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&state.sessions.clear_cookie_header(secure)) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

fn notice_text(lang: Lang, n: &Notice) -> String {
    match n {
        Notice::EnrolmentRecommended {
            grace_remaining, ..
        } => format!(
            "{} {}: {grace_remaining}",
            M::NoticeEnrol.get(lang),
            M::NoticeGrace.get(lang)
        ),
        Notice::RecoveryCodesLow { remaining } => {
            format!("{} ({remaining})", M::NoticeRecoveryLow.get(lang))
        }
    }
}

/// Show what a login step answered.
async fn outcome(
    state: &AppState,
    ctx: &Ctx,
    result: Result<LoginOutcome, Error>,
    username: &str,
) -> Response {
    let lang = ctx.lang;
    let o = match result {
        Ok(o) => o,
        Err(Error::FlowInvalid) => {
            return ctx.login_page(StatusCode::UNAUTHORIZED, username, Some(M::FlowExpired));
        }
        Err(Error::Username(_)) => {
            return ctx.login_page(
                StatusCode::UNAUTHORIZED,
                username,
                Some(M::InvalidCredentials),
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, code = e.code(), "a login page step failed");
            return ctx.page(
                StatusCode::SERVICE_UNAVAILABLE,
                M::SignIn,
                &views::message(lang, M::ServiceUnavailable, None),
            );
        }
    };
    match o {
        LoginOutcome::Authenticated {
            cookie,
            session,
            notices,
            ..
        } => {
            let secure = !state.config.server.danger_insecure_cookies;
            let mut res = if notices.is_empty() {
                let to = ctx
                    .rd
                    .clone()
                    .unwrap_or_else(|| format!("/login?lang={}", lang.code()));
                (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
            } else {
                let display = session.username.clone();
                let body = views::signed_in(
                    lang,
                    &ctx.csrf.for_session(cookie.expose()),
                    views::SignedIn {
                        display: &display,
                        continue_to: Some(ctx.rd().unwrap_or("/login")),
                        notices: notices.iter().map(|n| notice_text(lang, n)).collect(),
                    },
                );
                ctx.page(StatusCode::OK, M::SignedInTitle, &body)
            };
            if let Ok(v) = HeaderValue::from_str(&state.sessions.cookie_header(&cookie, secure)) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        LoginOutcome::SecondFactorRequired {
            flow_id, methods, ..
        } => {
            let body =
                views::second_factor(lang, &ctx.csrf, ctx.rd(), flow_id.expose(), &methods, None);
            ctx.page(StatusCode::OK, M::SecondFactorTitle, &body)
        }
        LoginOutcome::PasswordChangeRequired {
            flow_id, reason, ..
        } => {
            let body = views::change_password(
                lang,
                &ctx.csrf,
                ctx.rd(),
                flow_id.expose(),
                &reason,
                username,
                &[],
            );
            ctx.page(StatusCode::OK, M::ChangeTitle, &body)
        }
        LoginOutcome::EnrolmentRequired { flow_id, .. } => {
            let body = views::enrol_choice(lang, &ctx.csrf, ctx.rd(), flow_id.expose());
            ctx.page(StatusCode::OK, M::EnrolTitle, &body)
        }
        // The PAM channel's answer never reaches a page.
        LoginOutcome::Denied { .. } | LoginOutcome::Allowed { .. } => ctx.page(
            StatusCode::FORBIDDEN,
            M::DeniedTitle,
            &views::message(lang, M::DeniedLead, None),
        ),
        LoginOutcome::InvalidCredentials => ctx.login_page(
            StatusCode::UNAUTHORIZED,
            username,
            Some(M::InvalidCredentials),
        ),
        LoginOutcome::CodeRefused {
            reason,
            flow_id: Some(flow_id),
            ..
        } => {
            let m = match reason {
                "invalid_recovery_code" => M::RecoveryWrong,
                "invalid_break_glass_code" => M::BreakGlassWrong,
                _ => M::CodeWrong,
            };
            let methods = factor_methods(state, flow_id.expose()).await;
            let body = views::second_factor(
                lang,
                &ctx.csrf,
                ctx.rd(),
                flow_id.expose(),
                &methods,
                Some(m.get(lang)),
            );
            ctx.page(StatusCode::UNAUTHORIZED, M::SecondFactorTitle, &body)
        }
        LoginOutcome::CodeRefused { flow_id: None, .. } => {
            let now = state.clock.now();
            locked_page(ctx, Some(now + chrono::Duration::minutes(15)), now)
        }
        LoginOutcome::Blocked { until } => locked_page(ctx, until, state.clock.now()),
    }
}

fn locked_page(
    ctx: &Ctx,
    until: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Response {
    let shown = until.map(|t| {
        (
            crate::clock::to_jst_string(t),
            crate::clock::to_jst_display(t),
        )
    });
    let body = views::locked(
        ctx.lang,
        shown
            .as_ref()
            .map(|(machine, human)| (machine.as_str(), human.as_str())),
    );
    let mut res = ctx.page(StatusCode::TOO_MANY_REQUESTS, M::LockedTitle, &body);
    if let Some(t) = until {
        let secs = (t - now).num_seconds().max(1);
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    res
}
