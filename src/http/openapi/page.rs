//! `GET /api/docs`: the OpenAPI description rendered for people on the server, in Japanese
//! or English, with the page's usual CSP (no script, no CDN, nothing fetched elsewhere).

use axum::http::StatusCode;
use axum::response::Response;
use utoipa::OpenApi;
use utoipa::openapi::RefOr;

use super::{ApiDoc, ERROR_CODES};

/// A schema reference's name, or `object`.
fn schema_name(s: &RefOr<utoipa::openapi::schema::Schema>) -> String {
    match s {
        RefOr::Ref(r) => r.ref_location.rsplit('/').next().unwrap_or("").to_owned(),
        RefOr::T(_) => "object".to_owned(),
    }
}

fn content_schema<'a>(
    content: impl IntoIterator<Item = (&'a String, &'a utoipa::openapi::Content)>,
) -> String {
    content
        .into_iter()
        .map(|(_, c)| c)
        .next()
        .and_then(|c| c.schema.as_ref())
        .map(schema_name)
        .unwrap_or_default()
}

/// `GET /api/docs`: the description for people, rendered here (no script, no CDN).
pub async fn get_docs(
    axum::extract::State(state): axum::extract::State<crate::app::AppState>,
    headers: axum::http::HeaderMap,
    axum::extract::Query(q): axum::extract::Query<crate::http::pages::LangQuery>,
) -> Response {
    use crate::http::pages::i18n::{Lang, M};
    use crate::http::pages::layout::{Csrf, document, esc, html};
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let csrf = Csrf::for_request(&state, &headers);
    let doc = ApiDoc::openapi();
    let t = |ja: &'static str, en: &'static str| if lang == Lang::Ja { ja } else { en };
    let mut body = format!(
        r#"<p>{} <a href="/api/v1/openapi.json">/api/v1/openapi.json</a></p>"#,
        esc(t(
            "機械可読の記述（OpenAPI 3.1）:",
            "Machine-readable description (OpenAPI 3.1):"
        ))
    );
    for (path, item) in &doc.paths.paths {
        let ops = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let request = op
                .request_body
                .as_ref()
                .map(|b| content_schema(&b.content))
                .unwrap_or_default();
            let rows: String = op
                .responses
                .responses
                .iter()
                .filter_map(|(status, r)| match r {
                    RefOr::T(r) => Some(format!(
                        "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                        esc(status),
                        esc(&r.description),
                        esc(&content_schema(&r.content))
                    )),
                    RefOr::Ref(_) => None,
                })
                .collect();
            body.push_str(&format!(
                r#"<section class="card" id="{id}"><h2><code>{method} {path}</code></h2>{request}<div class="table"><table><thead><tr><th scope="col">{status}</th><th scope="col">{meaning}</th><th scope="col">{schema}</th></tr></thead><tbody>{rows}</tbody></table></div></section>"#,
                id = esc(&format!("{method}{path}").replace(['/', '{', '}', '.'], "-")),
                path = esc(path),
                request = if request.is_empty() {
                    String::new()
                } else {
                    format!("<p>{} <code>{}</code></p>", esc(t("要求本文:", "Request body:")), esc(&request))
                },
                status = esc(t("状態", "Status")),
                meaning = esc(t("意味", "Meaning")),
                schema = esc(t("本文", "Body")),
            ));
        }
    }
    let codes: String = ERROR_CODES
        .iter()
        .map(|(s, c, m)| {
            format!(
                "<tr><td>{s}</td><td><code>{c}</code></td><td>{}</td></tr>",
                esc(m)
            )
        })
        .collect();
    body.push_str(&format!(
        r#"<section class="card" id="errors"><h2>{}</h2><div class="table"><table><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>{codes}</tbody></table></div></section>"#,
        esc(t("エラーコード", "Error codes")),
        esc(t("状態", "Status")),
        esc(t("コード", "Code")),
        esc(t("意味", "Meaning")),
    ));
    html(
        StatusCode::OK,
        document(lang, M::ApiDocsTitle, "/api/docs", &body),
        &csrf,
    )
}
