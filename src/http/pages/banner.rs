//! The consoles' banner for emergency-account uses not yet acknowledged: on every page of the
//! administration console (with a form to acknowledge each, reason required) and of the
//! auditor console (without one: auditors read, administrators act). The acknowledgement is
//! posted to the accounts console (`pages::admin`); this module only draws.

use super::i18n::{Lang, M};
use super::layout::{Csrf, esc};
use crate::app::AppState;

/// The banner's HTML; empty when nothing is open (or the list cannot be read: the pages
/// still work, and the failure is logged).
pub async fn break_glass(state: &AppState, lang: Lang, csrf: &Csrf, with_form: bool) -> String {
    let uses = match state.emergency.uses(true).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "reading break-glass uses failed");
            return String::new();
        }
    };
    if uses.is_empty() {
        return String::new();
    }
    let t = |m: M| esc(m.get(lang));
    let items: String = uses
        .iter()
        .map(|u| {
            let form = if with_form {
                format!(
                    r#"<form method="post" action="/admin/break-glass/{id}/acknowledge">{csrf}<input type="hidden" name="lang" value="{code}"><label for="ack-{id}">{reason}</label><input id="ack-{id}" name="reason" required maxlength="500"><button type="submit">{ack}</button></form>"#,
                    id = u.id,
                    csrf = csrf.field(),
                    code = lang.code(),
                    reason = t(M::BreakGlassAckReason),
                    ack = t(M::BreakGlassAck),
                )
            } else {
                String::new()
            };
            format!(
                "<li>#{id} <strong>{user}</strong> {at} ({channel}{ip}{device}){form}</li>",
                id = u.id,
                user = esc(&u.username),
                at = esc(&crate::clock::to_jst_display(u.at)),
                channel = esc(&u.channel),
                ip = u.ip.as_deref().map(|i| format!(", {}", esc(i))).unwrap_or_default(),
                device = u
                    .device
                    .as_deref()
                    .map(|d| format!(", {}", esc(d)))
                    .unwrap_or_default(),
            )
        })
        .collect();
    let note = if with_form {
        String::new()
    } else {
        format!("<p>{}</p>", t(M::BreakGlassAdminOnly))
    };
    format!(
        r#"<div class="banner" role="alert" id="break-glass-banner"><strong>{title}</strong><ul>{items}</ul>{note}</div>"#,
        title = t(M::BreakGlassBanner),
    )
}
