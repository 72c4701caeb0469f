//! Extractors whose rejections use the application's error format.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// `Json<T>` with `ApiError` rejections (stable codes, the failing field named).
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(AppJson(v)),
            Err(rejection) => Err(ApiError::from(rejection)),
        }
    }
}

/// An optional JSON body: an empty body is `None`, anything else must parse. The body is
/// read first, so a client that sends `Content-Type: application/json` (which every
/// state-changing API call must, see [`super::cross_site`]) with nothing after it gets `None`
/// whether it said `Content-Length: 0`, chunked, or nothing.
impl<T, S> axum::extract::OptionalFromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let headers = req.headers().clone();
        // Within the router's body limit, like every other extractor.
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::from(axum::extract::rejection::JsonRejection::from(e)))?;
        if bytes.is_empty() {
            return Ok(None);
        }
        let mut req = Request::new(axum::body::Body::from(bytes));
        *req.headers_mut() = headers;
        <Self as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// `Path<T>` with `ApiError` rejections: a segment that does not parse (an id out of range,
/// bytes that are not UTF-8) is `422 invalid_field` in the application's JSON, not text.
#[derive(Debug, Clone)]
pub struct AppPath<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(AppPath(v)),
            Err(rejection) => Err(ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                format!("the path does not parse: {}", rejection.body_text()),
            )),
        }
    }
}
