//! The device register in the administrators' console (role `it_admin`): `GET /admin/devices`
//! lists the register (機器台帳) with each terminal's browser binding, and a terminal's
//! enrolment link is issued from here (`POST /admin/devices/{name}/enrolment-link`), shown
//! once on the answer page and never put in a URL.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::admin_door::{Console, ConsoleForm, Posted};
use super::i18n::{Lang, M};
use super::layout::{Csrf, esc, q};
use crate::app::AppState;
use crate::device::{Device, DeviceKind, DeviceStatus};

fn device_row(lang: Lang, csrf: &Csrf, d: &Device) -> String {
    let t = |m: M| esc(m.get(lang));
    let link_form = if d.kind == DeviceKind::Terminal && d.status == DeviceStatus::Active {
        format!(
            r#"<form method="post" action="/admin/devices/{qname}/enrolment-link">{csrf}<input type="hidden" name="lang" value="{code}"><button type="submit">{issue}</button></form>"#,
            qname = esc(&q(&d.name)),
            csrf = csrf.field(),
            code = lang.code(),
            issue = t(M::IssueEnrolmentLink),
        )
    } else {
        String::new()
    };
    let bound = match (d.kind, d.terminal.is_bound()) {
        (DeviceKind::Terminal, true) => t(M::Bound),
        (DeviceKind::Terminal, false) => t(M::NotBound),
        _ => "-".to_owned(),
    };
    let (kind, status) = (
        super::labels::device_kind(lang, d.kind),
        super::labels::device_status(lang, d.status),
    );
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(&d.name),
        esc(&kind),
        esc(&d.location),
        esc(&d.owner),
        esc(&status),
        esc(&d
            .last_seen_at
            .map(crate::clock::to_jst_display)
            .unwrap_or_else(|| "-".into())),
        bound,
        link_form,
    )
}

pub async fn get_devices(State(state): State<AppState>, c: Console) -> Response {
    let (lang, t) = (c.lang, |m: M| c.t(m));
    let rows: String = match state.devices.list().await {
        Ok(list) => list.iter().map(|d| device_row(lang, &c.csrf, d)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "listing the device register failed");
            return c.page(
                StatusCode::SERVICE_UNAVAILABLE,
                "/admin/devices",
                &format!("<p>{}</p>", t(M::ServiceUnavailable)),
            );
        }
    };
    let body = format!(
        r#"<h2>{h}</h2>
<div class="table"><table id="devices"><thead><tr><th scope="col">{name}</th><th scope="col">{kind}</th><th scope="col">{location}</th><th scope="col">{owner}</th><th scope="col">{status}</th><th scope="col">{seen}</th><th scope="col">{bound}</th><th scope="col"></th></tr></thead><tbody>{rows}</tbody></table></div>
<p><a href="/admin?lang={code}">{back}</a></p>"#,
        h = t(M::DevicesTitle),
        name = t(M::DeviceName),
        kind = t(M::DeviceKindH),
        location = t(M::TerminalLocation),
        owner = t(M::TerminalOwner),
        status = t(M::Status),
        seen = t(M::LastSeen),
        bound = t(M::BrowserBound),
        code = lang.code(),
        back = t(M::Accounts),
    );
    c.page_with_banner(&state, "/admin/devices", &body).await
}

/// Nothing beyond the form token: the device is named by the path.
#[derive(Debug, Deserialize)]
pub struct LinkForm {}

impl ConsoleForm for LinkForm {
    const HERE: &'static str = "/admin/devices";
}

pub async fn post_enrolment_link(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Posted(c, _): Posted<LinkForm>,
) -> Response {
    let (lang, t) = (c.lang, |m: M| c.t(m));
    let issued = state
        .devices
        .enrolment_link(&name, &state.config.server.public_url, &c.actor())
        .await;
    let (status, body) = match issued {
        Ok((d, url)) => (
            StatusCode::OK,
            format!(
                r#"<h2>{name}</h2>
<p>{lead}</p>
<p><code id="enrolment-link">{url}</code></p>
<p>{until}: {expires}</p>"#,
                name = esc(&d.name),
                lead = t(M::EnrolmentLinkLead),
                url = esc(url.expose()),
                until = t(M::Until),
                expires = esc(&d
                    .terminal
                    .enrol_expires_at
                    .map(crate::clock::to_jst_display)
                    .unwrap_or_default()),
            ),
        ),
        Err(crate::error::Error::Refused {
            code: "device_not_found",
            ..
        }) => (
            StatusCode::NOT_FOUND,
            format!("<p>{}</p>", t(M::NoSuchDevice)),
        ),
        Err(crate::error::Error::Refused { message, .. }) => {
            (StatusCode::CONFLICT, format!("<p>{}</p>", esc(message)))
        }
        Err(e) => {
            tracing::warn!(error = %e, "issuing an enrolment link failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("<p>{}</p>", t(M::ActionFailed)),
            )
        }
    };
    let back = format!(
        r#"<p><a href="/admin/devices?lang={}">{}</a></p>"#,
        lang.code(),
        t(M::DevicesTitle)
    );
    c.page(status, "/admin/devices", &format!("{body}{back}"))
}
