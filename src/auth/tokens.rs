//! Bound service account tokens: issued by the TokenRequest API with upstream's claims, and
//! validated for TokenReview and bearer authentication (signature, issuer, audience, lifetime,
//! and that the account and bound object still exist with the UIDs in the token).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};

use super::jwt::{JwtError, SigningKey};
use crate::api::auth::UserInfo;
use crate::api::object::ObjectMeta;
use crate::api::store::Store;

/// The issuer (`iss`) of service account tokens (k3s' and kubeadm's default).
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// Audiences of tokens that name none (`--api-audiences`, as k3s sets it).
pub const API_AUDIENCES: &[&str] = &[ISSUER, "k3s"];
/// Key of the credential ID in a user's extra attributes.
pub const CREDENTIAL_ID: &str = "authentication.kubernetes.io/credential-id";

/// An object a token is bound to (`TokenRequestSpec.boundObjectRef`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundObject {
    /// `Pod`, `Secret` or `Node`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its UID.
    pub uid: String,
}

/// The result of authenticating a token.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The service account user.
    pub user: UserInfo,
    /// The token's audiences that the caller accepts.
    pub audiences: Vec<String>,
}

/// Issues and validates service account tokens.
#[derive(Debug)]
pub struct TokenIssuer {
    /// The signing key.
    pub key: SigningKey,
    /// `iss` of every token.
    pub issuer: String,
    /// Audiences of tokens that request none, and accepted by bearer authentication.
    pub audiences: Vec<String>,
    /// `jwks_uri` of the OIDC discovery document.
    pub jwks_uri: String,
}

fn seconds(now: chrono::DateTime<chrono::Utc>) -> i64 {
    now.timestamp()
}

impl TokenIssuer {
    /// An issuer whose key lives at `key_path` (made on first use), announcing `jwks_uri`.
    pub fn load_or_create(key_path: &Path, jwks_uri: String) -> Result<TokenIssuer, JwtError> {
        Ok(TokenIssuer {
            key: SigningKey::load_or_create(key_path)?,
            issuer: ISSUER.to_string(),
            audiences: API_AUDIENCES.iter().map(|s| s.to_string()).collect(),
            jwks_uri,
        })
    }

    /// Signs a token for account `ns/name` (UID `uid`), optionally bound to an object, valid for
    /// `expiration_seconds`. Returns the token and its expiry (Unix seconds).
    pub fn issue(
        &self,
        ns: &str,
        name: &str,
        uid: &str,
        bound: Option<&BoundObject>,
        audiences: &[String],
        expiration_seconds: i64,
    ) -> Result<(String, i64), JwtError> {
        let now = seconds(chrono::Utc::now());
        let exp = now + expiration_seconds;
        let mut k8s = Map::new();
        k8s.insert("namespace".into(), json!(ns));
        if let Some(b) = bound {
            let field = match b.kind.as_str() {
                "Pod" => "pod",
                "Secret" => "secret",
                _ => "node",
            };
            k8s.insert(field.into(), json!({"name": b.name, "uid": b.uid}));
        }
        k8s.insert("serviceaccount".into(), json!({"name": name, "uid": uid}));
        // Keys sorted, as go-jose writes them.
        let claims = json!({
            "aud": audiences,
            "exp": exp,
            "iat": now,
            "iss": self.issuer,
            "jti": uuid::Uuid::new_v4().to_string(),
            "kubernetes.io": k8s,
            "nbf": now,
            "sub": format!("system:serviceaccount:{ns}:{name}"),
        });
        Ok((self.key.sign(&claims)?, exp))
    }

    /// Validates a token for `audiences` (the API audiences when empty) and returns its user.
    /// Errors are upstream-like messages for `TokenReview.status.error`.
    pub fn authenticate(
        &self,
        store: &Store,
        token: &str,
        audiences: &[String],
    ) -> Result<Authenticated, String> {
        let claims = self
            .key
            .verify(token)
            .map_err(|_| "invalid bearer token".to_string())?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err("invalid bearer token".into());
        }
        let now = seconds(chrono::Utc::now());
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
        if now >= exp {
            return Err("invalid bearer token, service account token has expired".into());
        }
        if now + 60 < nbf {
            return Err("invalid bearer token, service account token is not valid yet".into());
        }
        let token_aud: Vec<String> = match claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        };
        let wanted: &[String] = if audiences.is_empty() {
            &self.audiences
        } else {
            audiences
        };
        let matched: Vec<String> = wanted
            .iter()
            .filter(|a| token_aud.contains(a))
            .cloned()
            .collect();
        if matched.is_empty() {
            return Err(format!(
                "invalid bearer token, token audiences {token_aud:?} is invalid for the target audiences {wanted:?}"
            ));
        }
        let k8s = claims.get("kubernetes.io").cloned().unwrap_or(Value::Null);
        let ns = k8s.get("namespace").and_then(Value::as_str).unwrap_or("");
        let sa_name = k8s
            .pointer("/serviceaccount/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let sa_uid = k8s
            .pointer("/serviceaccount/uid")
            .and_then(Value::as_str)
            .unwrap_or("");
        if ns.is_empty() || sa_name.is_empty() {
            return Err("invalid bearer token".into());
        }
        let sa = store
            .cache
            .get(&format!("/registry/serviceaccounts/{ns}/{sa_name}"))
            .ok_or_else(|| {
                format!("invalid bearer token, serviceaccounts \"{sa_name}\" not found")
            })?;
        let actual = sa.meta_str("uid").unwrap_or("");
        if actual != sa_uid {
            return Err(format!("invalid bearer token, service account UID ({actual}) does not match claim ({sa_uid})"));
        }
        let mut extra = BTreeMap::new();
        for (field, prefix, resource) in [
            ("pod", "/registry/pods/", "pods"),
            ("secret", "/registry/secrets/", "secrets"),
            ("node", "/registry/minions/", "nodes"),
        ] {
            let Some(r) = k8s.get(field) else { continue };
            let name = r.get("name").and_then(Value::as_str).unwrap_or("");
            let uid = r.get("uid").and_then(Value::as_str).unwrap_or("");
            let key = if field == "node" {
                format!("{prefix}{name}")
            } else {
                format!("{prefix}{ns}/{name}")
            };
            let obj = store
                .cache
                .get(&key)
                .ok_or_else(|| format!("invalid bearer token, {resource} \"{name}\" not found"))?;
            let actual = obj.meta_str("uid").unwrap_or("");
            if actual != uid {
                return Err(format!(
                    "invalid bearer token, {field} UID ({actual}) does not match claim ({uid})"
                ));
            }
            if field != "secret" {
                extra.insert(
                    format!("authentication.kubernetes.io/{field}-name"),
                    vec![name.to_string()],
                );
                extra.insert(
                    format!("authentication.kubernetes.io/{field}-uid"),
                    vec![uid.to_string()],
                );
            }
        }
        if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
            extra.insert(CREDENTIAL_ID.into(), vec![format!("JTI={jti}")]);
        }
        Ok(Authenticated {
            user: UserInfo {
                name: format!("system:serviceaccount:{ns}:{sa_name}"),
                groups: vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{ns}"),
                    "system:authenticated".into(),
                ],
                uid: sa_uid.to_string(),
                extra,
            },
            audiences: matched,
        })
    }

    /// `/.well-known/openid-configuration`.
    pub fn openid_configuration(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [super::jwt::ALGORITHM],
        })
    }
}
