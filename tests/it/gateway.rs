//! Helpers for driving the login and forward-auth endpoints in-process: requests carry a
//! socket address (as the real server's connect info does), so trusted-proxy rules apply.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use sekimori::account::{AccountType, NewAccount, Role};
use sekimori::admin::InitialPassword;
use sekimori::app::AppState;
use sekimori::crypto::SecretString;
use tower::ServiceExt as _;

pub const PASSWORD: &str = "ocean-walnut-7-lantern";
pub const FIRST: &str = "maple-harbor-3-cinder";

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// `name=value` of the session cookie set by this reply.
    pub fn cookie(&self) -> String {
        let c = self.headers["set-cookie"].to_str().unwrap();
        c.split(';').next().unwrap().to_owned()
    }
}

pub struct Gw {
    pub state: AppState,
    pub app: axum::Router,
}

/// The loopback proxy address the default configuration trusts.
pub const PROXY: [u8; 4] = [127, 0, 0, 1];

impl Gw {
    pub fn new(state: AppState) -> Self {
        let app = sekimori::build_router(state.clone());
        Self { state, app }
    }

    pub async fn send(&self, mut req: Request<Body>, peer: [u8; 4]) -> Reply {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((peer, 40000))));
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        }
    }

    /// POST a JSON body to /api/v1/login from `client` (through the loopback proxy).
    pub async fn login_json(&self, body: serde_json::Value, client: &str) -> Reply {
        let req = Request::post("/api/v1/login")
            .header("content-type", "application/json")
            .header("x-forwarded-for", client)
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(req, PROXY).await
    }

    /// A request with a session cookie and an optional JSON body (`application/json` either
    /// way for a method that changes something).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        cookie: &str,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let b = Request::builder()
            .method(method)
            .uri(path)
            .header("cookie", cookie);
        let req = match body {
            Some(j) => b
                .header("content-type", "application/json")
                .body(Body::from(j.to_string()))
                .unwrap(),
            // Like every client: state-changing API calls say JSON even without a body.
            None if method != "GET" => b
                .header("content-type", "application/json")
                .body(Body::empty())
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req, PROXY).await
    }

    pub async fn login(&self, user: &str, password: &str, client: &str) -> Reply {
        self.login_json(
            serde_json::json!({ "username": user, "password": password }),
            client,
        )
        .await
    }

    /// Create an account and make its password its own (status active).
    pub async fn user(&self, name: &str, kind: AccountType, roles: &[&str]) {
        self.user_with(name, kind, roles, false, PASSWORD).await;
    }

    /// The same with the second-factor flag and the account's own password chosen.
    pub async fn user_with(
        &self,
        name: &str,
        kind: AccountType,
        roles: &[&str],
        second_factor_required: bool,
        password: &str,
    ) {
        let new = NewAccount {
            facility_id: sekimori::account::FacilityId("default".into()),
            login_name: name.into(),
            display_name: "山田 花子".into(),
            kana_name: None,
            email: Some(format!("{name}@clinic.example")),
            account_type: kind,
            roles: roles.iter().map(|r| Role::parse(r).unwrap()).collect(),
            groups: vec![],
            person_id: None,
            second_factor_required,
            expires_at: None,
        };
        self.state
            .admin
            .create(new, InitialPassword::Given(FIRST.into()), "test")
            .await
            .unwrap();
        self.state
            .admin
            .change_own_password(name, &SecretString::from(FIRST), &password.into())
            .await
            .unwrap();
    }

    /// Create an account with the one-time password `FIRST` (it must change it at first login).
    pub async fn user_with_one_time_password(&self, name: &str) {
        self.state
            .admin
            .create(
                crate::gateway_new_account(name),
                InitialPassword::Given(FIRST.into()),
                "test",
            )
            .await
            .unwrap();
    }

    /// Log in and return the session cookie pair.
    pub async fn session(&self, user: &str) -> String {
        let r = self.login(user, PASSWORD, "192.0.2.10").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["outcome"], "authenticated");
        r.cookie()
    }

    pub async fn audit_kinds(&self) -> Vec<(String, String, serde_json::Value)> {
        self.state
            .stores
            .audit
            .query_audit(&sekimori::store::AuditQuery::default())
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.event.kind.as_str().to_owned(),
                    r.event.subject.clone().unwrap_or_default(),
                    r.event.detail.clone(),
                )
            })
            .collect()
    }
}
