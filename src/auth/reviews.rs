//! The authentication and authorization APIs: TokenRequest (`serviceaccounts/<name>/token`),
//! TokenReview, SelfSubjectReview, the access reviews (every authenticated user is allowed
//! everything until RBAC exists) and the OIDC discovery documents.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::tokens::BoundObject;
use crate::api::auth::UserInfo;
use crate::api::codec::{self, Format};
use crate::api::errors::{ApiError, ApiResult, Cause};
use crate::api::handler::App;
use crate::api::object::ObjectMeta;
use crate::api::registry::ResourceEntry;
use crate::api::request::RequestInfo;
use crate::api::response::encode;
use crate::api::rest::{read_body, Handled};

/// Default `expirationSeconds` of a TokenRequest.
const DEFAULT_EXPIRATION: i64 = 3600;
/// The shortest token lifetime upstream accepts.
const MIN_EXPIRATION: i64 = 600;

/// Kinds answered by [`serve`] instead of being stored.
const REVIEWS: &[(&str, &str)] = &[
    ("authentication.k8s.io", "TokenReview"),
    ("authentication.k8s.io", "SelfSubjectReview"),
    ("authorization.k8s.io", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("authorization.k8s.io", "LocalSubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"),
];

/// True for requests [`serve`] answers: TokenRequests and review creates.
pub fn intercepts(res: &ResourceEntry, info: &RequestInfo, method: &Method) -> bool {
    if method != Method::POST {
        return false;
    }
    let token = res.rt.group.is_empty()
        && res.rt.plural == "serviceaccounts"
        && info.name.is_some()
        && info.subresource.as_deref() == Some("token");
    let review = REVIEWS
        .iter()
        .any(|(g, k)| res.rt.group == *g && res.rt.kind == *k)
        && info.name.is_none();
    token || review
}

/// Answers a request [`intercepts`] accepted.
pub async fn serve(
    app: &Arc<App>,
    res: Arc<ResourceEntry>,
    info: RequestInfo,
    req: Request<Body>,
) -> Handled {
    let wrap = |e: ApiError| ("create", e);
    let format = codec::negotiate(req.headers()).map_err(wrap)?;
    let user = req
        .extensions()
        .get::<Option<UserInfo>>()
        .cloned()
        .flatten()
        .unwrap_or_default();
    let (headers, body) = read_body(req).await.map_err(wrap)?;
    let obj = codec::decode_body(&headers, &body).map_err(wrap)?;
    let out = if res.rt.kind == "ServiceAccount" {
        let ns = info.namespace.as_deref().unwrap_or("default");
        let name = info.name.as_deref().unwrap_or("");
        token_request(app, ns, name, obj).await
    } else {
        review(app, &res, &info, &user, obj)
    }
    .map_err(wrap)?;
    if matches!(format, Format::Table(_) | Format::PartialMetadata(_)) {
        // These kinds have no object metadata to show, as upstream refuses.
        return Err(wrap(ApiError::not_acceptable(format!(
            "the resource {} does not implement metadata and cannot be returned as a Table or PartialObjectMetadata",
            res.rt.kind
        ))));
    }
    Ok(("create", encode(StatusCode::CREATED, &out, format)))
}

fn check_kind(obj: &Value, group: &str, kind: &str) -> ApiResult<()> {
    let k = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if !k.is_empty() && k != kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({kind})"
        )));
    }
    let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if !av.is_empty() && av.split('/').next() != Some(group) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({group}/v1)"
        )));
    }
    Ok(())
}

fn invalid_expiration(name: &str, secs: i64, detail: &str) -> ApiError {
    let cause = format!("Invalid value: {secs}: {detail}");
    ApiError::invalid(
        "authentication.k8s.io",
        "TokenRequest",
        name,
        format!("TokenRequest.authentication.k8s.io \"{name}\" is invalid: spec.expirationSeconds: {cause}"),
        vec![Cause {
            reason: "FieldValueInvalid".into(),
            message: cause,
            field: "spec.expirationSeconds".into(),
        }],
    )
}

/// `POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`.
async fn token_request(app: &App, ns: &str, name: &str, obj: Value) -> ApiResult<Value> {
    check_kind(&obj, "authentication.k8s.io", "TokenRequest")?;
    let store = &app.store;
    let tokens = &app.tokens;
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let secs = spec
        .get("expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_EXPIRATION);
    if secs < MIN_EXPIRATION {
        return Err(invalid_expiration(
            name,
            secs,
            "may not specify a duration less than 10 minutes",
        ));
    }
    if secs > 1 << 32 {
        return Err(invalid_expiration(
            name,
            secs,
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    let mut audiences: Vec<String> = spec
        .get("audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if audiences.is_empty() {
        audiences = tokens.audiences.clone();
    }
    let sa_res = store
        .registry
        .find("", "v1", "serviceaccounts")
        .ok_or_else(|| ApiError::internal("serviceaccounts are not served"))?;
    let sa = store.get(&sa_res, Some(ns), name).await?;
    let sa_uid = sa.meta_str("uid").unwrap_or("").to_string();
    let bound_ref = spec
        .get("boundObjectRef")
        .filter(|v| v.is_object())
        .cloned();
    let bound = match &bound_ref {
        None => None,
        Some(r) => Some(bound_object(app, ns, name, r).await?),
    };
    let (token, exp) = tokens
        .issue(ns, name, &sa_uid, bound.as_ref(), &audiences, secs)
        .map_err(ApiError::internal)?;
    let expiry = chrono::DateTime::from_timestamp(exp, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    Ok(json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": null},
        "spec": {"audiences": audiences, "expirationSeconds": secs, "boundObjectRef": bound_ref},
        "status": {"token": token, "expirationTimestamp": expiry},
    }))
}

/// Looks up a token's bound object and checks its UID (and, for pods, its account).
async fn bound_object(app: &App, ns: &str, sa: &str, r: &Value) -> ApiResult<BoundObject> {
    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
    let uid = r.get("uid").and_then(Value::as_str).unwrap_or("");
    let (plural, namespaced) = match kind {
        "Pod" => ("pods", true),
        "Secret" => ("secrets", true),
        "Node" => ("nodes", false),
        _ => {
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {kind}"
            )))
        }
    };
    let res = app
        .store
        .registry
        .find("", "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
    let obj = app.store.get(&res, namespaced.then_some(ns), name).await?;
    let actual = obj.meta_str("uid").unwrap_or("").to_string();
    if !uid.is_empty() && uid != actual {
        return Err(ApiError::conflict(
            "",
            kind,
            name,
            &format!("the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"),
        ));
    }
    if kind == "Pod" {
        let pod_sa = obj
            .pointer("/spec/serviceAccountName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if pod_sa != sa {
            return Err(ApiError::bad_request(format!(
                "cannot bind token for serviceaccount \"{sa}\" to pod running with different serviceaccount name."
            )));
        }
    }
    Ok(BoundObject {
        kind: kind.to_string(),
        name: name.to_string(),
        uid: actual,
    })
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Creates of the review kinds: answered from the request, never stored.
fn review(
    app: &App,
    res: &ResourceEntry,
    info: &RequestInfo,
    user: &UserInfo,
    obj: Value,
) -> ApiResult<Value> {
    let kind = res.rt.kind.as_str();
    check_kind(&obj, &res.rt.group, kind)?;
    let mut metadata = obj.get("metadata").cloned().unwrap_or(json!({}));
    if !metadata.is_object() {
        metadata = json!({});
    }
    metadata["creationTimestamp"] = Value::Null;
    if kind == "LocalSubjectAccessReview" {
        if let Some(ns) = &info.namespace {
            metadata["namespace"] = json!(ns);
        }
    }
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let status = match kind {
        "TokenReview" => {
            let token = spec.get("token").and_then(Value::as_str).unwrap_or("");
            if token.is_empty() {
                return Err(ApiError::bad_request(
                    "token is required for TokenReview in authentication",
                ));
            }
            let audiences = strings(spec.get("audiences"));
            match app.tokens.authenticate(&app.store, token, &audiences) {
                Ok(a) => json!({
                    "authenticated": true,
                    "user": a.user.to_json(),
                    "audiences": a.audiences,
                }),
                Err(e) => json!({"user": {}, "error": format!("[{e}]")}),
            }
        }
        "SelfSubjectReview" => json!({"userInfo": user.to_json()}),
        "SelfSubjectRulesReview" => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        }),
        _ => json!({"allowed": true}),
    };
    let mut out = json!({
        "kind": kind,
        "apiVersion": res.rt.api_version(),
        "metadata": metadata,
    });
    if kind != "SelfSubjectReview" {
        out["spec"] = spec;
    }
    out["status"] = status;
    Ok(out)
}

/// `/.well-known/openid-configuration` and `/openid/v1/jwks`; `None` for other paths.
pub fn discovery(app: &App, path: &str) -> Option<Response> {
    let (body, content_type) = match path {
        "/.well-known/openid-configuration" => {
            (app.tokens.openid_configuration(), "application/json")
        }
        "/openid/v1/jwks" => (app.tokens.key.jwks(), "application/jwk-set+json"),
        _ => return None,
    };
    let mut r = (StatusCode::OK, body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(content_type));
    h.insert(
        "cache-control",
        HeaderValue::from_static("public, max-age=3600"),
    );
    Some(r)
}
