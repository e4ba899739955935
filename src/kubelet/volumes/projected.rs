//! projected volumes: configMap, secret, downwardAPI and serviceAccountToken sources merged
//! into one directory (the `kube-api-access-*` volume every pod gets is one: a token, `ca.crt`
//! from the `kube-root-ca.crt` ConfigMap and the namespace).

use k8s_openapi::api::core::v1::{Pod, ProjectedVolumeSource};
use kube::Client;

use super::atomic::Payload;
use super::payload::{file, DEFAULT_MODE};
use super::token::TokenCache;
use super::{configmap, downward_api, secret};
use crate::kubelet::downward::PodRuntimeInfo;

/// The files of a projected volume; the errors of all failing sources joined.
pub async fn volume(
    client: &Client,
    tokens: &TokenCache,
    pod: &Pod,
    src: &ProjectedVolumeSource,
    info: &PodRuntimeInfo,
) -> Result<Payload, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mode = src.default_mode.or(Some(DEFAULT_MODE));
    let mut out = Payload::new();
    let mut errors = Vec::new();
    for s in src.sources.iter().flatten() {
        let part = if let Some(cm) = &s.config_map {
            match configmap::fetch(client, ns, &cm.name).await {
                Ok(data) => configmap::payload(
                    &cm.name,
                    data.as_ref(),
                    cm.items.as_deref(),
                    mode,
                    cm.optional == Some(true),
                ),
                Err(e) => Err(e),
            }
        } else if let Some(sec) = &s.secret {
            match secret::fetch(client, ns, &sec.name).await {
                Ok(data) => secret::payload(
                    &sec.name,
                    data.as_ref(),
                    sec.items.as_deref(),
                    mode,
                    sec.optional == Some(true),
                ),
                Err(e) => Err(e),
            }
        } else if let Some(d) = &s.downward_api {
            downward_api::payload(pod, d.items.as_deref().unwrap_or_default(), mode, info)
        } else if let Some(t) = &s.service_account_token {
            tokens.token(client, pod, t).await.map(|token| {
                let m = mode.unwrap_or(DEFAULT_MODE);
                Payload::from([(t.path.clone(), file(token.as_bytes(), m))])
            })
        } else {
            // clusterTrustBundle and podCertificate sources are not supported.
            Ok(Payload::new())
        };
        match part {
            Ok(p) => out.extend(p),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join(", "))
    }
}
