//! Service account tokens for projected `serviceAccountToken` sources, requested from the API
//! server's TokenRequest (`serviceaccounts/<sa>/token`, bound to the pod) and cached per pod,
//! audience and lifetime; renewed after 80% of the lifetime (or 24 h), as upstream's token
//! manager.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount, ServiceAccountTokenProjection};
use kube::api::PostParams;
use kube::{Api, Client};
use parking_lot::Mutex;

/// The lifetime asked for when the source names none (upstream's default).
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

type Key = (String, String, i64);

/// Tokens by (pod uid, audience, expirationSeconds).
#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<Key, (String, Instant, Duration)>>,
}

impl TokenCache {
    /// The token for `src` of `pod`: the cached one while fresh, else a new one.
    pub async fn token(
        &self,
        client: &Client,
        pod: &Pod,
        src: &ServiceAccountTokenProjection,
    ) -> Result<String, String> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let audience = src.audience.clone().unwrap_or_default();
        let expiration = src.expiration_seconds.unwrap_or(DEFAULT_EXPIRATION_SECONDS);
        let key = (uid.clone(), audience.clone(), expiration);
        if let Some((token, at, ttl)) = self.tokens.lock().get(&key) {
            if at.elapsed() < (ttl.mul_f64(0.8)).min(MAX_AGE) {
                return Ok(token.clone());
            }
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let spec = pod.spec.as_ref();
        let sa = spec
            .and_then(|s| s.service_account_name.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".to_string());
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: if audience.is_empty() {
                    Vec::new()
                } else {
                    vec![audience]
                },
                expiration_seconds: Some(expiration),
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".to_string()),
                    kind: Some("Pod".to_string()),
                    name: pod.metadata.name.clone(),
                    uid: Some(uid),
                }),
            },
            ..Default::default()
        };
        let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
        let answer = api
            .create_token_request(&sa, &PostParams::default(), &request)
            .await
            .map_err(|e| format!("failed to fetch token: {e}"))?;
        let token = answer
            .status
            .map(|s| s.token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| "failed to fetch token: empty answer".to_string())?;
        let ttl = Duration::from_secs(expiration.max(1) as u64);
        self.tokens
            .lock()
            .insert(key, (token.clone(), Instant::now(), ttl));
        Ok(token)
    }

    /// Forgets the tokens of pods not in `live` (uids).
    pub fn retain(&self, live: &HashSet<String>) {
        self.tokens
            .lock()
            .retain(|(uid, _, _), _| live.contains(uid));
    }
}
