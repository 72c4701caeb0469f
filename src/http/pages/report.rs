//! The guideline report in the console (`GET /report`, roles `auditor` and `it_admin`): the
//! same report as `sekimori report guideline`, computed from live data at each request, with
//! its JSON and CSV forms (`/report.json`, `/report.csv`) and its print styles
//! (`/static/report.css`, `/report/print.css` for the facility and date on every page).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::guard::{Door, enter};
use super::i18n::{Lang, M};
use super::layout::{Csrf, console_with_style, esc, html};
use crate::app::AppState;
use crate::audit::export::Lang as ReportLang;
use crate::report::gather::{Depth, snapshot};
use crate::report::model::GuidelineReport;

const DOOR: Door = Door {
    path: "/report",
    title: M::ReportTitle,
    roles: &["auditor", "it_admin"],
    refused: M::ReportOnly,
};

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    lang: Option<String>,
}

fn report_lang(lang: Lang) -> ReportLang {
    match lang {
        Lang::Ja => ReportLang::Ja,
        Lang::En => ReportLang::En,
    }
}

/// The report for a permitted session, or the answer that says why not.
async fn report(
    state: &AppState,
    headers: &HeaderMap,
    q: &ReportQuery,
) -> Result<(Lang, Csrf, Vec<String>, GuidelineReport), Response> {
    let lang = Lang::choose(q.lang.as_deref(), headers);
    let csrf = Csrf::for_request(state, headers);
    let session = enter(state, headers, lang, &csrf, DOOR).await?;
    // The console checks what its running verifier has reached and the newest checkpoints;
    // `sekimori report guideline` checks the whole chain.
    match snapshot(state, state.clock.now(), Depth::Console).await {
        Ok(s) => Ok((
            lang,
            csrf,
            session.roles.clone(),
            crate::report::build(&s, report_lang(lang)),
        )),
        Err(e) => {
            tracing::error!(error = %e, "report not computed");
            Err(html(
                StatusCode::SERVICE_UNAVAILABLE,
                super::layout::document(
                    lang,
                    M::ReportTitle,
                    "/report",
                    &format!("<p>{}</p>", esc(M::ServiceUnavailable.get(lang))),
                ),
                &csrf,
            ))
        }
    }
}

pub async fn get_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Response {
    let (lang, csrf, roles, r) = match report(&state, &headers, &q).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let code = lang.code();
    let body = format!(
        r#"{banner}<p class="no-print">{print} <a href="/report.json?lang={code}" download>{json}</a> · <a href="/report.csv?lang={code}" download>{csv}</a></p>
{report}"#,
        banner = super::banner::break_glass(&state, lang, &csrf, false).await,
        print = esc(M::PrintReport.get(lang)),
        json = esc(M::ReportJson.get(lang)),
        csv = esc(M::ReportCsv.get(lang)),
        report = crate::report::html::body(&r),
    );
    let print = format!("/report/print.css?lang={code}");
    html(
        StatusCode::OK,
        console_with_style(
            lang,
            M::ReportTitle,
            "/report",
            &roles,
            &["/static/report.css", &print],
            &body,
        ),
        &csrf,
    )
}

fn download(bytes: Vec<u8>, content_type: &'static str, name: &'static str) -> Response {
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static(name));
    res
}

pub async fn get_report_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Response {
    match report(&state, &headers, &q).await {
        Ok((.., r)) => match serde_json::to_vec_pretty(&r) {
            Ok(bytes) => download(
                bytes,
                "application/json",
                "attachment; filename=\"sekimori-guideline-report.json\"",
            ),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Err(res) => res,
    }
}

pub async fn get_report_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Response {
    match report(&state, &headers, &q).await {
        Ok((.., r)) => match crate::report::text::csv(&r) {
            Ok(bytes) => download(
                bytes,
                "text/csv; charset=utf-8",
                "attachment; filename=\"sekimori-guideline-report.csv\"",
            ),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Err(res) => res,
    }
}

pub async fn get_style() -> Response {
    css(crate::report::html::STYLE.to_owned())
}

/// The page boxes of print: this facility and today's date at the top of each page.
pub async fn get_print_style(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Response {
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let c = &state.config.facility;
    let name = if c.name.is_empty() {
        c.id.0.as_str()
    } else {
        c.name.as_str()
    };
    let date = crate::clock::to_jst_display(state.clock.now());
    css(crate::report::html::print_css(
        name,
        &date,
        lang == Lang::Ja,
    ))
}

fn css(text: String) -> Response {
    let mut res = (StatusCode::OK, text).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    res
}
